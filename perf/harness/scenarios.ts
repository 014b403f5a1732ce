// The perf matrix: which memif pairs and configurations `tsvpp perf --all` runs, and the small
// statistics the report needs. Pure data and arithmetic (tested in test/perf).

export type OnewayPair = 'tsvpp->tsvpp' | 'tsvpp->testpmd' | 'testpmd->tsvpp' | 'testpmd->testpmd';
export type EchoPair = 'tsvpp<->tsvpp' | 'tsvpp(slave)<->testpmd' | 'tsvpp(master)<->testpmd';
export type MemifPair = OnewayPair | EchoPair;
export type Kind = 'oneway' | 'echo' | 'latency';

export const REFERENCE_PAIR: OnewayPair = 'testpmd->testpmd';
export const ONEWAY_PAIRS: OnewayPair[] = ['tsvpp->tsvpp', 'tsvpp->testpmd', 'testpmd->tsvpp', 'testpmd->testpmd'];
export const ECHO_PAIRS: EchoPair[] = ['tsvpp<->tsvpp', 'tsvpp(slave)<->testpmd', 'tsvpp(master)<->testpmd'];
export const LATENCY_PAIRS: MemifPair[] = ['tsvpp<->tsvpp', 'tsvpp(slave)<->testpmd'];

export interface MemifScenario {
  kind: Kind;
  pair: MemifPair;
  size: number;
  burst: number;
  mode: 'polling' | 'interrupt';
  queues: number;
}

/** One run's figure. */
export interface RunFigure {
  mpps: number;
  gbps: number;
  lost: number;
  corrupted: number;
  /** What testpmd as receiver reported, for a cross-check of a tsvpp generator's count. */
  peerMpps?: number;
  /** Round trip (µs) of a cache line between CPU 0 and CPU 1, probed just before and just after
   *  the run (perf/harness/placement.ts); null where a probe failed. Absent when not probed. */
  placement?: { before: number | null; after: number | null };
  error?: string;
}

/** Every placement probe of `figs` that gave a round trip (µs). */
export function probesUs(figs: readonly RunFigure[]): number[] {
  return figs.flatMap((f) => [f.placement?.before, f.placement?.after]).filter((x): x is number => typeof x === 'number' && x > 0);
}

/**
 * Probes above this ran with the two CPUs far apart: twice the fastest probe of the run. (On the
 * VM measured, near was 0.07-0.13 µs and far 0.32-0.43; on one socket of bare metal every probe
 * is near.) Infinity when nothing was probed.
 */
export function farLimit(figs: readonly RunFigure[]): number {
  const us = probesUs(figs);
  return us.length ? 2 * Math.min(...us) : Infinity;
}

/** The run was probed near before and after (false when either probe is missing or far). */
export function ranNear(f: RunFigure, limit: number): boolean {
  const p = f.placement;
  return !!p && p.before !== null && p.after !== null && p.before <= limit && p.after <= limit;
}

export const usesTestpmd = (p: MemifPair): boolean => p.includes('testpmd');

/** testpmd's memif PMD only polls, so interrupt mode applies to tsvpp-only pairs. */
const pairSupports = (p: MemifPair, mode: string): boolean => mode === 'polling' || !usesTestpmd(p);

export interface MatrixOptions {
  full: boolean;
  /** Leave out every pair with testpmd (not installed). */
  noTestpmd: boolean;
  sizes?: number[];
  /** Only the pairs and sizes the goals are stated in (GOALS), burst 32, polling, 1 queue. */
  goals?: boolean;
}

/**
 * The memif goals, as ratios within one run: tsvpp->tsvpp one-way against testpmd->testpmd at
 * each size, and each direction of a tsvpp<->tsvpp echo against tsvpp->tsvpp one-way.
 */
export const GOALS = {
  sizes: [64, 1500],
  pairs: ['tsvpp->tsvpp', 'testpmd->testpmd', 'tsvpp<->tsvpp'] as MemifPair[],
  onewayVsReference: 1.5,
  echoVsOneway: 0.8,
  repeats: 6,
};

export const FULL = { sizes: [64, 256, 1500, 9000], bursts: [32, 64, 256], modes: ['polling', 'interrupt'] as const, queues: [1, 2] };
/** The default (~10 min on 2 vCPUs): every pair at the main sizes with burst 32, polling, 1 queue,
 *  plus one variation at a time (burst 256, interrupt, 2 queues) at 64 B. */
export const QUICK = { sizes: [64, 1500, 9000], variations: [{ burst: 256 }, { mode: 'interrupt' as const }, { queues: 2 }] };

/** Throughput scenarios, grouped per configuration so that the pairs of one configuration run back to back. */
export function memifMatrix(o: MatrixOptions): MemifScenario[][] {
  const pairs: { kind: Kind; pair: MemifPair }[] = [
    ...ONEWAY_PAIRS.map((pair) => ({ kind: 'oneway' as const, pair })),
    ...ECHO_PAIRS.map((pair) => ({ kind: 'echo' as const, pair })),
  ].filter((p) => !(o.noTestpmd && usesTestpmd(p.pair)) && (!o.goals || GOALS.pairs.includes(p.pair)));
  const configs: Omit<MemifScenario, 'kind' | 'pair'>[] = [];
  if (o.goals) {
    for (const size of o.sizes ?? GOALS.sizes) configs.push({ size, burst: 32, mode: 'polling', queues: 1 });
  } else if (o.full) {
    for (const size of o.sizes ?? FULL.sizes) for (const burst of FULL.bursts) for (const mode of FULL.modes) for (const queues of FULL.queues) {
      configs.push({ size, burst, mode, queues });
    }
  } else {
    for (const size of o.sizes ?? QUICK.sizes) configs.push({ size, burst: 32, mode: 'polling', queues: 1 });
    for (const v of QUICK.variations) configs.push({ size: 64, burst: 32, mode: 'polling', queues: 1, ...v });
  }
  return configs.map((c) => pairs.filter((p) => pairSupports(p.pair, c.mode)).map((p) => ({ ...p, ...c })));
}

export function latencyScenarios(o: MatrixOptions): MemifScenario[] {
  const sizes = o.full ? [64, 1500] : [64];
  return LATENCY_PAIRS.filter((p) => !(o.noTestpmd && usesTestpmd(p)))
    .flatMap((pair) => sizes.map((size) => ({ kind: 'latency' as const, pair, size, burst: 1, mode: 'polling' as const, queues: 1 })));
}

/** Run order: repeat r of every configuration, then repeat r + 1, so drift hits all pairs alike;
 *  within a configuration the pair order rotates each repeat. */
export function runOrder<T>(groups: T[][], repeats: number): { item: T; repeat: number }[] {
  const out: { item: T; repeat: number }[] = [];
  for (let r = 0; r < repeats; r++) {
    for (const g of groups) {
      for (let i = 0; i < g.length; i++) out.push({ item: g[(i + r) % g.length]!, repeat: r });
    }
  }
  return out;
}

export const scenarioKey = (s: MemifScenario): string => `${s.kind} ${s.pair} ${s.size}B burst${s.burst} ${s.mode} q${s.queues}`;
/** The configuration of s (without the pair): rows of the same configuration share a reference. */
export const configKey = (s: Pick<MemifScenario, 'size' | 'burst' | 'queues'>): string => `${s.size}B burst${s.burst} q${s.queues}`;

/** Percentile by nearest rank on sorted (or unsorted, then sorted) values; the median of an even count is the mean of the middle two. */
export function percentile(xs: readonly number[], p: number, sorted = false): number {
  if (xs.length === 0) return NaN;
  const a = sorted ? xs : [...xs].sort((x, y) => x - y);
  if (p === 50) {
    const m = a.length >> 1;
    return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
  }
  const rank = Math.ceil((p / 100) * a.length - 1e-9); // 0.999 * 1000 is 999.0000000000001
  return a[Math.min(a.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary { median: number; min: number; max: number; n: number }

export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: percentile(xs, 50), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** Spread of a summary as ± percent of the median (half the min..max range). */
export const noisePct = (s: Summary): number => (s.median > 0 ? ((s.max - s.min) / 2 / s.median) * 100 : NaN);
