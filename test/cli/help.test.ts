// Every tsvpp command answers --help (and -h) with its usage on stdout and exit 0. The command
// list is read from `tsvpp help` itself, so a command added there is covered here too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run { code: number; out: string; err: string }
function tsvpp(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 30_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
    });
  });
}

/** The command words of each line under "commands:" in `tsvpp help` ("memif echo", "fuzz", …). */
async function advertised(): Promise<string[]> {
  const r = await tsvpp(['help']);
  assert.is(r.code, 0, r.err);
  const section = r.out.split('\ncommands:\n')[1]!.split('\n\n')[0]!;
  // "  memif echo            a memif endpoint…", "  fuzz TARGET           fuzz a codec…"
  return section.split('\n').map((l) => l.trim().split(/\s{2,}/)[0]!.split(' ').filter((w) => /^[a-z][a-z-]*$/.test(w)).join(' '));
}

test('tsvpp help lists the commands', async () => {
  const cmds = await advertised();
  for (const c of ['perf', 'memif echo', 'api call', 'api vectors', 'api gen', 'fuzz', 'soak', 'agent', 'memif-agent', 'help']) {
    assert.ok(cmds.includes(c), `'${c}' in ${JSON.stringify(cmds)}`);
  }
});

test('every command, subcommand and command group answers --help and -h with its usage, exit 0', async () => {
  const cmds = (await advertised()).filter((c) => c !== 'help');
  // Forms that take a further word or a mode flag before their own flags.
  const more = ['perf --all', 'agent pods', 'fuzz list', 'fuzz replay', 'soak memif-cycles', 'api', 'memif'];
  const runs = [...cmds, ...more].flatMap((c) => ['--help', '-h'].map((h) => ({ c, h })));
  const problems: string[] = [];
  // Four at a time: each is a Node start-up.
  for (let i = 0; i < runs.length; i += 4) {
    await Promise.all(runs.slice(i, i + 4).map(async ({ c, h }) => {
      const words = c.split(' ');
      const r = await tsvpp([...words, h]);
      const head = `usage: tsvpp ${words[0]}`;
      if (r.code !== 0) problems.push(`tsvpp ${c} ${h}: exit ${r.code}: ${r.err.trim()}`);
      else if (!r.out.startsWith(head)) problems.push(`tsvpp ${c} ${h}: stdout does not start with '${head}': ${r.out.slice(0, 80)}`);
      else if (r.err !== '') problems.push(`tsvpp ${c} ${h}: wrote to stderr: ${r.err.trim()}`);
    }));
  }
  assert.equal(problems, []);
});

test('tsvpp help CMD is CMD --help', async () => {
  const a = await tsvpp(['help', 'api', 'gen']);
  const b = await tsvpp(['api', 'gen', '--help']);
  assert.is(a.code, 0);
  assert.is(a.out, b.out);
  assert.match(a.out, /--module NAME/);
});

test('a command group without a command, or a command that is not there, is a usage error (exit 2)', async () => {
  const g = await tsvpp(['api']);
  assert.is(g.code, 2);
  assert.match(g.err, /api call/);
  const u = await tsvpp(['api', 'nope']);
  assert.is(u.code, 2);
  assert.match(u.err, /unknown command 'api nope'/);
});

test('perf does not run on a stray argument (it used to ignore it and start a run)', async () => {
  const r = await tsvpp(['perf', 'extra']);
  assert.is(r.code, 2);
  assert.match(r.err, /unexpected argument 'extra'/);
});

test('perf takes a count or a time, not both, and no time too short to measure', async () => {
  const both = await tsvpp(['perf', '--packets', '5', '--duration-ms', '300']);
  assert.is(both.code, 2);
  assert.match(both.err, /--packets and --duration-ms: give one/);
  const short = await tsvpp(['perf', '--duration-ms', '50']);
  assert.is(short.code, 2);
  assert.match(short.err, /--duration-ms must be at least 100, got 50/);
});

test.run();
