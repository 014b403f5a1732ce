// Every module an entry point loads, following the static and dynamic imports (and CommonJS requires) of compiled JS.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function importGraph(entry: string): { local: string[]; external: string[] } {
  const local = new Set<string>(), external = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (local.has(f)) continue;
    local.add(f);
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith('.')) todo.push(join(dirname(f), spec));
      else external.add(spec);
    }
  }
  return { local: [...local].map((p) => p.slice(p.indexOf('/src/') + 1)).sort(), external: [...external].sort() };
}
