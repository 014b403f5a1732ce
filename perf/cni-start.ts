// Start-up time of the tsvpp-cni executable: runs `CNI_COMMAND=VERSION` (answered locally, so this
// is process start + module loading) N times and prints min/median/p90 wall time in ms, next to a
// bare `node -e 0` baseline. Usage: node dist/perf/cni-start.js [N]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = join(here, '../src/cni/cni-main.cjs');

/** The goal for tsvpp-cni's own start-up cost: its median over a bare `node -e 0`, in ms. The
 *  kubelet runs it for every pod ADD/DEL/CHECK, so it must stay a thin forwarder. */
export const CNI_START_OVERHEAD_GOAL_MS = 250;

/** "overhead 21.4 ms (goal < 250 ms: met)" from the two medians. */
export function overheadVerdict(cniMedian: number, baseMedian: number): string {
  const o = cniMedian - baseMedian;
  return `overhead ${o.toFixed(1)} ms (goal < ${CNI_START_OVERHEAD_GOAL_MS} ms: ${o < CNI_START_OVERHEAD_GOAL_MS ? 'met' : 'MISSED'})`;
}

export function measure(args: string[], env: NodeJS.ProcessEnv, input: string, n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { env, input });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    times.push(ms);
  }
  return times.sort((a, b) => a - b);
}

export function stats(t: number[]): { min: number; median: number; p90: number } {
  return { min: t[0]!, median: t[Math.floor(t.length / 2)]!, p90: t[Math.floor(t.length * 0.9)]! };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = Number(process.argv[2] ?? 20);
  const base = stats(measure(['-e', '0'], {}, '', n));
  const cni = stats(measure([CNI_MAIN], { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}', n));
  const f = (s: { min: number; median: number; p90: number }) => `min ${s.min.toFixed(1)}  median ${s.median.toFixed(1)}  p90 ${s.p90.toFixed(1)} ms`;
  console.log(`node -e 0      : ${f(base)}`);
  console.log(`tsvpp-cni      : ${f(cni)}`);
  console.log(`median ${overheadVerdict(cni.median, base.median)}`);
}
