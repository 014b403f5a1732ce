// The CNI latency harnesses of `tsvpp perf --all` against a real VPP of their own (what they do
// when TSVPP_VPP is set): 2 pods per size through tsvpp-cni, 2 pods per network through
// containerd. Every call succeeds, the pods got the interfaces asked for, the figures are sane
// (no timing thresholds) and nothing is left in VPP or Linux.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { runCniLatency } from '../../perf/harness/cni-latency.js';
import { REFILL_QUIET_MS } from '../../src/cni/agent/veth-pool.js';
import { criVariants, runCriLatency } from '../../perf/harness/cri-latency.js';
import { POD_INTERFACES } from '../../perf/harness/latency-vswitch.js';
import type { LatencyMs } from '../../perf/harness/cni-latency.js';
import { vppPrefix } from './support/vpp.js';

const sane = (what: string, l: LatencyMs, n: number) => {
  assert.is(l.n, n, `${what} samples`);
  assert.ok(l.p50 > 0 && l.p50 < 60_000, `${what} p50 ${l.p50}`);
  assert.ok(l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max, `${what} ${JSON.stringify(l)}`);
};

test('cni-latency on real VPP: 2 pods of 0, 1, 3 custom interfaces, rounds apart; each got eth0 + its interfaces in VPP, every veth on a pool member; no af_packet deleted between rounds; nothing left', async () => {
  // Quiet between rounds for longer than REFILL_QUIET_MS: the pool keeps what the last round had.
  const r = await runCniLatency({ podsPerSize: 2, vswitch: { kind: 'vpp', prefix: vppPrefix() }, gapMs: 2 * REFILL_QUIET_MS });
  assert.match(r.vswitch, /^VPP /);
  assert.is(r.eth0, POD_INTERFACES.vpp.eth0);
  for (const row of r.rows) {
    assert.equal(row.errors, [], `${row.customIfs} custom: ${row.errors.join('; ')}`);
    sane(`${row.customIfs} custom ADD`, row.add, 2);
    sane(`${row.customIfs} custom DEL`, row.del, 2);
    assert.equal(row.vppIfsPerPod, [1 + row.customIfs, 1 + row.customIfs, 1 + row.customIfs], `${row.customIfs} custom: VPP interfaces per pod (the first round's too)`);
    assert.ok((row.first.add ?? 0) > 0 && (row.first.del ?? 0) > 0, `${row.customIfs} custom: the first round ${JSON.stringify(row.first)}`);
    const veths = row.kinds.filter((k) => k === 'veth').length + (r.eth0 === 'veth-afpacket' ? 1 : 0);
    assert.equal(row.pooledPerPod, [veths, veths, veths], `${row.customIfs} custom: every veth on a pool member`);
  }
  assert.ok(r.afPackets!.first.created >= 4, `the pool's members were made: ${JSON.stringify(r.afPackets)}`);
  assert.is(r.afPackets!.timed.deleted, 0, `no af_packet deleted in the timed rounds (DEL hands members back, the pool keeps them): ${JSON.stringify(r.afPackets)}`);
  assert.equal(r.handedOver, [], 'every call went to the agent\'s port, none through the Node tsvpp-cni');
  for (const [k, v] of Object.entries(r.leftovers)) assert.equal(v, [], `left behind: ${k}`);
});

test('cri-latency on real VPP: 2 pods per network through containerd, tsvpp and bridge; nothing left', async () => {
  const r = await runCriLatency({ pods: 2, vswitch: { kind: 'vpp', prefix: vppPrefix() } });
  assert.match(r.vswitch, /^VPP /);
  assert.equal(r.rows.map((x) => x.label), criVariants('vpp').map((v) => v.label));
  for (const x of r.rows) {
    assert.equal(x.errors, [], `${x.label}: ${x.errors.join('; ')}`);
    sane(`${x.label} Run`, x.run, 2);
    sane(`${x.label} Stop`, x.stop, 2);
    sane(`${x.label} Remove`, x.remove, 2);
  }
  for (const [k, v] of Object.entries(r.leftovers)) assert.equal(v, [], `left behind: ${k}`);
  assert.equal(r.tempDirs.filter((d) => existsSync(d)), [], 'temp dirs left after the run');
});

test.run();
