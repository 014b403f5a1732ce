// Runs one memif scenario (one pair, one configuration) once and returns its figure. Every tsvpp
// side is its own process (perf/harness/endpoint.ts or `tsvpp memif echo`), pinned with taskset
// to the CPU opposite its peer when the machine has two or more; testpmd pins itself (--lcores).
// The receiver measures: a tsvpp sink counts what arrived, testpmd rxonly reports Rx-pps.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProc, tempDirRemovedAtExit, type Proc } from '../peers/procs.js';
import { pinnedNode } from './machine.js';
import type { Testpmd, TestpmdOptions } from '../peers/testpmd.js';
import { RESULT_PREFIX } from './endpoint.js';
import { WARMUP_MS } from '../memif/window.js';
import { type MemifScenario, type RunFigure, percentile } from './scenarios.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ENDPOINT = join(HERE, 'endpoint.js');
const TSVPP_MAIN = join(HERE, '..', '..', 'src', 'cli', 'main.js');

export interface RunOptions {
  /** Measured time per throughput run. */
  durationMs: number;
  /** Round trips per latency run. */
  pingCount: number;
  /** Copy children's output to stderr. */
  verbose?: boolean;
}


function endpoint(cpu: number, job: string, socket: string, role: 'master' | 'slave', s: MemifScenario, extra: string[], verbose?: boolean): Proc {
  const args = ['--job', job, '--socket', socket, '--role', role, '--size', String(s.size), '--burst', String(s.burst),
    '--queues', String(s.queues), '--mode', s.mode, ...extra];
  const c = pinnedNode(cpu, ENDPOINT, args);
  return startProc({ name: `tsvpp-${job}`, cmd: c.cmd, args: c.args, echo: verbose });
}

function echoPeer(cpu: number, socket: string, role: 'master' | 'slave', s: MemifScenario, verbose?: boolean): Proc {
  const c = pinnedNode(cpu, TSVPP_MAIN, ['memif', 'echo', '--socket', socket, '--role', role, '--queues', String(s.queues),
    '--rx-mode', s.mode, '--stats-interval', '0']);
  return startProc({ name: 'tsvpp-echo', cmd: c.cmd, args: c.args, echo: verbose });
}

async function result<T>(p: Proc, timeoutMs: number): Promise<T> {
  const m = await p.waitFor(new RegExp(`^${RESULT_PREFIX}(.*)\\n`, 'm'), timeoutMs);
  return JSON.parse(m[1]!) as T;
}

interface Rate { mpps: number; gbps: number; lost?: number; corrupted?: number; firstError?: string }

const fromRate = (r: Rate, extra: Partial<RunFigure> = {}): RunFigure => ({
  mpps: r.mpps, gbps: r.gbps, lost: r.lost ?? 0, corrupted: r.corrupted ?? 0, ...(r.firstError ? { error: r.firstError } : {}), ...extra,
});

/** Throughput from testpmd's periodic Rx-pps: the median of the full intervals with traffic. */
export function testpmdRate(series: number[], size: number): { mpps: number; gbps: number; samples: number } {
  const live = series.filter((x) => x > 0).slice(1); // the first live interval is partial
  const pps = live.length ? percentile(live, 50) : 0;
  return { mpps: pps / 1e6, gbps: (pps * size * 8) / 1e9, samples: live.length };
}

export async function runMemifScenario(s: MemifScenario, o: RunOptions): Promise<RunFigure> {
  const tmp = tempDirRemovedAtExit('tsvpp-perf-');
  const sock = join(tmp.dir, 'memif.sock');
  const procs: Proc[] = [];
  const pmds: Testpmd[] = [];
  const D = o.durationMs;
  const wait = D + 45_000;
  const pmd = async (opts: Omit<TestpmdOptions, 'socket'>) => {
    const { startTestpmd } = await import('../peers/testpmd.js');
    const t = await startTestpmd({ ...opts, socket: sock, queues: s.queues, burst: s.burst, echo: o.verbose });
    pmds.push(t);
    return t;
  };
  const ep = (cpu: number, job: string, role: 'master' | 'slave', extra: string[] = []) => {
    const p = endpoint(cpu, job, sock, role, s, extra, o.verbose);
    procs.push(p);
    return p;
  };
  const listening = (p: Proc) => p.waitFor(/listening:/, 15_000);
  try {
    const dur = ['--duration-ms', String(D), '--warmup-ms', String(WARMUP_MS)];
    switch (s.pair) {
      case 'tsvpp->tsvpp': {
        const sink = ep(0, 'sink', 'master', [...dur, '--check']);
        await listening(sink);
        ep(1, 'gen', 'slave', ['--duration-ms', String(D + 20_000)]);
        return fromRate(await result<Rate>(sink, wait));
      }
      case 'tsvpp->testpmd': {
        const rxp = await pmd({ role: 'server', forwardMode: 'rxonly' });
        const gen = ep(1, 'gen', 'slave', dur);
        const r = await result<Rate>(gen, wait);
        const pr = testpmdRate(rxp.stats().rxPpsSeries, s.size);
        return fromRate(r, { peerMpps: pr.mpps });
      }
      case 'testpmd->tsvpp': {
        const sink = ep(0, 'sink', 'master', dur);
        await listening(sink);
        await pmd({ role: 'client', forwardMode: 'txonly', txpkts: s.size });
        return fromRate(await result<Rate>(sink, wait));
      }
      case 'testpmd->testpmd': {
        const rxp = await pmd({ role: 'server', forwardMode: 'rxonly' });
        await pmd({ role: 'client', forwardMode: 'txonly', txpkts: s.size });
        // Intervals are ~2 s: wait for at least two full ones with traffic (or D, if longer).
        const t0 = Date.now();
        await rxp.waitStats((st) => st.rxPpsSeries.filter((x) => x > 0).length >= 3 && Date.now() - t0 >= D, wait);
        const r = testpmdRate(rxp.stats().rxPpsSeries, s.size);
        return { mpps: r.mpps, gbps: r.gbps, lost: 0, corrupted: 0 };
      }
      case 'tsvpp<->tsvpp': {
        // The reflector is the slave: it owns every buffer, so it forwards without copying
        // (MemifConnection.forward), as a libmemif slave does with memif_buffer_enq_tx.
        const checker = ep(1, 'echo', 'master', dur);
        await listening(checker);
        procs.push(echoPeer(0, sock, 'slave', s, o.verbose));
        return fromRate(await result<Rate>(checker, wait));
      }
      case 'tsvpp(slave)<->testpmd': {
        await pmd({ role: 'server', forwardMode: 'macswap', mbufSize: s.size > 1900 ? s.size + 256 : undefined });
        return fromRate(await result<Rate>(ep(1, 'echo', 'slave', dur), wait));
      }
      case 'tsvpp(master)<->testpmd': {
        const e = ep(0, 'echo', 'master', dur);
        await listening(e);
        await pmd({ role: 'client', forwardMode: 'macswap', mbufSize: s.size > 1900 ? s.size + 256 : undefined });
        return fromRate(await result<Rate>(e, wait));
      }
      default: throw new Error(`unknown memif pair '${s.pair}'`);
    }
  } finally {
    await Promise.all([...procs.map((p) => p.stop(3000)), ...pmds.map((p) => p.stop(5000))]);
    tmp.remove();
  }
}

export interface LatencyFigure { p50: number; p99: number; p999: number; count: number; lost: number; error?: string }

export async function runLatencyScenario(s: MemifScenario, o: RunOptions): Promise<LatencyFigure> {
  const tmp = tempDirRemovedAtExit('tsvpp-perf-');
  const sock = join(tmp.dir, 'memif.sock');
  const procs: Proc[] = [];
  let tp: Testpmd | null = null;
  try {
    // tsvpp <-> tsvpp: the reflector is the slave (zero-copy, as in the throughput echo), so the
    // pinger listens first; testpmd is the server.
    const self = s.pair === 'tsvpp<->tsvpp';
    if (!self) {
      const { startTestpmd } = await import('../peers/testpmd.js');
      tp = await startTestpmd({ role: 'server', socket: sock, forwardMode: 'io', echo: o.verbose });
    }
    const args = ['--job', 'pingpong', '--socket', sock, '--role', self ? 'master' : 'slave', '--size', String(s.size), '--count', String(o.pingCount)];
    const c = pinnedNode(1, ENDPOINT, args);
    const p = startProc({ name: 'tsvpp-pingpong', cmd: c.cmd, args: c.args, echo: o.verbose });
    procs.push(p);
    if (self) {
      await p.waitFor(/listening:/, 15_000);
      procs.push(echoPeer(0, sock, 'slave', s, o.verbose));
    }
    const r = await result<LatencyFigure & { firstError?: string }>(p, 60_000 + o.pingCount);
    return { p50: r.p50, p99: r.p99, p999: r.p999, count: r.count, lost: r.lost, ...(r.firstError ? { error: r.firstError } : {}) };
  } finally {
    await Promise.all([...procs.map((p) => p.stop(3000)), ...(tp ? [tp.stop(5000)] : [])]);
    tmp.remove();
  }
}
