// The import graph of the sources, checked against the architecture README.md describes:
//   cli → tools (perf/, fuzz/) → testing → cni → (vppapi, memif) → sys
// no file of the product (src/, perf/, fuzz/: what `tsvpp` ships) imports test/, memif and vppapi
// never import each other, only src/sys loads koffi, the pure parts (memif/ring, vppapi/codec) make
// no system calls, and the product imports only node builtins and package.json's dependencies (so an
// install without dev dependencies works). Reads the .ts sources, so it needs no build.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = [resolve(here, '../..'), resolve(here, '../../..')].find((d) => statSafe(join(d, 'package.json')) && statSafe(join(d, 'src')))!;

function statSafe(p: string): boolean {
  try { statSync(p); return true; } catch { return false; }
}

type Layer = 'sys' | 'memif' | 'vppapi' | 'cni' | 'testing' | 'flags' | 'tools' | 'cli' | 'test';

/** The layer of a repository path (posix, relative to the root), or null when it has none. */
function layerOf(path: string): Layer | null {
  if (path === 'src/flags.ts') return 'flags';
  const m = /^src\/(sys|memif|vppapi|cni|testing|cli)\//.exec(path);
  if (m) return m[1] as Layer;
  if (/^(perf|fuzz)\//.test(path)) return 'tools';
  if (path.startsWith('test/')) return 'test';
  return null;
}

/** Which layers each layer may import (itself included). flags imports nothing, so anyone may use it. */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  sys: ['sys'],
  memif: ['memif', 'sys'],
  vppapi: ['vppapi', 'sys'],
  cni: ['cni', 'vppapi', 'memif', 'sys', 'flags'],
  testing: ['testing', 'cni', 'vppapi', 'memif', 'sys', 'flags'],
  tools: ['tools', 'testing', 'cni', 'vppapi', 'memif', 'sys', 'flags'],
  cli: ['cli', 'tools', 'testing', 'cni', 'vppapi', 'memif', 'sys', 'flags'],
  flags: [],
  test: ['test', 'cli', 'tools', 'testing', 'cni', 'vppapi', 'memif', 'sys', 'flags'],
};

const PRODUCT: readonly Layer[] = ['sys', 'memif', 'vppapi', 'cni', 'testing', 'flags', 'tools', 'cli'];

interface Edge { from: string; to: string; spec: string; typeOnly: boolean }

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = `${dir}/${name}`;
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...sources(p));
    else if ((p.endsWith('.ts') || p.endsWith('.cts')) && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Static imports and re-exports (with whether they are type-only) and dynamic import('...') of literal paths. */
function imports(file: string): { spec: string; typeOnly: boolean }[] {
  const src = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of src.matchAll(/(?:^|[\n;])\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/g)) {
    out.push({ spec: m[3]!, typeOnly: Boolean(m[2]) });
  }
  for (const m of src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

const files = ['src', 'perf', 'fuzz', 'test'].flatMap(sources);
const edges: Edge[] = [];
const bare = new Map<string, Set<string>>(); // package → product files importing it at run time
for (const f of files) {
  for (const { spec, typeOnly } of imports(f)) {
    if (spec.startsWith('.')) {
      const to = relative(ROOT, resolve(ROOT, dirname(f), spec)).split('\\').join('/').replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts');
      edges.push({ from: f, to, spec, typeOnly });
    } else if (!spec.startsWith('node:') && !typeOnly && PRODUCT.includes(layerOf(f)!)) {
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      (bare.get(pkg) ?? bare.set(pkg, new Set()).get(pkg)!).add(f);
    }
  }
}

test('the parser sees the imports (sanity: known edges are found)', () => {
  assert.ok(files.length > 150, `only ${files.length} source files found under ${ROOT}`);
  assert.ok(edges.some((e) => e.from === 'src/cli/main.ts' && e.to === 'src/cli/perf.ts'), 'dynamic import in src/cli/main.ts not seen');
  assert.ok(edges.some((e) => e.from === 'src/memif/socket/master.ts' && e.to === 'src/sys/index.ts'), 'static import in master.ts not seen');
  assert.ok(bare.get('koffi')?.size, 'the koffi import in src/sys not seen');
});

test('every source file belongs to a layer of the architecture', () => {
  const stray = files.filter((f) => layerOf(f) === null);
  assert.equal(stray, [], 'files outside the layers: place them in one (and in README.md\'s architecture block)');
});

test('no product file imports test/ and every import points down cli → tools → testing → cni → (vppapi, memif) → sys', () => {
  const bad = edges
    .filter((e) => !MAY_IMPORT[layerOf(e.from)!].includes(layerOf(e.to) ?? ('?' as Layer)))
    .map((e) => `${e.from} (${layerOf(e.from)}) imports ${e.spec} (${layerOf(e.to) ?? 'outside every layer'})`);
  assert.equal(bad, []);
});

test('every relative import names an existing file', () => {
  const missing = edges.filter((e) => !/\$\{/.test(e.spec) && !statSafe(join(ROOT, e.to))).map((e) => `${e.from}: ${e.spec}`);
  assert.equal(missing, []);
});

test('memif/ring and vppapi/codec are pure computation: they import no src/sys', () => {
  const bad = edges.filter((e) => /^src\/(memif\/ring|vppapi\/codec)\//.test(e.from) && layerOf(e.to) === 'sys').map((e) => `${e.from} → ${e.spec}`);
  assert.equal(bad, []);
});

test('only src/sys loads koffi (the one FFI)', () => {
  const users = [...(bare.get('koffi') ?? [])].filter((f) => !f.startsWith('src/sys/'));
  assert.equal(users, []);
});

test('the product imports only node builtins and package.json dependencies (so --omit=dev installs work)', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const undeclared = [...bare].filter(([name]) => !deps.has(name)).map(([name, by]) => `${name} (imported by ${[...by].sort().join(', ')})`);
  assert.equal(undeclared, []);
});

test.run();
