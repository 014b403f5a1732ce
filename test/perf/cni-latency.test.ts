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
  customIfs: n, kinds, add: latencyMs([add, add * 2]), del: latencyMs([del]), vppIfsPerPod: [1 + n], errors: n === 3 ? ['DEL exited 1: boom'] : [],
});

test('the report has one CNI latency row per custom-interface count with ADD/DEL p50 and p99', () => {
  const cniLatency: CniLatencyReport = {
    podsPerSize: 2, eth0: 'tap', leftovers: {},
    rows: [row(0, [], 100, 50), row(1, ['memif'], 120, 60), row(3, ['tap', 'veth', 'memif'], 300, 150)],
  };
  const r: PerfReport = {
    tool: 'tsvpp perf --all', startedAt: '2026-01-01T00:00:00.000Z', seconds: 1,
    machine: { cpu: 'x', cores: 2, kernel: 'Linux k', node: 'v20', arch: 'x64' },
    options: { full: false, repeats: 1, durationMs: 1, pinned: false, testpmd: false }, notes: [], memif: [], latency: [], cniLatency,
  };
  const text = formatReport(r);
  assert.match(text, /CNI: ADD and DEL latency, ms, for pods with 0, 1, 3 custom interfaces \(emulator;.*2 pods each\)/);
  const lines = text.split('\n');
  const at = (prefix: string) => lines.find((l) => l.startsWith(prefix))?.split(/\s{2,}/);
  assert.equal(at('0 ')?.slice(1, 6), ['150.0', '200.0', '50.0', '50.0', '2/1']);
  assert.equal(at('1 (memif)')?.slice(1, 6), ['180.0', '240.0', '60.0', '60.0', '2/1']);
  assert.equal(at('3 (tap, veth, memif)')?.slice(1, 7), ['450.0', '600.0', '150.0', '150.0', '2/1', 'DEL exited 1: boom']);
  assert.not.match(formatReport({ ...r, cniLatency: undefined }), /ADD and DEL latency/);
});

test.run();
