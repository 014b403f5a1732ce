// tsvpp soak SCENARIO: long-running reliability scenarios (perf/soak/, listed in
// perf/soak/scenarios.ts), each with a short version (--short) that CI runs. Every run prints its
// figures and appends them to a results file that `tsvpp soak summary` reads.
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, UsageError } from '../flags.js';
import { SCENARIOS, scenario, type SoakRunOptions } from '../../perf/soak/scenarios.js';
import type { SoakReport } from '../../perf/soak/common.js';

const help = (): string => `usage: tsvpp soak SCENARIO [--short] [flags]

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(18)}${s.what.join(`\n${' '.repeat(20)}`)}`).join('\n')}
  all               every scenario above in its --short form (dpdk peers when testpmd is there)
  summary           reliability summary: fuzz corpus per target, recorded soak results

flags:
  --short           the CI-sized version
  --json            print the report as JSON
  --results FILE    append the report (one JSON line) here (default: $TSVPP_SOAK_RESULTS, else
                    none); 'summary' reads it
Exit 0 when the scenario passed, 1 when it found a problem, 2 on usage errors.`;

export async function main(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    short: { type: 'bool' },
    json: { type: 'bool' },
    results: { type: 'string' },
    cycles: { type: 'int' },
    rounds: { type: 'int' },
    packets: { type: 'number' },
    peer: { type: 'string', choices: ['self', 'dpdk'], default: 'self' },
    size: { type: 'int', default: 64 },
    role: { type: 'string', choices: ['master', 'slave'], default: 'slave' },
    help: { type: 'bool' },
  });
  if (flags.help) { console.log(help()); return 0; }
  const [name, ...extra] = rest;
  const names = [...SCENARIOS.map((s) => s.name), 'all', 'summary'].join(', ');
  if (!name) throw new UsageError(`soak needs a scenario: ${names}`);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const one = name === 'all' || name === 'summary' ? null : scenario(name);
  if (one === undefined) throw new UsageError(`unknown soak scenario '${name}' (expected ${names})`);
  const chosen = one ? [one] : SCENARIOS;
  const resultsFile = flags.results ?? process.env.TSVPP_SOAK_RESULTS;
  if (name === 'summary') { console.log(summary(resultsFile)); return 0; }
  if (flags.packets !== undefined && (!Number.isSafeInteger(flags.packets) || flags.packets < 1 || flags.packets >= 2 ** 32)) {
    throw new UsageError(`--packets must be an integer from 1 to 2^32-1 (sequence numbers are u32); got ${flags.packets}`);
  }
  if (flags.cycles !== undefined && flags.cycles < 1) throw new UsageError(`--cycles must be >= 1; got ${flags.cycles}`);
  if (flags.rounds !== undefined && flags.rounds < 1) throw new UsageError(`--rounds must be >= 1; got ${flags.rounds}`);
  const short = flags.short || name === 'all';
  const opts: SoakRunOptions = {
    short, cycles: flags.cycles, rounds: flags.rounds, packets: flags.packets, size: flags.size!,
    peer: flags.peer as 'self' | 'dpdk', role: flags.role as 'master' | 'slave',
    log: (s: string) => { if (!flags.json) console.error(`soak: ${s}`); },
  };
  let ok = true;
  for (const s of chosen) {
    let r: SoakReport;
    try { r = await s.run(opts); }
    catch (e) {
      if (e instanceof UsageError) throw e;
      r = { scenario: s.name, ok: false, figures: {}, problems: [(e as Error).message], seconds: 0 };
    }
    ok &&= r.ok;
    if (resultsFile) appendFileSync(resultsFile, JSON.stringify({ ...r, at: new Date().toISOString(), short }) + '\n');
    console.log(flags.json ? JSON.stringify(r) : format(r));
  }
  return ok ? 0 : 1;
}

export function format(r: SoakReport): string {
  const lines = [`${r.scenario}: ${r.ok ? 'PASSED' : 'FAILED'} in ${r.seconds.toFixed(1)} s`];
  const w = Math.max(0, ...Object.keys(r.figures).map((k) => k.length));
  for (const [k, v] of Object.entries(r.figures)) lines.push(`  ${k.padEnd(w)}  ${v}`);
  for (const p of r.problems) lines.push(`  PROBLEM: ${p}`);
  return lines.join('\n');
}

/** Fuzz corpus entries per target (fuzz/corpus/<target>/*.json) and the last result per scenario. */
export function summary(resultsFile: string | undefined, fuzzDir = findFuzzCorpus()): string {
  const out: string[] = ['tsvpp reliability summary', ''];
  out.push('fuzz corpus (saved counterexamples and seeds, replayed by the tests):');
  if (fuzzDir && existsSync(fuzzDir)) {
    for (const t of readdirSync(fuzzDir).sort()) {
      const n = readdirSync(join(fuzzDir, t)).filter((f) => f.endsWith('.json')).length;
      out.push(`  ${t.padEnd(16)} ${n} entries`);
    }
  } else out.push('  (no fuzz/corpus found)');
  out.push('', 'soak and fault scenarios (last recorded run of each):');
  const last = new Map<string, SoakReport & { at?: string; short?: boolean }>();
  if (resultsFile && existsSync(resultsFile)) {
    for (const line of readFileSync(resultsFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try { const r = JSON.parse(line); last.set(r.scenario, r); } catch { out.push(`  (unreadable line in ${resultsFile})`); }
    }
  }
  if (last.size === 0) out.push(`  none recorded${resultsFile ? ` in ${resultsFile}` : ' (set --results FILE or TSVPP_SOAK_RESULTS)'}`);
  for (const r of last.values()) {
    out.push(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.scenario}${r.short ? ' (short)' : ''}  ${r.at ?? ''}  ${r.seconds.toFixed(1)} s`);
    for (const [k, v] of Object.entries(r.figures)) out.push(`          ${k}: ${v}`);
  }
  const passed = [...last.values()].filter((r) => r.ok).length;
  out.push('', `${passed} of ${last.size} recorded scenarios passed; details and what is not covered: docs/reliability.md`);
  return out.join('\n');
}

function findFuzzCorpus(): string | undefined {
  // dist/src/cli → repo root is three up; when run from the repo, cwd works too.
  const here = new URL('.', import.meta.url).pathname;
  return [join(here, '..', '..', '..', 'fuzz', 'corpus'), join(process.cwd(), 'fuzz', 'corpus')].find((p) => existsSync(p));
}
