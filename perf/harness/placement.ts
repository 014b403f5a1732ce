// How far apart the two CPUs the memif pairs run on are, right now: the round trip of one cache
// line between two processes pinned one per CPU (CPU 0 and 1, as the pairs are). On a VM the host
// may put the two vCPUs on cores that share a cache or on cores that do not, for seconds at a
// time, and every pair's rate follows (docs/perf.md, "The VM's two levels"): the harness measures
// this just before each memif round so the report shows which rounds ran far apart.
//
// The line is the first word of a small file both processes map shared: the pinger stores an odd
// value, the ponger answers with the next even one. The figure is the median over batches of 1,000
// round trips (a batch takes 0.3-1 ms), after a warm-up.
//   node dist/perf/harness/placement.js            # one probe, printed
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MappedRegion } from '../../src/sys/index.js';
import { startProc, tempDirRemovedAtExit, type Proc } from '../peers/procs.js';
import { canPin, pinnedNode } from './machine.js';
import { percentile } from './scenarios.js';

const THIS = fileURLToPath(import.meta.url);
const PREFIX = 'PLACEMENT ';
const BATCH = 1000;
/** The ponger gives up after this long without a ping (the pinger died). */
const IDLE_LIMIT_MS = 5000;

export interface Placement {
  /** Median round trip of one cache line between CPU 0 and CPU 1, µs. */
  roundTripUs: number;
  /** The fastest batch's, µs. */
  minUs: number;
  batches: number;
}

/** One probe of `ms` (after 30 ms of warm-up); null when the processes cannot be pinned apart. */
export async function probePlacement(ms = 100): Promise<Placement | null> {
  if (!canPin) return null;
  const tmp = tempDirRemovedAtExit('tsvpp-placement-');
  const file = join(tmp.dir, 'line');
  writeFileSync(file, Buffer.alloc(4096));
  const procs: Proc[] = [];
  const start = (cpu: number, role: string) => {
    const c = pinnedNode(cpu, THIS, ['--role', role, '--file', file, '--ms', String(ms)]);
    const p = startProc({ name: `tsvpp-placement-${role}`, cmd: c.cmd, args: c.args });
    procs.push(p);
    return p;
  };
  try {
    start(0, 'pong');
    const ping = start(1, 'ping');
    const m = await ping.waitFor(new RegExp(`^${PREFIX}(.*)\\n`, 'm'), 15_000 + ms);
    return JSON.parse(m[1]!) as Placement;
  } finally {
    await Promise.all(procs.map((p) => p.stop(2000)));
    tmp.remove();
  }
}

/** Classes rounds by placement: near when a round's round trip is within twice the fastest seen. */
export function nearLimit(roundTripsUs: readonly number[]): number {
  const ok = roundTripsUs.filter((x) => Number.isFinite(x) && x > 0);
  return ok.length ? 2 * Math.min(...ok) : Infinity;
}

function child(role: string, file: string, ms: number): void {
  const fd = openSync(file, 'r+');
  const region = MappedRegion.map(fd, 4096);
  closeSync(fd);
  const w = new Int32Array(region.buffer);
  if (role === 'pong') {
    // Answers until the pinger writes -1; quits when nothing comes for IDLE_LIMIT_MS.
    let last = 0;
    let idleSince = performance.now();
    for (let spins = 0; ; spins++) {
      const v = Atomics.load(w, 0);
      if (v < 0) break;
      if (v !== last && (v & 1) === 1) {
        Atomics.store(w, 0, v + 1);
        last = v + 1;
        spins = 0;
        idleSince = -1;
        continue;
      }
      if ((spins & 0xffff) === 0xffff) {
        const now = performance.now();
        if (idleSince < 0) idleSince = now;
        else if (now - idleSince > IDLE_LIMIT_MS) throw new Error(`placement probe: no ping for ${IDLE_LIMIT_MS} ms`);
      }
    }
    return;
  }
  let v = 0;
  const trip = (): void => {
    Atomics.store(w, 0, v + 1);
    const want = v + 2;
    while (Atomics.load(w, 0) !== want);
    v = want;
  };
  // The ponger may start later than we do: the first round trip waits for it.
  trip();
  const warm = performance.now() + 30;
  while (performance.now() < warm) for (let i = 0; i < BATCH; i++) trip();
  const us: number[] = [];
  const end = performance.now() + ms;
  for (let t = performance.now(); t < end;) {
    for (let i = 0; i < BATCH; i++) trip();
    const t1 = performance.now();
    us.push(((t1 - t) * 1000) / BATCH);
    t = t1;
  }
  Atomics.store(w, 0, -1);
  const sorted = us.sort((a, b) => a - b);
  const r: Placement = { roundTripUs: percentile(sorted, 50, true), minUs: sorted[0]!, batches: sorted.length };
  process.stdout.write(`${PREFIX}${JSON.stringify(r)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
  const role = arg('--role');
  if (role) child(role, arg('--file')!, Number(arg('--ms') ?? 100));
  else console.log(JSON.stringify(await probePlacement(Number(arg('--ms') ?? 100))));
}
