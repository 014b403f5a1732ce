// The CRI pod sandbox latency section's report: one row per network with Run/Stop p50, p99 and
// the ratio to bridge's median, and the goal line. The run itself is test/system/cri-latency.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { latencyMs } from '../../perf/harness/cni-latency.js';
import { criVariants, ratioToBridge, type CriLatencyReport } from '../../perf/harness/cri-latency.js';

const CRI_VARIANTS = criVariants('emulator');
import { formatReport } from '../../perf/report/table.js';
import type { PerfReport } from '../../perf/report/model.js';

const row = (i: number, run: number[], stop: number[], errors: string[] = []) => ({
  label: CRI_VARIANTS[i]!.label, run: latencyMs(run), stop: latencyMs(stop), remove: latencyMs([10]), errors,
});
const cri = (tsvppRun: number): CriLatencyReport => ({
  vswitch: 'emulator', pods: 2, runtime: 'containerd 1.6.20~ds1', eth0: 'veth-afpacket', leftovers: {}, tempDirs: [],
  rows: [row(0, [200, 220], [100, 100]), row(1, [tsvppRun, tsvppRun], [150, 170]), row(2, [500, 700], [300, 300], ['StopPodSandbox: boom'])],
});
const report = (c?: CriLatencyReport): PerfReport => ({
  tool: 'tsvpp perf --all', startedAt: '2026-01-01T00:00:00.000Z', seconds: 1,
  machine: { cpu: 'x', cores: 2, kernel: 'Linux k', node: 'v20', arch: 'x64' },
  options: { full: false, repeats: 1, durationMs: 1, pinned: false, testpmd: false }, notes: [], memif: [], latency: [], ...(c ? { criLatency: [c] } : {}),
});

test('ratioToBridge divides a network\'s median by bridge\'s', () => {
  const c = cri(315);
  assert.is(ratioToBridge(c, CRI_VARIANTS[1]!.label, 'run'), 1.5);
  assert.is(ratioToBridge(c, CRI_VARIANTS[2]!.label, 'stop'), 3);
  assert.ok(Number.isNaN(ratioToBridge({ ...c, rows: c.rows.slice(1) }, CRI_VARIANTS[1]!.label, 'run')));
});

test('the report: one row per network with Run/Stop p50, p99 and x bridge, and the goal met or MISSED', () => {
  const text = formatReport(report(cri(315)));
  assert.match(text, /CRI: pod sandbox latency through containerd 1\.6\.20~ds1 \+ runc, ms, tsvpp \(emulator, eth0 veth-afpacket\) vs Debian's bridge plugin, 2 pods each/);
  const lines = text.split('\n');
  const at = (prefix: string) => lines.find((l) => l.startsWith(prefix))?.split(/\s{2,}/);
  assert.equal(at('bridge (Debian')?.slice(1, 9), ['210', '220', '1.00x', '100', '100', '1.00x', '10', '2/2/1']);
  assert.equal(at('tsvpp eth0 ')?.slice(1, 9), ['315', '315', '1.50x', '160', '170', '1.60x', '10', '2/2/1']);
  assert.equal(at('tsvpp eth0 +')?.slice(1, 10), ['600', '700', '2.86x', '300', '300', '3.00x', '10', '2/2/1', 'StopPodSandbox: boom']);
  assert.match(text, 'goal: RunPodSandbox with tsvpp (eth0) within 1.5x of bridge: 1.50x, met');
  assert.match(formatReport(report(cri(316))), 'within 1.5x of bridge: 1.50x, MISSED');
  assert.not.match(formatReport(report()), /CRI: pod sandbox/);
});

test.run();
