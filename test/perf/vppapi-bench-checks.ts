// What a run of the VPP API client benchmark (perf/vppapi-client.ts) must hold whatever its peer:
// shared by test/perf/vppapi-bench.test.ts (emulator, reflector) and test/vpp/api-bench.test.ts.
import * as assert from 'uvu/assert';
import type { BenchResult } from '../../perf/vppapi-client.js';
import { STAGES } from '../../perf/vppapi-profile.js';

/** What every run must hold, whatever the peer. */
export function assertFigures(r: BenchResult, windows: number[]): void {
  assert.equal(r.figures.map((f) => f.window), windows, 'one figure per window, in order');
  for (const f of r.figures) {
    const at = `window ${f.window}`;
    assert.ok(Number.isFinite(f.perSec) && f.perSec > 0, `${at}: ${f.perSec} round trips/s`);
    assert.ok(f.clientUsPerOp > 0 && f.clientBusy > 0, `${at}: client CPU ${f.clientUsPerOp} µs/op, busy ${f.clientBusy}`);
    // One request per write at most once nothing else is in flight; never fewer than one.
    assert.ok(f.perWrite >= 1 && f.perRead >= 1, `${at}: ${f.perWrite} requests per write, ${f.perRead} replies per read`);
    if (f.window === 1) assert.ok(f.perWrite < 1.01, `one in flight, yet ${f.perWrite} requests per write`);
    // Local peers (emulator, reflector, a VPP on this machine) have their CPU read from /proc.
    assert.ok(f.peerBusy !== null && f.peerBusy >= 0, `${at}: peer busy ${f.peerBusy}`);
  }
  const top = r.figures.filter((f) => f.window > 1).pop()!;
  assert.is(r.pipelinedPerSec, top.perSec);
  assert.is(r.window, top.window);
  assert.is(r.sequentialPerSec, r.figures.find((f) => f.window === 1)!.perSec);
}

/** The profile: known stages, shares that add up, largest first, the client's own work in it. */
export function assertBreakdown(r: BenchResult): void {
  const b = r.breakdown;
  assert.ok(b && b.length > 0, 'a breakdown with --profile');
  for (const s of b) assert.ok((STAGES as readonly string[]).includes(s.stage) && s.share > 0 && s.share <= 1, JSON.stringify(s));
  const sum = b.reduce((a, s) => a + s.share, 0);
  assert.ok(Math.abs(sum - 1) < 1e-6, `shares add up to ${sum}`);
  assert.equal([...b].sort((x, y) => y.share - x.share).map((s) => s.stage), b.map((s) => s.stage), 'largest first');
  // A sampling profile of a short run against a slow peer (the emulator: the client ~95% idle) may
  // catch none of one stage: any of the client's own stages will do.
  const own: readonly string[] = ['encode', 'decode', 'framing', 'socket write (Node streams + syscall)', 'socket read (Node streams)', 'client bookkeeping', 'promises and ticks'];
  assert.ok(b.some((s) => own.includes(s.stage)), `none of the client's own work in ${b.map((s) => s.stage).join(', ')}`);
}

