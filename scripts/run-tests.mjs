#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own Node process, so that a
// crash, a leaked fd or a hung peer in one file cannot take the others with it, then prints
// the closing line CI reads: "N passed, N failed".
//
//   node scripts/run-tests.mjs [--filter REGEX] [--no-system] [--timeout SECONDS]
//
// uvu closes each file with "Total: N / Passed: N / Skipped: N". Total leaves skipped tests out, and
// "Skipped" counts both test.skip and the tests a test.only focused away. What did not run is a
// failure: every skipped test, a file that registers no test (Total 0, or no summary at all), and
// a file that exits non-zero without a failing test (a crash, a timeout) counts as one.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const filter = new RegExp(opt('--filter', '.'));
const timeoutS = Number(opt('--timeout', '300'));
const noSystem = args.includes('--no-system');

function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// Files under a "system" folder need root, real peers (testpmd, etcd) or network namespaces.
const files = walk('dist/test').sort()
  .filter((f) => filter.test(f))
  .filter((f) => !(noSystem && /[/\\]system[/\\]|\.system\.test\.js$/.test(f)));

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
// uvu's closing summary on stdout, exactly as it writes it: a test's own output may contain the
// same words, so only the last complete block counts.
const SUMMARY = /\n  Total:     (\d+)\n  Passed:    (\d+)\n  Skipped:   (\d+)\n  Duration:  /g;
const lastSummary = (text) => { let m, v; while ((m = SUMMARY.exec(text))) v = m.slice(1).map(Number); return v; };
const note = (file, what) => console.log(`[run-tests] ${relative('.', file)}: ${what}`);
let passed = 0, failed = 0, skipped = 0;
const failures = [];

function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--enable-source-maps', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { process.stderr.write(d); });
    const timer = setTimeout(() => { note(file, `timed out after ${timeoutS}s`); child.kill('SIGKILL'); }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const summary = lastSummary(strip(stdout));
      let p = 0, f = 0, s = 0;
      if (!summary) {
        f = 1; // crashed or timed out before uvu's summary, or never called test.run()
        note(file, code === 0 ? 'registered no test' : 'ended without a test summary');
      } else {
        const [total, pass, skip] = summary;
        p = pass; s = skip;
        f = total - p + s;
        if (total + s === 0) { f = 1; note(file, 'registered no test'); }
        else if (code !== 0 && total === p) f += 1; // failed outside a test
        if (s) note(file, `${s} test(s) skipped or left out by .only`);
      }
      skipped += s;
      passed += p; failed += f;
      if (f) failures.push(`${relative('.', file)} (exit ${code ?? signal})`);
      console.log(`[run-tests] ${relative('.', file)}: ${p} passed, ${f} failed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      resolve();
    });
  });
}

for (const f of files) await runFile(f);
if (failures.length) console.log(`\nFailed files:\n  ${failures.join('\n  ')}`);
if (skipped) console.log(`(${skipped} skipped or .only-excluded tests are counted as failures above)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || files.length === 0 ? 1 : 0);
