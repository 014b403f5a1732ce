import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { genMain, main, vectorsMain } from '../../../src/cli/api-codec.js';
import { API_DIR, VECTOR_DIR } from './fixtures.js';

async function capture(f: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, err] = [console.log, console.error];
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try {
    const code = await f();
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
  }
}

test('vectors: all fixture vectors pass', async () => {
  const files = readdirSync(VECTOR_DIR).map((f) => join(VECTOR_DIR, f));
  const r = await capture(() => vectorsMain(['--api-dir', API_DIR, ...files]));
  assert.is(r.code, 0);
  assert.is(r.out.trim().split('\n').at(-1), '2045 passed, 0 failed');
});

test('vectors: a corrupted vector is named with its first differing byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-vec-'));
  try {
    const lines = readFileSync(join(VECTOR_DIR, 'memif.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"name": "memif_create"'));
    const good = JSON.parse(lines[0]!);
    const bad = { ...good, hex: good.hex.slice(0, 20) + (good.hex[20] === 'f' ? '0' : 'f') + good.hex.slice(21) };
    const file = join(dir, 'v.jsonl');
    writeFileSync(file, [JSON.stringify(good), JSON.stringify(bad), ''].join('\n'));
    const r = await capture(() => vectorsMain(['--api-dir', API_DIR, file]));
    assert.is(r.code, 1);
    assert.match(r.out, `FAIL memif/memif_create#${good.instance} (first differing byte 10)`);
    assert.is(r.out.trim().split('\n').at(-1), '1 passed, 1 failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vectors and gen: usage errors exit 2', async () => {
  assert.is((await capture(() => vectorsMain([]))).code, 2);
  assert.is((await capture(() => genMain(['--api-dir', API_DIR]))).code, 2);
  assert.is((await capture(() => main(['nope']))).code, 2);
});

test('gen: one file per requested module plus index', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-gen-cli-'));
  try {
    const r = await capture(() => main(['gen', '--api-dir', API_DIR, '--out', dir, '--module', 'memif', '--module', 'interface_types']));
    assert.is(r.code, 0, r.out);
    assert.equal(readdirSync(dir).sort(), ['index.ts', 'interface_types.ts', 'memif.ts']);
    assert.match(readFileSync(join(dir, 'memif.ts'), 'utf8'), "import type { InterfaceIndex, IfStatusFlags } from './interface_types.js';");
    const bad = await capture(() => genMain(['--api-dir', API_DIR, '--out', dir, '--module', 'no_such_module']));
    assert.is(bad.code, 1);
    assert.match(bad.out, 'unknown module no_such_module');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
