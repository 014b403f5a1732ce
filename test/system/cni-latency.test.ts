// A tiny run of the perf --all CNI ADD/DEL latency section (root: real netns, veths, taps):
// 2 pods per custom-interface count through the real tsvpp-cni, the agent and the VPP emulator.
// Checks the figures are sane (no timing thresholds beyond "finite and under a minute") and
// that nothing is left behind: no netns, no VPP pod interfaces, no veths, no temp dir. Only this
// run's names are looked at (its run id): other runs on the host may be making their own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runCniLatency } from '../../perf/harness/cni-latency.js';

const runId = randomBytes(4).toString('hex');
const ours = () => ({
  netns: readdirSync('/var/run/netns').filter((n) => n.startsWith(`tsvpp-perf-${runId}-`)),
  tmp: readdirSync(tmpdir()).filter((n) => n.startsWith(`tsvpp-perf-cni-${runId}-`)),
});

test('2 pods with 0, 1 and 3 custom interfaces: every ADD and DEL succeeds, sane p50/p99, nothing left behind', async () => {
  const rounds: number[] = [];
  let during: ReturnType<typeof ours> | undefined;
  const r = await runCniLatency({ podsPerSize: 2, runId, onRound: (i) => { rounds.push(i); during ??= ours(); } });
  assert.equal(during?.tmp.length, 1, 'the run id names the run\'s temp dir (so the check below can fail)');
  assert.equal(rounds, [1, 2, 3], 'the first round (apart) and two timed ones');
  assert.equal(r.rows.map((x) => x.customIfs), [0, 1, 3]);
  for (const x of r.rows) {
    assert.equal(x.errors, [], `${x.customIfs} custom interfaces: ${x.errors.join('; ')}`);
    assert.is(x.add.n, 2, `${x.customIfs}: ADD samples`);
    assert.is(x.del.n, 2, `${x.customIfs}: DEL samples`);
    // eth0 plus each custom interface is a tagged VPP interface while the pod exists.
    assert.equal(x.vppIfsPerPod, [1 + x.customIfs, 1 + x.customIfs, 1 + x.customIfs], `${x.customIfs}: VPP interfaces per pod (the first round's too)`);
    for (const k of ['add', 'del', 'agentAdd', 'agentDel'] as const) assert.ok((x.first[k] ?? 0) > 0, `${x.customIfs}: the first round's ${k} ${x.first[k]}`);
    assert.ok(x.first.agentAdd! < x.first.add! && x.first.agentDel! < x.first.del!, JSON.stringify(x.first));
    for (const [what, l] of [['ADD', x.add], ['DEL', x.del], ['agent ADD', x.agentAdd], ['agent DEL', x.agentDel]] as const) {
      assert.ok(l.p50 > 0 && l.p50 < 60_000, `${x.customIfs} ${what} p50 ${l.p50}`);
      assert.ok(l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max, `${x.customIfs} ${what} ${JSON.stringify(l)}`);
    }
    // The agent's part of each command is inside the command's own time.
    x.agentAddMs.forEach((a, i) => assert.ok(a < x.addMs[i]!, `${x.customIfs}: agent ${a} ms of an ADD of ${x.addMs[i]} ms`));
    x.agentDelMs.forEach((a, i) => assert.ok(a < x.delMs[i]!, `${x.customIfs}: agent ${a} ms of a DEL of ${x.delMs[i]} ms`));
  }
  assert.ok(r.rows.some((x) => x.pooledPerPod.some((n) => n > 0)), `veths the pool carried are counted: ${JSON.stringify(r.rows.map((x) => x.pooledPerPod))}`);
  // Every pod veth is a lent pool member (one made at ADD when the pool was empty): its af_packet
  // goes back to the pool at DEL, so the timed rounds delete none (each would pause forwarding).
  const veths = (x: (typeof r.rows)[number]) => x.kinds.filter((k) => k === 'veth').length + (r.eth0 === 'veth-afpacket' ? 1 : 0);
  for (const x of r.rows) assert.equal(x.pooledPerPod, x.pooledPerPod.map(() => veths(x)), `${x.customIfs}: every veth on a pool member`);
  assert.ok(r.afPackets!.first.created >= 1, JSON.stringify(r.afPackets));
  assert.is(r.afPackets!.timed.deleted, 0, `no af_packet deleted in the timed rounds: ${JSON.stringify(r.afPackets)}`);
  assert.equal(r.handedOver, [], 'every call went to the agent\'s port, none through the Node tsvpp-cni');
  assert.is(r.nodeStartMs.length, 2, 'node -e 0 once per timed round');
  assert.ok(r.load.before >= 0 && r.load.after >= 0);
  for (const [k, v] of Object.entries(r.leftovers)) assert.equal(v, [], `left behind: ${k}`);
  assert.equal(ours(), { netns: [], tmp: [] }, 'netns or temp dir left after the run');
});

test.run();
