#!/usr/bin/env node
// npm's `prepare` (run by npm ci / npm install in this repository and by npm pack): builds dist/
// with tsc, from scratch. With dev dependencies omitted (npm ci --omit=dev) typescript is not installed: an
// existing dist/ is kept as it is, and without one the install fails saying how to get a build —
// never a half-installed `tsvpp` that dies on its first import. Installing the packed tarball does
// not run this at all: the tarball ships dist/ (package.json "files").
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  if (existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
    console.error('tsvpp prepare: typescript is not installed (dev dependencies omitted); keeping the existing dist/');
    process.exit(0);
  }
  console.error('tsvpp prepare: dist/ is not built and typescript is not installed (dev dependencies omitted).\n' +
    '  Build once with them (npm ci, then npm prune --omit=dev to drop them again), or install the\n' +
    '  packed package (npm pack), which ships dist/.');
  process.exit(1);
}
// A clean build: tsc never deletes the output of a source that was moved or removed, and npm pack
// ships all of dist/src, dist/perf and dist/fuzz.
rmSync(join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
