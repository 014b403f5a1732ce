// The test runner's verdict is what CI trusts: scripts/run-tests.mjs is run here on small
// generated test files in a temp dir, and what did not run (test.skip, tests a test.only left
// out, a file with no test) must count as failed, per file, in the closing line and in the exit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const runner = join(root, 'scripts', 'run-tests.mjs');

const HEAD = `import { test } from 'uvu';\nimport * as assert from 'uvu/assert';\n`;
const FILES: Record<string, string> = {
  pass: `${HEAD}test('a', () => assert.ok(true));\ntest('b', () => assert.ok(true));\ntest.run();\n`,
  fail: `${HEAD}test('a', () => assert.ok(true));\ntest('b', () => assert.is(1, 2));\ntest.run();\n`,
  skip: `${HEAD}test('a', () => assert.ok(true));\ntest.skip('b', () => assert.ok(true));\ntest.run();\n`,
  only: `${HEAD}test('a', () => assert.ok(true));\ntest('b', () => assert.ok(true));\ntest.only('c', () => assert.ok(true));\ntest.run();\n`,
  empty: `${HEAD}test.run();\n`,
  nouvu: `console.log('Total: 1 / Passed: 1 is what a test may print; this file never runs uvu');\n`,
  crash: `${HEAD}test('a', () => assert.ok(true));\ntest.run();\nsetTimeout(() => { throw new Error('after the summary'); }, 50);\n`,
};

interface Run { code: number; out: string }

/** Runs the runner in a fresh tree holding dist/test/<name>.test.js for each name. */
async function runOn(names: string[]): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-runner-'));
  try {
    mkdirSync(join(dir, 'dist', 'test'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    for (const n of names) writeFileSync(join(dir, 'dist', 'test', `${n}.test.js`), FILES[n]);
    return await new Promise((resolve) => {
      execFile(process.execPath, [runner], { cwd: dir, timeout: 60_000 }, (e, stdout, stderr) => {
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: stdout + stderr });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const closing = (out: string) => /^(\d+) passed, (\d+) failed$/m.exec(out.trimEnd().split('\n').pop()!)?.slice(1).map(Number);
const fileLine = (out: string, name: string) =>
  new RegExp(`\\[run-tests\\] dist/test/${name}\\.test\\.js: (-?\\d+) passed, (-?\\d+) failed`).exec(out)?.slice(1).map(Number);

test('a file whose tests all pass passes', async () => {
  const r = await runOn(['pass']);
  assert.equal(fileLine(r.out, 'pass'), [2, 0], r.out);
  assert.equal(closing(r.out), [2, 0], r.out);
  assert.is(r.code, 0, r.out);
});

test('a failing test fails the file and the run', async () => {
  const r = await runOn(['fail']);
  assert.equal(fileLine(r.out, 'fail'), [1, 1], r.out);
  assert.equal(closing(r.out), [1, 1], r.out);
  assert.is(r.code, 1, r.out);
});

test('a test.skip counts as a failure in the file line, the closing line and the exit status', async () => {
  const r = await runOn(['skip']);
  assert.equal(fileLine(r.out, 'skip'), [1, 1], r.out);
  assert.equal(closing(r.out), [1, 1], r.out);
  assert.is(r.code, 1, r.out);
  assert.match(r.out, /skip\.test\.js: 1 test\(s\) skipped or left out by \.only/);
});

test('tests left out by test.only count as failures', async () => {
  const r = await runOn(['only']);
  assert.equal(fileLine(r.out, 'only'), [1, 2], r.out);
  assert.equal(closing(r.out), [1, 2], r.out);
  assert.is(r.code, 1, r.out);
});

test('a file that registers no test fails, with or without uvu', async () => {
  const r = await runOn(['empty', 'nouvu']);
  assert.equal(fileLine(r.out, 'empty'), [0, 1], r.out);
  assert.equal(fileLine(r.out, 'nouvu'), [0, 1], r.out);
  assert.match(r.out, /empty\.test\.js: registered no test/);
  assert.match(r.out, /nouvu\.test\.js: registered no test/);
  assert.equal(closing(r.out), [0, 2], r.out);
  assert.is(r.code, 1, r.out);
});

test('a crash after every test passed still fails the file', async () => {
  const r = await runOn(['crash']);
  assert.equal(fileLine(r.out, 'crash'), [1, 1], r.out);
  assert.is(r.code, 1, r.out);
});

test('the closing line adds every file up', async () => {
  const r = await runOn(['pass', 'skip', 'only', 'empty', 'fail']);
  assert.equal(closing(r.out), [2 + 1 + 1 + 0 + 1, 0 + 1 + 2 + 1 + 1], r.out);
  assert.is(r.code, 1, r.out);
});

test.run();
