// `tsvpp perf --all`: every section of sections.ts in one run. memif throughput pairs alternate
// within each configuration and repeats go round the whole matrix, so machine drift hits every pair
// alike; then latency, the vppapi codec and client, the tsvpp-cni start time and CNI ADD/DEL latency
// (pods with 0, 1, 3 custom interfaces; root only, else the output says so and skips that part).
import { canPin, describeMachine, machineInfo } from './machine.js';
import { WARMUP_MS } from '../memif/window.js';
import { Progress } from './progress.js';
import { SECTIONS, type SectionOptions } from './sections.js';
import type { PerfReport } from '../report/model.js';

export interface AllOptions extends SectionOptions {
  full: boolean;
  sizes?: number[];
  /** Sections to leave out, by name (sections.ts). */
  skip?: string[];
  /** Only the goal scenarios (scenarios.ts GOALS) and the goals table: the sections marked for it. */
  goals?: boolean;
  progress?: Progress;
  out?: (line: string) => void;
  /** Aborted (Ctrl-C): the step in progress finishes, no further one starts, the report holds what was measured. */
  signal?: AbortSignal;
}

/** null when testpmd and its memif PMD are usable, else why not (naming the packages). */
export async function testpmdMissing(): Promise<string | null> {
  try {
    const t = await import('../peers/testpmd.js');
    t.findTestpmd();
    t.findMemifPmd();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export async function runAll(o: AllOptions): Promise<PerfReport> {
  const t0 = Date.now();
  const machine = machineInfo();
  const notes: string[] = [];
  const say = o.out ?? ((s: string) => process.stderr.write(`${s}\n`));
  const missing = await testpmdMissing();
  if (missing) {
    const msg = `DPDK testpmd is not usable, so the testpmd pairs and the reference are left out (${missing}); ` +
      'install with `bash scripts/system-deps.sh` (packages dpdk-dev, dpdk, librte-net-memif23). The tsvpp-only scenarios still run.';
    notes.push(msg);
    say(`note: ${msg}`);
  }
  if (!canPin) notes.push('tsvpp processes were not pinned (taskset missing or a single CPU)');
  const skip = new Set(o.skip ?? []);
  const matrix = { full: o.full, noTestpmd: missing !== null, sizes: o.sizes, goals: o.goals };
  const sections = SECTIONS.filter((s) => (o.goals ? s.inGoals : !skip.has(s.name)));
  const steps = (name: string) => sections.find((s) => s.name === name)?.steps(o, matrix) ?? 0;
  const progress = o.progress ?? new Progress(sections.reduce((n, s) => n + s.steps(o, matrix), 0));
  say(`machine: ${describeMachine(machine)}`);
  say(`${o.goals ? 'goal scenarios (--goals)' : o.full ? 'full matrix (--full)' : 'default subset; --full runs every size x burst x mode x queues'}: ${steps('memif')} memif runs, ` +
    `${steps('latency')} latency runs, ${o.repeats} repeats`);

  const report: PerfReport = {
    tool: 'tsvpp perf --all', startedAt: new Date(t0).toISOString(), seconds: 0, machine,
    options: { full: o.full, goals: o.goals, repeats: o.repeats, durationMs: o.durationMs, warmupMs: WARMUP_MS, pinned: canPin, testpmd: missing === null },
    notes, memif: [], latency: [], goals: [],
  };
  const stopped = () => o.signal?.aborted === true;
  for (const s of sections) {
    if (stopped()) break;
    await s.run({ o, matrix, report, progress, say, stopped });
  }
  if (stopped()) report.interrupted = { stepsDone: progress.finished, steps: progress.total };
  report.seconds = (Date.now() - t0) / 1000;
  return report;
}
