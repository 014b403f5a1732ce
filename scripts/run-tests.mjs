#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own Node process, so that a
// crash, a leaked fd or a hung peer in one file cannot take the others with it, then prints
// the closing line CI reads: "N passed, N failed".
//
//   node scripts/run-tests.mjs [--filter REGEX] [--no-system] [--timeout SECONDS]
//   node scripts/run-tests.mjs --vpp [--filter REGEX] [--timeout SECONDS]     (npm run test:vpp)
//
// uvu closes each file with "Total: N / Passed: N / Skipped: N". Total leaves skipped tests out, and
// "Skipped" counts both test.skip and the tests a test.only focused away. What did not run is a
// failure: every skipped test, a file that registers no test (Total 0, or no summary at all), and
// a file that exits non-zero without a failing test (a crash, a timeout) counts as one.
//
// dist/test/vpp/** runs against real VPP and only with --vpp, which needs TSVPP_VPP=PREFIX (a VPP
// install); without one it fails at once, before compiling anything, saying how to get one. With
// --vpp the runner checks the install and the system packages, compiles, runs those files, and
// after each file stops any VPP instance the file left running (instances are named t<pid>x<n>).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const filter = new RegExp(opt('--filter', '.'));
const timeoutS = Number(opt('--timeout', '300'));
const noSystem = args.includes('--no-system');
const vpp = args.includes('--vpp');
const VPP_RUN_DIR = process.env.TSVPP_VPP_RUN_DIR || '/run/tsvpp-vpp';

function preflightVpp() {
  const prefix = process.env.TSVPP_VPP;
  const fail = (msg) => { console.error(`test:vpp: ${msg}`); process.exit(2); };
  if (!prefix) {
    fail(`no VPP to test against: set TSVPP_VPP to a VPP install prefix, e.g.
  TSVPP_VPP=/opt/vpp npm run test:vpp
VPP is built from FD.io's source (github.com/FDio/vpp) with at least the plugins memif, af_packet,
tap, ping, vxlan, nat, cnat and acl; docs/vpp.md says how, and
  bash scripts/vpp-peer.sh check PREFIX
names what an install lacks. The suite needs root (it starts VPP, network namespaces and veths).`);
  }
  if (process.getuid?.() !== 0) fail('the real-VPP suite needs root (it starts VPP, network namespaces and veths)');
  const run = (cmd, a) => spawnSync(cmd, a, { stdio: 'inherit' }).status === 0;
  if (!run('bash', ['scripts/vpp-peer.sh', 'check', prefix])) fail(`TSVPP_VPP=${prefix} is not a usable VPP install (see above)`);
  if (!run('bash', ['scripts/system-deps.sh', '--vpp'])) fail('system packages are missing (see above)');
  if (!run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'])) fail('tsc failed');
}

/** Stops VPP instances a test process left running (named t<pid>x<n> by test/vpp/support/vpp.ts). */
function sweepVpp(pid, file) {
  if (!existsSync(VPP_RUN_DIR)) return;
  for (const name of readdirSync(VPP_RUN_DIR).filter((n) => n.startsWith(`t${pid}x`))) {
    console.log(`[run-tests] ${file} left VPP instance ${name}: stopping it`);
    spawnSync('bash', ['scripts/vpp-peer.sh', 'stop', process.env.TSVPP_VPP, name], { stdio: 'inherit' });
  }
}

if (vpp) preflightVpp();

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
const isVpp = (f) => /[/\\]test[/\\]vpp[/\\]/.test(f);
const files = walk('dist/test').sort()
  .filter((f) => filter.test(f))
  .filter((f) => isVpp(f) === vpp)
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
      if (vpp) sweepVpp(child.pid, relative('.', file));
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
