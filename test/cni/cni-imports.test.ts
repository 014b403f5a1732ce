// tsvpp-cni runs for every pod ADD/DEL/CHECK: it must stay a thin forwarder. Its import graph is
// checked here; its start-up time is a perf figure (perf/cni-start.ts, in `tsvpp perf --all`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = resolve(here, '../../src/cni/cni-main.js');

/** Every module tsvpp-cni loads, following static imports of the compiled JS. */
function importGraph(entry: string): { local: string[]; external: string[] } {
  const local = new Set<string>(), external = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (local.has(f)) continue;
    local.add(f);
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) todo.push(join(dirname(f), spec));
      else external.add(spec);
    }
  }
  return { local: [...local].map((p) => p.slice(p.indexOf('/src/') + 1)).sort(), external: [...external].sort() };
}

test('tsvpp-cni loads only node builtins and its three dependency-free modules', () => {
  const g = importGraph(CNI_MAIN);
  assert.equal(g.local, ['src/cni/agent-protocol.js', 'src/cni/cni-main.js', 'src/cni/ifname.js', 'src/cni/spec.js']);
  for (const e of g.external) assert.ok(e.startsWith('node:'), `unexpected import ${e}`);
});

test.run();
