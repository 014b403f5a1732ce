// Replays every saved counterexample of every fuzz target (fuzz/corpus/<target>/*.json): once a
// fuzzer found a bug, its shrunk input is checked forever after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { TARGETS } from '../../fuzz/targets.js';
import { loadCorpus } from '../../fuzz/common.js';

for (const t of TARGETS) {
  test(`corpus ${t.name}: every saved entry holds`, async () => {
    assert.ok(existsSync(t.corpusDir), `${t.corpusDir} exists`);
    const entries = loadCorpus(t.corpusDir);
    assert.ok(entries.length > 0, `${t.name} has a seed corpus`);
    for (const { file, entry } of entries) {
      assert.type(entry.property, 'string', `${file} names its property`);
      const problem = await t.replay(entry);
      assert.is(problem, undefined, `${file}: ${problem}`);
    }
  });
}

test('a corpus entry that does not hold is reported', async () => {
  const annotations = TARGETS.find((t) => t.name === 'cni-annotations')!;
  const ring = TARGETS.find((t) => t.name === 'memif-ring')!;
  // Inputs that break the checks themselves (not the code under test) must come back as problems.
  assert.type(await annotations.replay({ property: 'parse', input: 'x/tap' }), 'undefined');
  assert.type(await ring.replay({ property: 'hostile', case: { log2: 99, bufferSize: 64, layout: 'libmemif', queues: 1, allowPartialChains: false, actions: [] } }), 'string');
});

test.run();
