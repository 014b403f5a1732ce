// Short versions of the memif soak scenarios (perf/soak): connect/disconnect cycles in all six
// variants with fds, memfd mappings and RSS back to their starting values in both processes, and a
// 2·10^6-packet sequence-checked run against `tsvpp memif echo` in another process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCycles, CYCLE_VARIANTS } from '../../perf/soak/cycles.js';
import { runLongTraffic } from '../../perf/soak/traffic.js';
import { liveProcs } from '../../perf/peers/procs.js';

test('memif connect/disconnect: 200 cycles x 6 variants, no fd, mapping or RSS growth in either process', async () => {
  const r = await runCycles({ cycles: 200 });
  assert.equal(r.problems, []);
  assert.ok(r.ok);
  for (const v of CYCLE_VARIANTS) {
    assert.is(r.figures[`${v} fd delta`], 0, v);
    assert.ok(Number(r.figures[`${v} cycles/s`]) > 0, v);
  }
  for (const v of CYCLE_VARIANTS.filter((x) => !x.startsWith('in-process'))) assert.is(r.figures[`${v} peer fd delta`], 0, v);
  assert.equal(liveProcs(), [], 'the cycle peers were stopped');
});

test('memif-traffic --short: 2,000,000 packets to tsvpp memif echo, none lost, corrupted or duplicated', async () => {
  const r = await runLongTraffic({ peer: 'self', packets: 2_000_000 });
  assert.equal(r.problems, []);
  assert.is(r.figures.echoed, 2_000_000);
  assert.is(r.figures.lost, 0);
  assert.is(r.figures.corrupted, 0);
  assert.equal(liveProcs(), []);
});

test.run();
