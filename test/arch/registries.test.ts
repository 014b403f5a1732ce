// The fuzz targets, soak scenarios and perf sections are each listed once, in a registry; the
// command's help and the docs follow it. A new entry without its docs row, or a docs row whose entry
// is gone, fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS } from '../../fuzz/targets.js';
import { SCENARIOS } from '../../perf/soak/scenarios.js';
import { SECTIONS } from '../../perf/harness/sections.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const doc = (name: string) => readFileSync(join(ROOT, 'docs', name), 'utf8');
/** Names in the first column of the doc's tables ("| name |" or "| `name` ..."). */
const rowNames = (text: string) => new Set([...text.matchAll(/^\| `?([a-z][a-z0-9-]*)`?[ |]/gm)].map((m) => m[1]!));

const registries = [
  { what: 'fuzz targets', names: TARGETS.map((t) => t.name), doc: 'fuzz.md' },
  { what: 'soak scenarios', names: SCENARIOS.map((s) => s.name), doc: 'reliability.md' },
  { what: 'perf sections', names: SECTIONS.map((s) => s.name), doc: 'perf.md' },
];

for (const r of registries) {
  test(`${r.what}: unique names, each with a row in docs/${r.doc}`, () => {
    assert.equal(r.names.length, new Set(r.names).size, `duplicate names: ${r.names.join(', ')}`);
    const rows = rowNames(doc(r.doc));
    assert.equal(r.names.filter((n) => !rows.has(n)), [], `missing from docs/${r.doc}`);
  });
}

test('soak scenario rows in docs/reliability.md name only registered scenarios', () => {
  const text = doc('reliability.md');
  const table = text.slice(text.indexOf('## Scenarios'), text.indexOf('\n## ', text.indexOf('## Scenarios') + 1));
  const rows = [...rowNames(table)].filter((n) => n !== 'scenario');
  assert.equal(rows.filter((n) => !SCENARIOS.some((s) => s.name === n)), []);
});
test.run();
