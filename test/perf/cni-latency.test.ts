// The CNI ADD/DEL latency section's pure parts: statistics, the size order per round, the
// report table. The run itself (root, netns) is tested in test/system/cni-latency.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CNI_LATENCY_SIZES, latencyMs, roundOrder, type CniLatencyReport } from '../../perf/harness/cni-latency.js';
import { formatReport } from '../../perf/report/table.js';
import type { PerfReport } from '../../perf/report/model.js';

test('latencyMs: nearest-rank p99, median of an even count, min/max, empty is NaN', () => {
  const xs = Array.from({ length: 20 }, (_, i) => 20 - i); // 20..1, unsorted
  assert.equal(latencyMs(xs), { p50: 10.5, p99: 20, min: 1, max: 20, n: 20 });
  const l = latencyMs([]);
  assert.ok(Number.isNaN(l.p50) && Number.isNaN(l.p99) && l.n === 0);
});

test('roundOrder rotates the sizes so each size goes first equally often', () => {
  const first = new Map<number, number>();
  for (let r = 0; r < 6; r++) {
    const o = roundOrder(r);
    assert.equal([...o].sort((a, b) => a - b), [...CNI_LATENCY_SIZES]);
    first.set(o[0]!, (first.get(o[0]!) ?? 0) + 1);
  }
  assert.equal([...first.values()], [2, 2, 2]);
});

const row = (n: 0 | 1 | 3, kinds: string[], add: number, del: number) => ({
  customIfs: n, kinds, add: latencyMs([add, add * 2]), del: latencyMs([del]), addMs: [add, add * 2], delMs: [del],
  agentAdd: latencyMs([add / 4]), agentDel: latencyMs([del / 5, del / 2]), agentAddMs: [add / 4], agentDelMs: [del / 5, del / 2],
  vppIfsPerPod: [1 + n], pooledPerPod: [0], madePerPod: [0], first: n === 3 ? { add: add * 3, agentAdd: add } : { add: add * 3, del: del * 3, agentAdd: add, agentDel: del }, errors: n === 3 ? ['DEL exited 1: boom'] : [],
});
const nodeStart = latencyMs([40, 60]);

test('the report has, per vswitch, one CNI latency row per custom-interface count with ADD/DEL p50 and p99, and the load', () => {
  const emulator: CniLatencyReport = {
    vswitch: 'emulator', podsPerSize: 2, eth0: 'tap', vethPool: 4, load: { before: 3.5, after: 4.25 }, nodeStart, nodeStartMs: [40, 60], leftovers: {},
    rows: [row(0, [], 100, 50), row(1, ['memif'], 120, 60), row(3, ['tap', 'veth', 'memif'], 300, 150)],
  };
  const vpp: CniLatencyReport = {
    vswitch: 'VPP 26.10', podsPerSize: 3, eth0: 'veth-afpacket', vethPool: 0, load: { before: 1, after: 2 }, nodeStart, nodeStartMs: [40, 60], leftovers: {},
    afPackets: { first: { created: 7, deleted: 1 }, timed: { created: 2, deleted: 0 } },
    rows: [row(0, [], 10, 5), row(1, ['memif'], 12, 6), row(3, ['veth', 'veth', 'memif'], 30, 15)],
  };
  const cniLatency = [emulator, vpp];
  const r: PerfReport = {
    tool: 'tsvpp perf --all', startedAt: '2026-01-01T00:00:00.000Z', seconds: 1,
    machine: { cpu: 'x', cores: 2, kernel: 'Linux k', node: 'v20', arch: 'x64' },
    options: { full: false, repeats: 1, durationMs: 1, pinned: false, testpmd: false }, notes: [], memif: [], latency: [], cniLatency,
  };
  const text = formatReport(r);
  assert.match(text, /CNI: ADD and DEL latency, ms, for pods with 0, 1, 3 custom interfaces \(emulator;.*eth0 tap; veth pool 4; 2 pods each; load average 3.5 -> 4.25\).*node -e 0 under the same load: p50 50.0, p99 60.0/);
  assert.match(text, /custom interfaces \(VPP 26.10;.*eth0 veth-afpacket; veth pool 0; 3 pods each; load average 1 -> 2\)/);
  const lines = text.split('\n');
  const at = (prefix: string) => lines.find((l) => l.startsWith(prefix))?.split(/\s{2,}/);
  assert.equal(at('0 ')?.slice(1, 8), ['150.0', '200.0', '25.0/25.0', '50.0', '50.0', '17.5/25.0', '2/1']);
  assert.equal(at('1 (memif)')?.slice(1, 8), ['180.0', '240.0', '30.0/30.0', '60.0', '60.0', '21.0/30.0', '2/1']);
  assert.equal(at('3 (tap, veth, memif)')?.slice(1, 9), ['450.0', '600.0', '75.0/75.0', '150.0', '150.0', '52.5/75.0', '2/1', 'DEL exited 1: boom']);
  assert.equal(at('3 (veth, veth, memif)')?.slice(1, 8), ['45.0', '60.0', '7.5/7.5', '15.0', '15.0', '5.3/7.5', '2/1']);
  // The first round, apart from the figures: each size's ADD and DEL ("-" where it failed).
  assert.equal(lines.filter((l) => l.startsWith('first pods after the agent started')), [
    'first pods after the agent started (round 0, not in the figures): 0 custom ADD 300.0 (agent 100.0) DEL 150.0 (agent 50.0), 1 custom ADD 360.0 (agent 120.0) DEL 180.0 (agent 60.0), 3 custom ADD 900.0 (agent 300.0) DEL - (agent -) ms',
    'first pods after the agent started (round 0, not in the figures): 0 custom ADD 30.0 (agent 10.0) DEL 15.0 (agent 5.0), 1 custom ADD 36.0 (agent 12.0) DEL 18.0 (agent 6.0), 3 custom ADD 90.0 (agent 30.0) DEL - (agent -) ms',
  ]);
  // The af_packets the agent made and deleted, where the report has them (the emulator's here has none).
  assert.equal(lines.filter((l) => l.startsWith('af_packets the agent made')), [
    'af_packets the agent made / deleted (each pauses VPP\'s forwarding): 2 / 0 in the timed rounds, 7 / 1 in round 0 and the pool\'s start',
  ]);
  assert.not.match(formatReport({ ...r, cniLatency: undefined }), /ADD and DEL latency/);
});

test.run();
