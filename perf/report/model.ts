// The perf report: every figure of a `tsvpp perf --all` run, as written to --json and rendered
// by table.ts and svg.ts.
import type { Machine } from '../harness/machine.js';
import type { CniLatencyReport } from '../harness/cni-latency.js';
import type { BenchResult as ClientBenchResult, PeerKind } from '../vppapi-client.js';
import type { StageShare } from '../vppapi-profile.js';
import type { CriLatencyReport } from '../harness/cri-latency.js';
import {
  GOALS, REFERENCE_PAIR, configKey, farLimit, percentile, ranNear, summarize, type Kind, type MemifPair, type MemifScenario, type RunFigure, type Summary,
} from '../harness/scenarios.js';

export interface MemifRow {
  kind: Kind;
  pair: MemifPair;
  size: number;
  burst: number;
  mode: 'polling' | 'interrupt';
  queues: number;
  runs: RunFigure[];
  mpps: Summary;
  gbps: Summary;
  /** Median Mpps / the reference's (testpmd->testpmd one-way, same size, burst, queues, polling). */
  ratio: number | null;
  lost: number;
  corrupted: number;
  errors: string[];
}

export interface LatencyRun { p50: number; p99: number; p999: number; count: number; lost: number; error?: string }
export interface LatencyRow { pair: MemifPair; size: number; runs: LatencyRun[]; p50: Summary; p99: Summary; p999: Summary }

export interface PerfReport {
  tool: 'tsvpp perf --all';
  startedAt: string;
  seconds: number;
  machine: Machine;
  options: { full: boolean; goals?: boolean; repeats: number; durationMs: number; warmupMs?: number; pinned: boolean; testpmd: boolean };
  notes: string[];
  memif: MemifRow[];
  /** The run was interrupted (Ctrl-C) after this many of its steps: every figure is from the steps that ran. */
  interrupted?: { stepsDone: number; steps: number };
  /** The memif goals (GOALS) evaluated on this run's rows, where both sides of a ratio ran. */
  goals?: GoalRow[];
  latency: LatencyRow[];
  vppapi?: {
    codec: { name: string; op: string; perSec: Summary }[];
    /** Against the emulator: one at a time and the largest window (the first figures kept). */
    client: { sequentialPerSec: Summary; pipelinedPerSec: Summary; window: number };
    /** Every client figure, per peer: the emulator, and real VPP when TSVPP_VPP was set. */
    clients?: ClientRow[];
  };
  /** startMs: the Node tsvpp-cni's VERSION; shimMs: the shim's DEL to an agent answering at once (absent before 2026-12-04 21:30). */
  cni?: { startMs: Summary; nodeBaselineMs: Summary; shimMs?: Summary; runs: number };
  /** ADD/DEL through the real tsvpp-cni and agent, one run per vswitch: the VPP emulator, and real
   *  VPP when TSVPP_VPP was set (absent when skipped: not root). */
  cniLatency?: CniLatencyReport[];
  /** RunPodSandbox/StopPodSandbox/RemovePodSandbox through containerd, tsvpp vs bridge (absent when skipped). */
  /** The emulator's run, then real VPP's when TSVPP_VPP was set. */
  criLatency?: CriLatencyReport[];
}

/** The VPP API client against one peer over the repeats; raw holds every run's result. */
export interface ClientRow {
  peer: string;
  peerKind: PeerKind;
  windows: Array<{ window: number; perSec: Summary; clientUsPerOp: Summary; clientBusy: Summary; peerBusy: Summary | null; peerUsPerOp: Summary | null }>;
  dump: { interfaces: number; ms: Summary; clientMsCpu: Summary } | null;
  /** Where the client's time went at the largest window (from the last repeat). */
  breakdown: StageShare[] | null;
  raw: ClientBenchResult[];
}

/** Summaries per window over the repeats of one peer. */
export function clientRow(peerKind: PeerKind, peer: string, raw: ClientBenchResult[]): ClientRow {
  const windows = [...new Set(raw.flatMap((r) => r.figures.map((f) => f.window)))].sort((a, b) => a - b);
  const dumps = raw.map((r) => r.dump).filter((d) => d !== null);
  return {
    peer,
    peerKind,
    windows: windows.map((window) => {
      const fs = raw.map((r) => r.figures.find((f) => f.window === window)).filter((f) => f !== undefined);
      const peers = fs.map((f) => f.peerBusy).filter((b) => b !== null);
      const peerOps = fs.map((f) => f.peerUsPerOp).filter((b) => b !== null);
      return {
        window, perSec: summarize(fs.map((f) => f.perSec)), clientUsPerOp: summarize(fs.map((f) => f.clientUsPerOp)),
        clientBusy: summarize(fs.map((f) => f.clientBusy)), peerBusy: peers.length ? summarize(peers) : null,
        peerUsPerOp: peerOps.length ? summarize(peerOps) : null,
      };
    }),
    dump: dumps.length ? { interfaces: dumps[0]!.interfaces, ms: summarize(dumps.map((d) => d.ms)), clientMsCpu: summarize(dumps.map((d) => d.clientMsCpu)) } : null,
    breakdown: [...raw].reverse().find((r) => r.breakdown)?.breakdown ?? null,
    raw,
  };
}

/** Groups run figures by scenario into rows with summaries and ratios to the reference. */
export function memifRows(results: { s: MemifScenario; fig: RunFigure }[]): MemifRow[] {
  const by = new Map<string, { s: MemifScenario; runs: RunFigure[] }>();
  for (const { s, fig } of results) {
    const k = `${s.kind}|${s.pair}|${s.size}|${s.burst}|${s.mode}|${s.queues}`;
    let e = by.get(k);
    if (!e) by.set(k, (e = { s, runs: [] }));
    e.runs.push(fig);
  }
  const rows: MemifRow[] = [...by.values()].map(({ s, runs }) => {
    const ok = runs.filter((r) => !r.error || r.mpps > 0);
    return {
      kind: s.kind, pair: s.pair, size: s.size, burst: s.burst, mode: s.mode, queues: s.queues, runs,
      mpps: summarize(ok.map((r) => r.mpps)), gbps: summarize(ok.map((r) => r.gbps)), ratio: null,
      lost: runs.reduce((a, r) => a + r.lost, 0), corrupted: runs.reduce((a, r) => a + r.corrupted, 0),
      errors: [...new Set(runs.flatMap((r) => (r.error ? [r.error] : [])))],
    };
  });
  const refs = new Map(rows.filter((r) => r.pair === REFERENCE_PAIR && r.mode === 'polling').map((r) => [configKey(r), r.mpps.median]));
  for (const r of rows) {
    const ref = refs.get(configKey(r));
    r.ratio = ref && ref > 0 && Number.isFinite(r.mpps.median) ? r.mpps.median / ref : null;
  }
  return rows;
}

/** One goal ratio at one size: of the medians, and the range of the same ratio round by round. */
export interface GoalRow {
  size: number;
  what: string;
  ratio: number;
  /** min..max over rounds of (numerator's run r / denominator's run r). */
  rounds: { min: number; max: number };
  goal: number;
  met: boolean;
  /** The ratio of medians over the rounds where both sides ran with the CPUs near (ranNear) and
   *  how many rounds that was; null when the rounds were not probed. */
  near: { ratio: number; rounds: number } | null;
}

export function goalRows(rows: readonly MemifRow[]): GoalRow[] {
  const find = (pair: MemifPair, size: number) =>
    rows.find((r) => r.pair === pair && r.size === size && r.burst === 32 && r.mode === 'polling' && r.queues === 1);
  const out: GoalRow[] = [];
  const limit = farLimit(rows.flatMap((r) => r.runs));
  const add = (size: number, what: string, num: MemifRow | undefined, den: MemifRow | undefined, goal: number) => {
    if (!num || !den || !(den.mpps.median > 0) || !Number.isFinite(num.mpps.median)) return;
    const per = num.runs.flatMap((r, i) => (den.runs[i] && den.runs[i]!.mpps > 0 ? [r.mpps / den.runs[i]!.mpps] : []));
    const ratio = num.mpps.median / den.mpps.median;
    const both = num.runs.flatMap((r, i) => {
      const d = den.runs[i];
      return d && d.mpps > 0 && r.mpps > 0 && ranNear(r, limit) && ranNear(d, limit) ? [[r.mpps, d.mpps] as const] : [];
    });
    const probed = [...num.runs, ...den.runs].some((r) => r.placement);
    const near = !probed ? null
      : { ratio: both.length ? percentile(both.map((b) => b[0]), 50) / percentile(both.map((b) => b[1]), 50) : NaN, rounds: both.length };
    out.push({ size, what, ratio, rounds: { min: Math.min(...per), max: Math.max(...per) }, goal, met: ratio >= goal, near });
  };
  for (const size of GOALS.sizes) {
    const oneway = find('tsvpp->tsvpp', size);
    add(size, `tsvpp->tsvpp / ${REFERENCE_PAIR}`, oneway, find(REFERENCE_PAIR, size), GOALS.onewayVsReference);
    add(size, 'tsvpp<->tsvpp echo / tsvpp->tsvpp one-way', find('tsvpp<->tsvpp', size), oneway, GOALS.echoVsOneway);
  }
  return out;
}

export function latencyRow(pair: MemifPair, size: number, runs: LatencyRun[]): LatencyRow {
  const ok = runs.filter((r) => r.count > 0);
  return {
    pair, size, runs,
    p50: summarize(ok.map((r) => r.p50)), p99: summarize(ok.map((r) => r.p99)), p999: summarize(ok.map((r) => r.p999)),
  };
}
