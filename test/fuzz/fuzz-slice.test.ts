// A bounded slice of every fuzz target, as CI runs it: ~3 s each, no failures, and enough
// executions that the property really ran. The seed varies per run (printed on failure; set
// TSVPP_FUZZ_SEED to repeat one); counterexamples go to a temporary folder and are shown here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGETS } from '../../fuzz/targets.js';
import { openFdCount } from '../../src/sys/index.js';

const SECONDS = 3;
const seed = Number(process.env.TSVPP_FUZZ_SEED ?? Date.now() % 1_000_000_007);
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-fuzz-slice-'));

/** Least executions per property in a 3 s slice (an order of magnitude below what a laptop does). */
const MIN: Record<string, Record<string, number>> = {
  'memif-msg': { decode: 2000, roundtrip: 2000, session: 20 },
  'memif-ring': { hostile: 300 },
  'vppapi': { 'decode+roundtrip': 1000 },
  'cni-annotations': { parse: 1000 },
  'cni-invocation': { read: 1000 },
};

for (const t of TARGETS) {
  test(`fuzz slice ${t.name} (${SECONDS} s, seed ${seed}): no failures`, async () => {
    const fds0 = openFdCount();
    const r = await t.run({ seconds: SECONDS, seed, corpusDir: join(dir, t.name), verbose: false });
    const shown = r.saved.map((f) => readFileSync(f, 'utf8')).join('\n');
    assert.is(r.failures, 0, `${t.name} failed with seed ${seed}; repeat: tsvpp fuzz ${t.name} --seconds ${SECONDS} --seed ${seed}\n${shown}`);
    for (const [prop, min] of Object.entries(MIN[t.name] ?? {})) {
      const n = r.perProperty[prop] ?? 0;
      assert.ok(n >= min, `${t.name}/${prop}: ${n} execs in ${SECONDS} s, expected at least ${min}`);
    }
    assert.ok(r.execsPerSec > 0);
    assert.ok(openFdCount() <= fds0 + 2, `fds after the slice: ${openFdCount()}, before ${fds0}`); // +2: the Reactor's epoll and wake fds
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
