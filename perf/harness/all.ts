// `tsvpp perf --all`: every scenario in one run. memif throughput pairs alternate within each
// configuration and repeats go round the whole matrix, so machine drift hits every pair alike;
// then latency, the vppapi codec and client, the tsvpp-cni start time and CNI ADD/DEL latency
// (pods with 0, 1, 3 custom interfaces; root only, else the output says so and skips that part).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canPin, describeMachine, machineInfo } from './machine.js';
import { runLatencyScenario, runMemifScenario, type LatencyFigure } from './memif-run.js';
import { Progress } from './progress.js';
import {
  latencyScenarios, memifMatrix, runOrder, scenarioKey, summarize, type MemifScenario, type RunFigure,
} from './scenarios.js';
import { goalRows, latencyRow, memifRows, type PerfReport } from '../report/model.js';

export interface AllOptions {
  full: boolean;
  repeats: number;
  durationMs: number;
  pingCount: number;
  sizes?: number[];
  /** Skip sections: 'memif', 'latency', 'vppapi', 'cni' (start time and ADD/DEL latency). */
  skip?: string[];
  /** Only the goal scenarios (scenarios.ts GOALS) and the goals table; every other section is skipped. */
  goals?: boolean;
  /** CNI ADD/DEL latency: pods per custom-interface count (default 20). */
  cniPods?: number;
  verbose?: boolean;
  progress?: Progress;
  out?: (line: string) => void;
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
  const skip = new Set(o.goals ? ['latency', 'vppapi', 'cni'] : o.skip ?? []);
  const mo = { full: o.full, noTestpmd: missing !== null, sizes: o.sizes, goals: o.goals };
  const groups = skip.has('memif') ? [] : memifMatrix(mo);
  const order = runOrder(groups, o.repeats);
  const lat = skip.has('latency') ? [] : latencyScenarios(mo);
  const total = order.length + lat.length * o.repeats + (skip.has('vppapi') ? 0 : o.repeats) + (skip.has('cni') ? 0 : 2);
  const progress = o.progress ?? new Progress(total);
  say(`machine: ${describeMachine(machine)}`);
  say(`${o.goals ? 'goal scenarios (--goals)' : o.full ? 'full matrix (--full)' : 'default subset; --full runs every size x burst x mode x queues'}: ${order.length} memif runs, ` +
    `${lat.length * o.repeats} latency runs, ${o.repeats} repeats`);

  const results: { s: MemifScenario; fig: RunFigure }[] = [];
  for (const { item: s, repeat } of order) {
    const lbl = `${scenarioKey(s)} #${repeat + 1}`;
    progress.start(lbl);
    let fig: RunFigure;
    try {
      fig = await runMemifScenario(s, { durationMs: o.durationMs, pingCount: o.pingCount, verbose: o.verbose });
    } catch (e) {
      fig = { mpps: 0, gbps: 0, lost: 0, corrupted: 0, error: firstLine(e) };
    }
    results.push({ s, fig });
    progress.done(lbl, fig.error && !fig.mpps ? `FAILED ${fig.error}` : `${fig.mpps.toFixed(3)} Mpps ${fig.gbps.toFixed(2)} Gbit/s${fig.lost || fig.corrupted ? ` lost ${fig.lost} bad ${fig.corrupted}` : ''}`);
  }

  const latency = [];
  for (const s of lat) {
    const runs: LatencyFigure[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const lbl = `latency ${s.pair} ${s.size}B #${r + 1}`;
      progress.start(lbl);
      try {
        runs.push(await runLatencyScenario(s, { durationMs: o.durationMs, pingCount: o.pingCount, verbose: o.verbose }));
        const x = runs[runs.length - 1]!;
        progress.done(lbl, `p50 ${x.p50.toFixed(1)} µs p99 ${x.p99.toFixed(1)} µs p99.9 ${x.p999.toFixed(1)} µs`);
      } catch (e) {
        runs.push({ p50: NaN, p99: NaN, p999: NaN, count: 0, lost: 0, error: firstLine(e) });
        progress.done(lbl, `FAILED ${firstLine(e)}`);
      }
    }
    latency.push(latencyRow(s.pair, s.size, runs));
  }

  const report: PerfReport = {
    tool: 'tsvpp perf --all', startedAt: new Date(t0).toISOString(), seconds: 0, machine,
    options: { full: o.full, goals: o.goals, repeats: o.repeats, durationMs: o.durationMs, pinned: canPin, testpmd: missing === null },
    notes, memif: memifRows(results), latency,
  };
  report.goals = goalRows(report.memif);

  if (!skip.has('vppapi')) {
    const { benchCodec } = await import('../vppapi-codec.js');
    const { benchClient } = await import('../vppapi-client.js');
    const codec = new Map<string, number[]>();
    const seq: number[] = [], pipe: number[] = [];
    let window = 64;
    for (let r = 0; r < o.repeats; r++) {
      const lbl = `vppapi codec + client #${r + 1}`;
      progress.start(lbl);
      try {
        for (const c of await benchCodec({ secondsPerCase: 0.3 })) {
          const k = `${c.name}\t${c.op}`;
          codec.set(k, [...(codec.get(k) ?? []), c.perSec]);
        }
        const cl = await benchClient({ count: 5000 });
        seq.push(cl.sequentialPerSec); pipe.push(cl.pipelinedPerSec); window = cl.window;
        progress.done(lbl, `client ${cl.sequentialPerSec}/s sequential, ${cl.pipelinedPerSec}/s pipelined`);
      } catch (e) {
        progress.done(lbl, `FAILED ${firstLine(e)}`);
      }
    }
    report.vppapi = {
      codec: [...codec].map(([k, v]) => { const [name, op] = k.split('\t'); return { name: name!, op: op!, perSec: summarize(v) }; }),
      client: { sequentialPerSec: summarize(seq), pipelinedPerSec: summarize(pipe), window },
    };
  }
  if (!skip.has('cni')) {
    progress.start('tsvpp-cni start');
    try {
      const { measure, overheadVerdict } = await import('../cni-start.js');
      const cniMain = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cni', 'cni-main.js');
      const n = 10;
      const base = measure(['-e', '0'], {}, '', n);
      const cni = measure([cniMain], { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}', n);
      report.cni = { startMs: summarize(cni), nodeBaselineMs: summarize(base), runs: n };
      progress.done('tsvpp-cni start', `median ${report.cni.startMs.median.toFixed(1)} ms (node -e 0: ${report.cni.nodeBaselineMs.median.toFixed(1)} ms), ${overheadVerdict(report.cni.startMs.median, report.cni.nodeBaselineMs.median)}`);
    } catch (e) {
      progress.done('tsvpp-cni start', `FAILED ${firstLine(e)}`);
    }
    await runCniLatencySection(report, o.cniPods ?? 20, progress, say);
  }
  report.seconds = (Date.now() - t0) / 1000;
  return report;
}

/** CNI ADD/DEL latency into report.cniLatency; without root a note instead (the section is skipped). */
async function runCniLatencySection(report: PerfReport, pods: number, progress: Progress, say: (s: string) => void): Promise<void> {
  const lbl = `CNI ADD/DEL latency, ${pods} pods x 0/1/3 custom interfaces`;
  progress.start(lbl);
  const { cniLatencySkipReason, runCniLatency } = await import('./cni-latency.js');
  const why = cniLatencySkipReason();
  if (why) {
    const msg = `CNI ADD/DEL latency skipped: ${why}`;
    report.notes.push(msg);
    say(`note: ${msg}`);
    progress.done(lbl, 'skipped (not root)');
    return;
  }
  try {
    const r = await runCniLatency({ podsPerSize: pods });
    report.cniLatency = r;
    const left = Object.entries(r.leftovers).filter(([, v]) => v.length);
    if (left.length) report.notes.push(`CNI ADD/DEL latency left behind: ${left.map(([k, v]) => `${k}: ${v.join(', ')}`).join('; ')}`);
    progress.done(lbl, r.rows.map((x) => `${x.customIfs} if: ADD p50 ${x.add.p50.toFixed(0)} DEL p50 ${x.del.p50.toFixed(0)} ms`).join(', '));
  } catch (e) {
    report.notes.push(`CNI ADD/DEL latency failed: ${firstLine(e)}`);
    progress.done(lbl, `FAILED ${firstLine(e)}`);
  }
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
