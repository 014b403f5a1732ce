// A tiny real run through the harness: two pinned tsvpp processes, one-way and ping-pong.
// Checks correctness (no loss, sequence checked, samples present), never timing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runMemifScenario, runLatencyScenario } from '../../perf/harness/memif-run.js';
import { liveProcs } from '../../perf/peers/procs.js';
import { probePlacement } from '../../perf/harness/placement.js';
import { canPin } from '../../perf/harness/machine.js';

const s = { size: 64, burst: 32, mode: 'polling' as const, queues: 1 };

test('tsvpp->tsvpp one-way: the sink checks every sequence number and loses nothing', async () => {
  const r = await runMemifScenario({ ...s, kind: 'oneway', pair: 'tsvpp->tsvpp' }, { durationMs: 200, pingCount: 10 });
  assert.is(r.error, undefined);
  assert.ok(r.mpps > 0);
  assert.is(r.lost, 0);
  assert.is(r.corrupted, 0);
  assert.is(liveProcs().length, 0, 'children stopped');
});

test('tsvpp->tsvpp one-way, 9000-byte chained packets over 2 queues in interrupt mode', async () => {
  const r = await runMemifScenario({ ...s, size: 9000, queues: 2, mode: 'interrupt', kind: 'oneway', pair: 'tsvpp->tsvpp' }, { durationMs: 200, pingCount: 10 });
  assert.is(r.error, undefined);
  assert.ok(r.gbps > 0);
  assert.is(r.lost + r.corrupted, 0);
});

test('tsvpp<->tsvpp echo and ping-pong', async () => {
  const e = await runMemifScenario({ ...s, kind: 'echo', pair: 'tsvpp<->tsvpp' }, { durationMs: 200, pingCount: 10 });
  assert.is(e.error, undefined);
  assert.ok(e.mpps > 0);
  assert.is(e.lost + e.corrupted, 0);
  const l = await runLatencyScenario({ ...s, burst: 1, kind: 'latency', pair: 'tsvpp<->tsvpp' }, { durationMs: 200, pingCount: 200 });
  assert.is(l.count, 200);
  assert.is(l.lost, 0);
  assert.ok(l.p50 > 0 && l.p50 <= l.p99 && l.p99 <= l.p999);
  assert.is(liveProcs().length, 0, 'children stopped');
});

test('the placement probe: two pinned processes pass a cache line back and forth, and both are gone after', async () => {
  assert.ok(canPin, 'this machine has two CPUs and taskset (scripts/system-deps.sh installs util-linux)');
  const p = await probePlacement(50);
  assert.ok(p, 'probed');
  assert.ok(p!.batches >= 5, `${p!.batches} batches`);
  assert.ok(p!.minUs > 0 && p!.minUs <= p!.roundTripUs && Number.isFinite(p!.roundTripUs), JSON.stringify(p));
  assert.is(liveProcs().length, 0, 'children stopped');
});

test.run();
