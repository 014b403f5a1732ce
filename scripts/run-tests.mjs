#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own Node process, so that a
// crash, a leaked fd or a hung peer in one file cannot take the others with it, then prints
// the closing line CI reads: "N passed, N failed".
//
//   node scripts/run-tests.mjs [--filter REGEX] [--no-system] [--timeout SECONDS]
//
// uvu prints "Total: N / Passed: N / Skipped: N" per file; a file that exits non-zero without
// such a summary (a crash, a timeout) counts as one failure.
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
let passed = 0, failed = 0, skipped = 0;
const failures = [];

function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--enable-source-maps', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    const timer = setTimeout(() => { out += `\n[run-tests] ${file}: timed out after ${timeoutS}s\n`; child.kill('SIGKILL'); }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = strip(out);
      const total = /Total:\s+(\d+)/.exec(text);
      const pass = /Passed:\s+(\d+)/.exec(text);
      const skip = /Skipped:\s+(\d+)/.exec(text);
      let p = 0, f = 0;
      if (total && pass) { p = Number(pass[1]); f = Number(total[1]) - p - (skip ? Number(skip[1]) : 0); skipped += skip ? Number(skip[1]) : 0; }
      if (code !== 0 && f === 0) f = 1; // crashed, timed out, or failed outside a test
      if (!total && code === 0) { f = 1; out += `\n[run-tests] ${file}: ran no test\n`; }
      passed += p; failed += f;
      if (f) failures.push(`${relative('.', file)} (exit ${code ?? signal})`);
      console.log(`[run-tests] ${relative('.', file)}: ${p} passed, ${f} failed in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      resolve();
    });
  });
}

for (const f of files) await runFile(f);
if (failures.length) console.log(`\nFailed files:\n  ${failures.join('\n  ')}`);
if (skipped) console.log(`(${skipped} skipped tests count as failures)`);
failed += skipped;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || files.length === 0 ? 1 : 0);
