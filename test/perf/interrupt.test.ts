// `tsvpp perf --all` interrupted by Ctrl-C (SIGINT): the step in progress finishes, no further one
// starts, and the report of what ran is printed and written (JSON, SVG), marked interrupted; exit
// 130; none of its processes is left. A second SIGINT quits at once. Ctrl-C is sent as a terminal
// does, to the whole process group.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineProcesses } from '../../perf/peers/procs.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Processes (not zombies) whose command line names `dir`: the run's sockets are made there. */
const namingDir = (dir: string): string[] =>
  machineProcesses().filter((p) => p.argv.some((a) => a.includes(dir)) && !p.zombie()).map((p) => `${p.pid}: ${p.argv.join(' ').slice(0, 120)}`);

/**
 * Interrupts a run `delayMs` into its second step (past the start of its processes, which a
 * terminal's Ctrl-C would also reach while they are being made); with `again`, once more as soon
 * as it says it is stopping.
 */
async function interrupted(again: boolean, durationMs: number, delayMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-perf-all-int-'));
  // perf makes its socket dirs in TMPDIR: one of the test's own, named in every process it starts.
  const tmp = join(dir, 'tmp'), json = join(dir, 'r.json'), svg = join(dir, 'r.svg');
  mkdirSync(tmp);
  // A process group of its own, as a shell gives a command: Ctrl-C is SIGINT to the whole group.
  const child = spawn(process.execPath, [cli, 'perf', '--all', '--skip', 'latency,vppapi,cni,cri', '--sizes', '64', '--repeats', '3',
    '--duration-ms', String(durationMs), '--json', json, '--svg', svg], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, TMPDIR: tmp } });
  const ctrlC = () => process.kill(-child.pid!, 'SIGINT');
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const ended = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    for (const until = Date.now() + 60_000; !/\[\s*1\/\d+\]/.test(err) && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    assert.match(err, /\[\s*1\/\d+\]/, `no step finished within 60 s: ${err}`);
    await new Promise((r) => setTimeout(r, delayMs));
    ctrlC();
    if (again) {
      for (const until = Date.now() + 10_000; !/interrupted: finishing/.test(err) && Date.now() < until;) await new Promise((r) => setTimeout(r, 5));
      ctrlC();
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await ended;
    clearTimeout(timer);
    for (const until = Date.now() + 10_000; namingDir(tmp).length && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    assert.equal(namingDir(tmp), [], 'processes of the run left');
    assert.equal(readdirSync(tmp), [], 'socket dirs left');
    return { code, out, err, json: existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : null, svg: existsSync(svg) };
  } finally {
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* all gone */ }
    for (const p of namingDir(tmp)) try { process.kill(Number(p.split(':')[0]), 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Ctrl-C: the report of the steps that ran, marked interrupted, printed and written; exit 130', async () => {
  const r = await interrupted(false, 2000, 1000);
  assert.is(r.code, 130, r.err);
  assert.match(r.err, /interrupted: finishing the step in progress/);
  const m = /INTERRUPTED \(Ctrl-C\) after (\d+) of (\d+) steps: partial figures/.exec(r.out);
  assert.ok(m, `no INTERRUPTED line: ${r.out}`);
  const [done, total] = [Number(m![1]), Number(m![2])];
  assert.ok(done >= 1 && done < total, `${done} of ${total}`);
  assert.ok(r.json, 'the JSON report was written');
  assert.equal(r.json.interrupted, { stepsDone: done, steps: total });
  // Every step that ran is in the report: one figure per memif run, none made up.
  const runs = r.json.memif.reduce((n: number, row: { runs: unknown[] }) => n + row.runs.length, 0);
  assert.is(runs, done);
  // The step the Ctrl-C fell in finished cleanly: the signal reached perf, not its endpoints.
  assert.equal(r.json.memif.flatMap((row: { errors: string[] }) => row.errors), [], 'a run failed');
  assert.ok(r.svg, 'the SVG was written');
});

test('a second Ctrl-C quits at once, without a report; nothing is left', async () => {
  // Steps of 5.5 s: the second Ctrl-C lands while the second step still runs.
  const r = await interrupted(true, 5000, 2000);
  assert.ok(r.code === 130, `exit ${r.code}: ${r.err}`);
  assert.not.match(r.out, /INTERRUPTED/, r.err.slice(-1500));
  assert.is(r.json, null);
});

test.run();
