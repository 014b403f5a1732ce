// The client benchmark's bookkeeping (no timing assertions): the stage each profiled function
// counts in, the breakdown of a synthetic profile, the per-window summaries of perf --all, and
// which peers its report judges against the goals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { breakdown, stageOf } from '../../perf/vppapi-profile.js';
import { clientRow, type ClientRow } from '../../perf/report/model.js';
import { formatReport } from '../../perf/report/table.js';
import { summarize } from '../../perf/harness/scenarios.js';
import type { BenchResult } from '../../perf/vppapi-client.js';

test('stages: codec, framing, socket, client, promises, GC, idle', () => {
  const at = (functionName: string, url: string) => stageOf({ functionName, url });
  assert.is(at('encodeInto', ''), 'encode');
  assert.is(at('writeCStr', 'file:///x/dist/src/vppapi/codec/runtime.js'), 'encode');
  assert.is(at('decodeRange', 'file:///x/dist/src/vppapi/codec/registry.js'), 'decode');
  assert.is(at('feed', 'file:///x/dist/src/vppapi/transport/frame.js'), 'framing');
  assert.is(at('writeBuffer', ''), 'socket write (Node streams + syscall)');
  assert.is(at('onStreamRead', 'node:internal/stream_base_commons'), 'socket read (Node streams)');
  assert.is(at('receive', 'file:///x/dist/src/vppapi/client/channel.js'), 'client bookkeeping');
  assert.is(at('runMicrotasks', ''), 'promises and ticks');
  assert.is(at('(garbage collector)', ''), 'GC');
  assert.is(at('(idle)', ''), 'idle (waiting for the peer)');
  assert.is(at('worker', 'file:///x/dist/perf/vppapi-client.js'), 'benchmark driver');
});

test('breakdown: self time per stage, largest first; the profiler\'s own work left out', () => {
  const nodes = [
    { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 3, 4] },
    { id: 2, callFrame: { functionName: 'encodeInto', url: '' } },
    { id: 3, callFrame: { functionName: '(idle)', url: '' } },
    { id: 4, callFrame: { functionName: 'post', url: 'node:inspector' }, children: [5] },
    { id: 5, callFrame: { functionName: 'dispatch', url: '' } },
  ];
  const b = breakdown({ nodes, samples: [2, 3, 3, 3, 5, 5], timeDeltas: [10, 10, 10, 10, 50, 50] });
  assert.equal(b.map((s) => [s.stage, s.share]), [['idle (waiting for the peer)', 0.75], ['encode', 0.25]]);
  assert.equal(b[1]!.top, ['encodeInto']);
});

const run = (perSec: number, dumpMs: number): BenchResult => ({
  peer: 'p', peerKind: 'vpp', count: 1, dump: { interfaces: 1001, ms: dumpMs, minMs: dumpMs, clientMsCpu: 1 }, breakdown: null,
  sequentialPerSec: perSec / 10, pipelinedPerSec: perSec, window: 256,
  figures: [1, 256].map((window) => ({ window, perSec: window === 1 ? perSec / 10 : perSec, clientUsPerOp: 2, clientBusy: 0.5, peerBusy: null, peerUsPerOp: null, perWrite: 1, perRead: 1 })),
});

test('perf --all client rows: every window summarised over the repeats, raw results kept', () => {
  const r = clientRow('vpp', 'p', [run(100, 5), run(300, 9), run(200, 7)]);
  assert.equal(r.windows.map((w) => [w.window, w.perSec.median, w.perSec.min, w.perSec.max]), [[1, 20, 10, 30], [256, 200, 100, 300]]);
  assert.is(r.windows[0]!.peerBusy, null);
  assert.is(r.dump!.ms.median, 7);
  assert.is(r.raw.length, 3);
});

test('perf --all report: real VPP judged against both goals, the reflector against the pipelined one, the emulator against none', () => {
  const report = (rows: ClientRow[]): string => formatReport({
    tool: 'tsvpp perf --all', startedAt: '2026-01-01T00:00:00.000Z', seconds: 1,
    machine: { cpu: 'x', cores: 2, kernel: 'Linux k', node: 'v20', arch: 'x64' },
    options: { full: false, repeats: 1, durationMs: 1, pinned: false, testpmd: false }, notes: [], memif: [], latency: [],
    vppapi: { codec: [], client: { sequentialPerSec: summarize([1]), pipelinedPerSec: summarize([1]), window: 1 }, clients: rows },
  });
  const section = (text: string, peer: string) => text.split('\n\n').find((s) => s.startsWith(`vppapi client against ${peer}:`)) ?? '';
  const text = report([clientRow('emulator', 'EMU', [run(100, 15)]), clientRow('reflector', 'REFL', [{ ...run(600_000, 1), dump: null }]), clientRow('vpp', 'VPP', [run(300_000, 15)])]);
  const emu = section(text, 'EMU'), refl = section(text, 'REFL'), vpp = section(text, 'VPP');
  assert.match(emu, /no goal against the emulator/);
  assert.not.match(emu, /goal:|MISSED|met/);
  assert.match(emu, /sw_interface_dump of 1001 interfaces: 15\.00 ms/);
  assert.match(refl, /goal: ≥ 500,000 round trips\/s pipelined: 600,000 with 256 in flight, met/);
  assert.not.match(refl, /sw_interface_dump|no goal/);
  assert.match(vpp, /goal: ≥ 500,000 round trips\/s pipelined: 300,000 with 256 in flight, MISSED \(client busy 50%: the peer was the limit\)/);
  assert.match(vpp, /sw_interface_dump of 1001 interfaces: 15\.00 ms .*; goal under 10 ms: MISSED/);
  assert.not.match(vpp, /no goal/);
});

test.run();
