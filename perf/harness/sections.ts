// The sections of `tsvpp perf --all`, each listed once: runAll runs them in this order, `tsvpp perf`
// takes its --skip names and help from this table, and a test checks that docs/perf.md describes
// each one. A section fills its part of the report; a failed run is recorded, never thrown.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLatencyScenario, runMemifScenario, type LatencyFigure } from './memif-run.js';
import { canPin } from './machine.js';
import { probePlacement } from './placement.js';
import type { Progress } from './progress.js';
import {
  latencyScenarios, memifMatrix, runOrder, scenarioKey, summarize, type MatrixOptions, type MemifScenario, type RunFigure,
} from './scenarios.js';
import { clientRow, goalRows, latencyRow, memifRows, type PerfReport } from '../report/model.js';
import type { BenchResult as ClientBenchResult } from '../vppapi-client.js';
import type { LatencyVswitch } from './cni-latency.js';

/** What `tsvpp perf --all` asked for (a section reads the part it needs). */
export interface SectionOptions {
  repeats: number;
  durationMs: number;
  pingCount: number;
  /** CNI ADD/DEL latency: pods per custom-interface count (default 20). */
  cniPods?: number;
  /** Pod sandbox latency through containerd: pods per network (default 10). */
  criPods?: number;
  verbose?: boolean;
}

export interface SectionRun {
  o: SectionOptions;
  /** Which memif pairs and sizes (testpmd pairs left out when it is missing). */
  matrix: MatrixOptions;
  report: PerfReport;
  progress: Progress;
  say: (line: string) => void;
  /** The user interrupted the run (Ctrl-C): start no further step; what was measured is reported. */
  stopped(): boolean;
}

export interface PerfSection {
  name: string;
  what: string;
  /** Runs under --goals (which runs only these). */
  inGoals: boolean;
  /** Progress steps (runs) the section will take. */
  steps(o: SectionOptions, matrix: MatrixOptions): number;
  run(c: SectionRun): Promise<void>;
}

const memifOrder = (o: SectionOptions, m: MatrixOptions) => runOrder(memifMatrix(m), o.repeats);

/** One placement probe's round trip in µs; null when it failed, undefined when the CPUs cannot be pinned apart. */
async function placementUs(): Promise<number | null | undefined> {
  if (!canPin) return undefined;
  try {
    return (await probePlacement())?.roundTripUs ?? null;
  } catch {
    return null;
  }
}

export const SECTIONS: readonly PerfSection[] = [
  {
    name: 'memif',
    what: 'one-way and echo throughput: tsvpp<->tsvpp, tsvpp<->testpmd, testpmd->testpmd (reference)',
    inGoals: true,
    steps: (o, m) => memifOrder(o, m).length,
    run: async ({ o, matrix, report, progress, stopped }) => {
      const results: { s: MemifScenario; fig: RunFigure }[] = [];
      for (const { item: s, repeat } of memifOrder(o, matrix)) {
        if (stopped()) break;
        const lbl = `${scenarioKey(s)} #${repeat + 1}`;
        progress.start(lbl);
        let fig: RunFigure;
        // Where the host had the two CPUs, just before and just after the round (placement.ts).
        const before = await placementUs();
        try {
          fig = await runMemifScenario(s, { durationMs: o.durationMs, pingCount: o.pingCount, verbose: o.verbose });
        } catch (e) {
          fig = { mpps: 0, gbps: 0, lost: 0, corrupted: 0, error: firstLine(e) };
        }
        const after = stopped() ? null : await placementUs();
        if (before !== undefined) fig.placement = { before, after: after ?? null };
        if (fig.error && stopped()) { leftOut(progress, lbl); break; }
        results.push({ s, fig });
        progress.done(lbl, fig.error && !fig.mpps ? `FAILED ${fig.error}` : `${fig.mpps.toFixed(3)} Mpps ${fig.gbps.toFixed(2)} Gbit/s${fig.lost || fig.corrupted ? ` lost ${fig.lost} bad ${fig.corrupted}` : ''}`);
      }
      report.memif = memifRows(results);
      report.goals = goalRows(report.memif);
    },
  },
  {
    name: 'latency',
    what: 'ping-pong latency p50/p99/p99.9 (one packet in flight)',
    inGoals: false,
    steps: (o, m) => latencyScenarios(m).length * o.repeats,
    run: async ({ o, matrix, report, progress, stopped }) => {
      for (const s of latencyScenarios(matrix)) {
        const runs: LatencyFigure[] = [];
        for (let r = 0; r < o.repeats && !stopped(); r++) {
          const lbl = `latency ${s.pair} ${s.size}B #${r + 1}`;
          progress.start(lbl);
          try {
            runs.push(await runLatencyScenario(s, { durationMs: o.durationMs, pingCount: o.pingCount, verbose: o.verbose }));
            const x = runs[runs.length - 1]!;
            progress.done(lbl, `p50 ${x.p50.toFixed(1)} µs p99 ${x.p99.toFixed(1)} µs p99.9 ${x.p999.toFixed(1)} µs`);
          } catch (e) {
            if (stopped()) { leftOut(progress, lbl); break; }
            runs.push({ p50: NaN, p99: NaN, p999: NaN, count: 0, lost: 0, error: firstLine(e) });
            progress.done(lbl, `FAILED ${firstLine(e)}`);
          }
        }
        if (runs.length) report.latency.push(latencyRow(s.pair, s.size, runs));
      }
    },
  },
  {
    name: 'vppapi',
    what: 'VPP API codec encode/decode rates; client round trips and a 1000-interface dump against the VPP emulator, the client\'s ceiling against the API reflector, and against real VPP when TSVPP_VPP is set',
    inGoals: false,
    // With TSVPP_VPP: the real VPP's repeats and its start (vppClientRuns).
    steps: (o) => (process.env.TSVPP_VPP ? 2 * o.repeats + 1 : o.repeats),
    run: async ({ o, report, progress, stopped }) => {
      const { benchCodec } = await import('../vppapi-codec.js');
      const { benchClient, PIPELINED_WINDOWS } = await import('../vppapi-client.js');
      const codec = new Map<string, number[]>();
      const emulator: ClientBenchResult[] = [];
      const reflector: ClientBenchResult[] = [];
      for (let r = 0; r < o.repeats && !stopped(); r++) {
        const lbl = `vppapi codec + client #${r + 1}`;
        progress.start(lbl);
        try {
          for (const c of await benchCodec({ secondsPerCase: 0.3 })) {
            const k = `${c.name}\t${c.op}`;
            codec.set(k, [...(codec.get(k) ?? []), c.perSec]);
          }
          // The last repeat also profiles the client (the profiler costs a little, so only once).
          const cl = await benchClient({ profile: r === o.repeats - 1 });
          emulator.push(cl);
          // The client's own ceiling: a peer that answers at almost no cost.
          const top = await benchClient({ peer: 'reflector', windows: PIPELINED_WINDOWS });
          reflector.push(top);
          progress.done(lbl, `client ${cl.sequentialPerSec}/s one at a time, ${cl.pipelinedPerSec}/s with ${cl.window} in flight; ceiling ${top.pipelinedPerSec}/s with ${top.window} in flight`);
        } catch (e) {
          if (stopped()) leftOut(progress, lbl);
          else progress.done(lbl, `FAILED ${firstLine(e)}`);
        }
      }
      const clients = [clientRow('emulator', emulator[0]?.peer ?? 'the VPP emulator', emulator), clientRow('reflector', reflector[0]?.peer ?? 'the API reflector', reflector)];
      const vpp = stopped() ? [] : await vppClientRuns(o.repeats, progress, report.notes, stopped);
      if (vpp.length) clients.push(clientRow('vpp', vpp[0]!.peer, vpp));
      report.vppapi = {
        codec: [...codec].map(([k, v]) => { const [name, op] = k.split('\t'); return { name: name!, op: op!, perSec: summarize(v) }; }),
        client: { sequentialPerSec: summarize(emulator.map((c) => c.sequentialPerSec)), pipelinedPerSec: summarize(emulator.map((c) => c.pipelinedPerSec)), window: emulator[0]?.window ?? 0 },
        clients,
      };
    },
  },
  {
    name: 'cni',
    what: 'tsvpp-cni start time; CNI ADD/DEL latency, pods with 0/1/3 custom interfaces, on the emulator and on real VPP when TSVPP_VPP is set (root)',
    inGoals: false,
    steps: () => (process.env.TSVPP_VPP ? 3 : 2),
    run: async (c) => {
      const { report, progress } = c;
      if (c.stopped()) return;
      progress.start('tsvpp-cni start');
      try {
        const { measure, measureShim, overheadVerdict } = await import('../cni-start.js');
        const cniMain = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cni', 'cni-main.cjs');
        const n = 10;
        const base = measure(['-e', '0'], {}, '', n);
        const cni = measure([cniMain], { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}', n);
        const shim = await measureShim(n);
        report.cni = { startMs: summarize(cni), nodeBaselineMs: summarize(base), shimMs: summarize(shim), runs: n };
        progress.done('tsvpp-cni start', `median ${report.cni.startMs.median.toFixed(1)} ms (node -e 0: ${report.cni.nodeBaselineMs.median.toFixed(1)} ms), ${overheadVerdict(report.cni.startMs.median, report.cni.nodeBaselineMs.median)}; the shim's DEL ${report.cni.shimMs!.median.toFixed(1)} ms`);
      } catch (e) {
        progress.done('tsvpp-cni start', `FAILED ${firstLine(e)}`);
      }
      await runCniLatency(c);
    },
  },
  {
    name: 'cri',
    what: 'RunPodSandbox/StopPodSandbox latency through containerd: tsvpp (emulator; and real VPP with TSVPP_VPP) vs Debian\'s bridge plugin, same run (root)',
    inGoals: false,
    steps: () => (process.env.TSVPP_VPP ? 2 : 1),
    run: (c) => runCriLatency(c),
  },
];

export function section(name: string): PerfSection | undefined {
  return SECTIONS.find((s) => s.name === name);
}

/**
 * CNI ADD/DEL latency into report.cniLatency: against the emulator, and against a real VPP of its
 * own when TSVPP_VPP names an install. Without root a note instead (the part is skipped).
 */
async function runCniLatency({ o, report, progress, say, stopped }: SectionRun): Promise<void> {
  const pods = o.cniPods ?? 20;
  const { cniLatencySkipReason, runCniLatency } = await import('./cni-latency.js');
  const why = cniLatencySkipReason();
  if (why) {
    const msg = `CNI ADD/DEL latency skipped: ${why}`;
    report.notes.push(msg);
    say(`note: ${msg}`);
    progress.start('CNI ADD/DEL latency');
    progress.done('CNI ADD/DEL latency', 'skipped (not root)');
    return;
  }
  const prefix = process.env.TSVPP_VPP;
  if (!prefix) report.notes.push('CNI ADD/DEL latency against real VPP: not run (set TSVPP_VPP to a VPP install prefix)');
  const targets: LatencyVswitch[] = [{ kind: 'emulator' }, ...(prefix ? [{ kind: 'vpp' as const, prefix }] : [])];
  for (const t of targets) {
    if (stopped()) break;
    const on = t.kind === 'vpp' ? 'real VPP' : 'emulator';
    const lbl = `CNI ADD/DEL latency (${on}), ${pods} pods x 0/1/3 custom interfaces`;
    progress.start(lbl);
    try {
      const r = await runCniLatency({ podsPerSize: pods, vswitch: t });
      if (stopped() && r.rows.some((x) => x.errors.length)) { leftOut(progress, lbl); break; }
      (report.cniLatency ??= []).push(r);
      const left = Object.entries(r.leftovers).filter(([, v]) => v.length);
      if (left.length) report.notes.push(`CNI ADD/DEL latency (${on}) left behind: ${left.map(([k, v]) => `${k}: ${v.join(', ')}`).join('; ')}`);
      progress.done(lbl, r.rows.map((x) => `${x.customIfs} if: ADD p50 ${x.add.p50.toFixed(0)} DEL p50 ${x.del.p50.toFixed(0)} ms`).join(', '));
    } catch (e) {
      if (stopped()) { leftOut(progress, lbl); break; }
      report.notes.push(`CNI ADD/DEL latency (${on}) failed: ${firstLine(e)}`);
      progress.done(lbl, `FAILED ${firstLine(e)}`);
    }
  }
}

/**
 * Pod sandbox latency through containerd into report.criLatency: tsvpp on the emulator, and on a
 * real VPP of its own when TSVPP_VPP names an install; without root or containerd a note.
 */
async function runCriLatency({ o, report, progress, say, stopped }: SectionRun): Promise<void> {
  const pods = o.criPods ?? 10;
  const cri = await import('./cri-latency.js');
  const why = cri.criLatencySkipReason();
  if (why) {
    const msg = `CRI pod sandbox latency skipped: ${why}`;
    report.notes.push(msg);
    say(`note: ${msg}`);
    progress.start('CRI pod sandboxes through containerd');
    progress.done('CRI pod sandboxes through containerd', 'skipped');
    return;
  }
  const prefix = process.env.TSVPP_VPP;
  if (!prefix) report.notes.push('CRI pod sandbox latency with real VPP: not run (set TSVPP_VPP to a VPP install prefix)');
  const targets: LatencyVswitch[] = [{ kind: 'emulator' }, ...(prefix ? [{ kind: 'vpp' as const, prefix }] : [])];
  for (const t of targets) {
    if (stopped()) break;
    const on = t.kind === 'vpp' ? 'real VPP' : 'emulator';
    const lbl = `CRI pod sandboxes through containerd (${on}), ${pods} pods x tsvpp/bridge`;
    progress.start(lbl);
    try {
      const r = await cri.runCriLatency({ pods, vswitch: t });
      if (stopped() && r.rows.some((x) => x.errors.length)) { leftOut(progress, lbl); break; }
      (report.criLatency ??= []).push(r);
      const left = Object.entries(r.leftovers).filter(([, v]) => v.length);
      if (left.length) report.notes.push(`CRI pod sandbox latency (${on}) left behind: ${left.map(([k, v]) => `${k}: ${v.join(', ')}`).join('; ')}`);
      progress.done(lbl, r.rows.map((x) => `${x.label}: Run p50 ${x.run.p50.toFixed(0)} Stop p50 ${x.stop.p50.toFixed(0)} ms`).join(', ') +
        `; tsvpp/bridge Run ${cri.ratioToBridge(r, r.rows[1]?.label ?? '', 'run').toFixed(2)}x`);
    } catch (e) {
      if (stopped()) { leftOut(progress, lbl); break; }
      report.notes.push(`CRI pod sandbox latency (${on}) failed: ${firstLine(e)}`);
      progress.done(lbl, `FAILED ${firstLine(e)}`);
    }
  }
}

/**
 * A step that failed once the run was interrupted is left out of the report: a terminal's Ctrl-C
 * also reaches the processes a step starts while they are being made (and, in the CNI and CRI
 * steps, every tsvpp-cni and `ip` it runs), so its failure says nothing about what it measures.
 */
function leftOut(progress: Progress, lbl: string): void {
  progress.note(`${lbl}: cut short by the interrupt, left out`);
}

export const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

/**
 * The client benchmark against a real VPP when TSVPP_VPP names a VPP install prefix: one instance
 * of its own (scripts/vpp-peer.sh: own runtime dir, socket and api-segment prefix, no
 * poll-sleep-usec), stopped afterwards. Without TSVPP_VPP: nothing (a note says so).
 */
async function vppClientRuns(repeats: number, progress: Progress, notes: string[], stopped: () => boolean): Promise<ClientBenchResult[]> {
  const prefix = process.env.TSVPP_VPP;
  if (!prefix) {
    notes.push('vppapi client against real VPP: not run (set TSVPP_VPP to a VPP install prefix)');
    return [];
  }
  const { startVppPeer } = await import('../peers/vpp.js');
  const { benchClient, PIPELINED_WINDOWS } = await import('../vppapi-client.js');
  const out: ClientBenchResult[] = [];
  progress.start('VPP for the client benchmark');
  let vpp;
  try {
    vpp = await startVppPeer(prefix, `perf${process.pid}`);
    progress.done('VPP for the client benchmark', `VPP ${vpp.version}, pid ${vpp.pid}`);
  } catch (e) {
    progress.done('VPP for the client benchmark', `FAILED ${firstLine(e)}`);
    notes.push(`vppapi client against real VPP: VPP did not start: ${firstLine(e)}`);
    return [];
  }
  try {
    for (let r = 0; r < repeats && !stopped(); r++) {
      const lbl = `vppapi client vs VPP #${r + 1}`;
      progress.start(lbl);
      try {
        const cl = await benchClient({ socket: vpp.apiSocket, apiDir: vpp.apiDir, windows: PIPELINED_WINDOWS, profile: r === repeats - 1 });
        out.push(cl);
        progress.done(lbl, `${cl.sequentialPerSec}/s one at a time, ${cl.pipelinedPerSec}/s with ${cl.window} in flight`);
      } catch (e) {
        if (stopped()) leftOut(progress, lbl);
        else progress.done(lbl, `FAILED ${firstLine(e)}`);
      }
    }
  } finally {
    await vpp.stop();
  }
  return out;
}
