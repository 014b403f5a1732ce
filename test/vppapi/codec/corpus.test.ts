import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiRegistry } from '../../../src/vppapi/codec/index.js';
import { replayEntry, type CorpusEntry } from '../../../fuzz/vppapi.js';
import { API_DIR, ROOT } from './fixtures.js';

// Every counterexample the fuzzer ever saved (plus hand-written seeds) must hold now.
const reg = ApiRegistry.fromDir(API_DIR);
const dir = join(ROOT, 'fuzz', 'corpus', 'vppapi');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('the corpus is present', () => {
  assert.ok(files.length >= 6, `${files.length} corpus files`);
});

for (const f of files) {
  test(`corpus ${f}`, () => {
    const e = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CorpusEntry;
    assert.is(replayEntry(reg, e), undefined);
  });
}

test('replay reports a property that does not hold', () => {
  // An encode that must fail (u8 out of range) is reported, not swallowed.
  const bad: CorpusEntry = { property: 'roundtrip', kind: 'message', name: 'memif_create', value: { rx_queues: 256 }, error: '' };
  assert.match(replayEntry(reg, bad) ?? '', /memif_create\.rx_queues: 256 out of range for u8/);
});

test.run();
