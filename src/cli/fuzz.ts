// `tsvpp fuzz`: runs one fuzz target (or all) for a while, or replays the saved counterexamples.
import { parseFlags, UsageError } from '../flags.js';
import { TARGETS, target, type FuzzTarget } from '../../fuzz/targets.js';
import { loadCorpus } from '../../fuzz/common.js';

const usage = `usage: tsvpp fuzz TARGET|all [--seconds N] [--seed S] [--corpus DIR] [--quiet]
       tsvpp fuzz replay [TARGET]
       tsvpp fuzz list

Runs fast-check properties against TARGET for N seconds (default 60; 'all' gives each target N
seconds), printing execs/s. A failure is shrunk and saved as JSON to fuzz/corpus/<target>/ (or
--corpus DIR), which 'tsvpp fuzz replay' and the test suite replay. Exit code 1 when anything failed.

targets:
${TARGETS.map((t) => `  ${t.name.padEnd(16)}${t.what}`).join('\n')}`;

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { console.log(usage); return 0; }
  const { flags, rest } = parseFlags(argv, {
    seconds: { type: 'number', default: 60 },
    seed: { type: 'int' },
    corpus: { type: 'string' },
    quiet: { type: 'bool' },
  });
  const [what, arg, ...extra] = rest;
  if (!what) throw new UsageError(`fuzz: which target?\n\n${usage}`);
  if (what === 'list') {
    for (const t of TARGETS) console.log(`${t.name.padEnd(16)}${t.what}`);
    return 0;
  }
  if (what === 'replay') {
    if (extra.length) throw new UsageError(`fuzz replay: unexpected '${extra.join(' ')}'`);
    return replay(arg === undefined ? TARGETS : [known(arg)]);
  }
  if (arg !== undefined) throw new UsageError(`fuzz: unexpected '${rest.slice(1).join(' ')}'`);
  if (!(flags.seconds! > 0)) throw new UsageError(`--seconds must be positive; got ${flags.seconds}`);
  const targets = what === 'all' ? TARGETS : [known(what)];
  if (flags.corpus !== undefined && targets.length > 1) throw new UsageError('--corpus names one folder: use it with one target');
  const seed = flags.seed ?? Date.now() % 1_000_000_007;
  let failed = 0;
  const summary: string[] = [];
  for (const t of targets) {
    console.log(`fuzz ${t.name}: ${flags.seconds} s, seed ${seed}`);
    const r = await t.run({ seconds: flags.seconds!, seed, corpusDir: flags.corpus, verbose: !flags.quiet });
    failed += r.failures;
    summary.push(`${t.name.padEnd(16)}${String(r.execs).padStart(10)} execs  ${String(r.execsPerSec).padStart(8)} execs/s  ${r.failures} failures`);
  }
  console.log(summary.join('\n'));
  if (failed) console.log(`${failed} failure(s); replay with: tsvpp fuzz replay${targets.length === 1 ? ` ${targets[0]!.name}` : ''}`);
  return failed ? 1 : 0;
}

function known(name: string): FuzzTarget {
  const t = target(name);
  if (!t) throw new UsageError(`fuzz: unknown target '${name}' (targets: ${TARGETS.map((x) => x.name).join(', ')}, all)`);
  return t;
}

async function replay(targets: readonly FuzzTarget[]): Promise<number> {
  let bad = 0, total = 0;
  for (const t of targets) {
    for (const { file, entry } of loadCorpus(t.corpusDir)) {
      total++;
      const problem = await t.replay(entry);
      if (problem !== undefined) {
        bad++;
        console.log(`FAIL ${file}\n  ${problem.replace(/\n/g, '\n  ')}`);
      }
    }
  }
  console.log(`replayed ${total} corpus entries: ${total - bad} hold, ${bad} fail`);
  return bad ? 1 : 0;
}
