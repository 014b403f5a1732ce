// Every test file registers its tests before it runs them: uvu's run() takes the tests registered
// so far, and a test registered after it never runs, and nothing says so (the file still passes,
// with the count it had). Read from the sources, so a test added below run() fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? testFiles(p) : e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Lines that register a test or a suite's test at the start of a line: test, its only and skip forms, or a suite's name, then a quoted title. */
const REGISTERS = /^(?:test|[a-z]\w*)(?:\.(?:only|skip))?\(\s*['"`]/;
const RUNS = /^\s*\w+\.run\(\);?\s*$/;

test('no test is registered after the file\'s last run()', () => {
  const files = testFiles(join(ROOT, 'test'));
  assert.ok(files.length > 50, `found ${files.length} test files under ${join(ROOT, 'test')}`);
  const late: string[] = [];
  for (const f of files) {
    const lines = readFileSync(f, 'utf8').split('\n');
    const last = lines.map((l, i) => (RUNS.test(l) ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    if (last < 0) continue; // a file that runs nothing is the runner's to report (no tests run)
    lines.slice(last + 1).forEach((l, k) => { if (REGISTERS.test(l)) late.push(`${relative(ROOT, f)}:${last + k + 2}: ${l.slice(0, 80)}`); });
  }
  assert.equal(late, [], 'registered after run(), so never run');
});

test('the check sees a test registered after run()', () => {
  const lines = ['test(\'a\', () => {});', 'test.run();', 'test(\'late\', () => {});'];
  const last = lines.findIndex((l) => RUNS.test(l));
  assert.equal(lines.slice(last + 1).filter((l) => REGISTERS.test(l)), ['test(\'late\', () => {});']);
});

test.run();
