// One-way memif traffic: a generator that only transmits numbered packets (the same layout as
// traffic.ts: queue at 14..15, seq u32 LE at 16..19) and a sink that only receives and, for tsvpp
// generators, checks the length and the per-queue sequence. memif has back-pressure (a full ring
// stops the sender), so with a tsvpp sink nothing is lost and the rate is min(sender, receiver).
import { RxBurst, type MemifConnection } from '../../src/memif/index.js';
import { makeTemplate, StampedPool, stampedQueue, stampedSeq } from './traffic.js';
import { TimedWindow } from './window.js';

export interface GenOptions {
  size: number;
  /** Transmit for this long (after the warm-up). */
  durationMs: number;
  /** Untimed traffic first (JIT warm-up; see window.ts). Default 0. */
  warmupMs?: number;
  burst?: number;
  /** Stop earlier after this many packets (default: no limit). */
  packets?: number;
}

export interface GenResult {
  tx: number; seconds: number; mpps: number; gbps: number;
  /** Packets per second of the process's CPU time, millions: the sender's own cost, however much of
   *  a core a loaded machine gave it (a sender that waits on a full ring spends CPU spinning too). */
  cpuMpps: number;
  firstError?: string;
}

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** Packets per CPU-second (user + system, all threads) since `cpu0`, millions. */
export const perCpuSecond = (n: number, cpu0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(cpu0);
  return n / ((c.user + c.system) / 1e6 || 1e-9) / 1e6;
};

// The loops read the clock (performance.now(), a double: no BigInt and no allocation per burst)
// every CLOCK_SPINS loops, and take the time of the last packet from there: with 32-packet bursts
// that is at most 2048 packets late, ~0.01 % of a 2 s run at 15 Mpps.
const CLOCK_SPINS = 63;

export async function runGenerator(conn: MemifConnection, o: GenOptions): Promise<GenResult> {
  const queues = conn.tx.length;
  const size = o.size;
  const template = makeTemplate(size);
  const burst = o.burst ?? 32;
  // Packets are built in private memory (stamping them there is cheap) and copied into the ring
  // by tx(), which copies and writes each descriptor in one pass, as DPDK's copy mode does.
  const pools = Array.from({ length: queues }, (_, q) => new StampedPool(template, burst, q));
  const sent = new Float64Array(queues);
  const limit = o.packets ?? Infinity;
  let tx = 0;
  let spins = 0;
  const cpu0 = process.cpuUsage();
  const win = new TimedWindow(o.warmupMs ?? 0, o.durationMs);
  win.begin(performance.now());
  while (conn.open && tx < limit) {
    let moved = 0;
    for (let q = 0; q < queues; q++) {
      const want = Math.min(burst, limit - tx);
      const n = conn.txBurst(q, pools[q]!.ready(sent[q]!, want), want);
      if (n === 0) continue;
      sent[q]! += n;
      tx += n;
      moved += n;
    }
    if ((++spins & CLOCK_SPINS) === 0) {
      const now = performance.now();
      win.tick(now, tx);
      if (now >= win.end) break;
      if ((spins & 0x3fff) === 0 || moved === 0) await yieldNow();
    }
  }
  win.finish(() => performance.now(), tx);
  const { count, seconds } = win.result(tx);
  const firstError = !conn.open ? 'the memif connection went down during the run'
    : count === 0 ? `nothing was sent after the ${win.warmupMs} ms warm-up` : undefined;
  return {
    tx, seconds, mpps: count / seconds / 1e6, gbps: (count * size * 8) / seconds / 1e9, cpuMpps: perCpuSecond(tx, cpu0),
    ...(firstError ? { firstError } : {}),
  };
}

export interface SinkOptions {
  /** Expected frame size; undefined accepts any (foreign generators such as testpmd txonly). */
  size?: number;
  /** Check the queue and sequence stamps (only for tsvpp generators). */
  check: boolean;
  /** Measure for this long after the first packet (and the warm-up). */
  durationMs: number;
  /** Untimed traffic after the first packet (JIT warm-up; see window.ts). Default 0. */
  warmupMs?: number;
  /** Give up when nothing arrives for this long (before the first packet: startMs). */
  idleMs?: number;
  startMs?: number;
  burst?: number;
  mode?: 'polling' | 'interrupt';
}

export interface SinkResult {
  rx: number; bytes: number; lost: number; corrupted: number; seconds: number; mpps: number; gbps: number; firstError?: string;
}

export async function runSink(conn: MemifConnection, o: SinkOptions): Promise<SinkResult> {
  const queues = conn.rx.length;
  const burst = o.burst ?? 32;
  const rxb = new RxBurst(burst, burst * 8);
  const expect = new Float64Array(queues);
  const mode = o.mode ?? 'polling';
  let rx = 0, bytes = 0, lost = 0, corrupted = 0;
  let firstError: string | undefined;
  const fail = (msg: string) => { corrupted++; firstError ??= msg; };
  let wake: (() => void) | null = null;
  for (let q = 0; q < queues; q++) {
    if (mode === 'interrupt') conn.onInterrupt(q, () => { const w = wake; wake = null; w?.(); });
    else conn.setRxMode(q, 'polling');
  }
  const win = new TimedWindow(o.warmupMs ?? 0, o.durationMs);
  let rxAtCheck = 0;
  const startBy = performance.now() + (o.startMs ?? 15_000);
  const idleMs = o.idleMs ?? 1000;
  let lastMove = performance.now();
  let spins = 0;
  while (conn.open) {
    let moved = 0;
    for (let q = 0; q < queues; q++) {
      const k = conn.rxBurst(q, rxb);
      if (k === 0) continue;
      if (!win.begun) win.begin(performance.now(), rx, bytes);
      for (let i = 0; i < k; i++) {
        const len = rxb.pktLength[i]!;
        bytes += len;
        if (!o.check) continue;
        if (o.size !== undefined && len !== o.size) { fail(`queue ${q}: packet of ${len} bytes, sent ${o.size}`); continue; }
        const f = rxb.pktFirstSeg[i]!;
        const buf = rxb.regions[rxb.segRegion[f]!]!;
        const off = rxb.segOffset[f]!;
        const pq = stampedQueue(buf, off);
        const seq = stampedSeq(buf, off);
        if (pq !== q) { fail(`queue ${q}: packet stamped for queue ${pq}`); continue; }
        const e = expect[q]!;
        if (seq === e) expect[q] = e + 1;
        else if (seq > e) { lost += seq - e; expect[q] = seq + 1; }
        else fail(`queue ${q}: seq ${seq} arrived when ${e} was expected (duplicate or reordered)`);
      }
      rx += k;
      moved += k;
      conn.release(q, k);
    }
    // An empty poll reads no clock either (it cost more than the poll itself): interrupt mode
    // goes to sleep at once, polling looks at the clock every CLOCK_SPINS loops like a busy one.
    if ((++spins & CLOCK_SPINS) === 0 || (moved === 0 && mode === 'interrupt')) {
      const now = performance.now();
      win.tick(now, rx, bytes);
      if (rx !== rxAtCheck) { lastMove = now; rxAtCheck = rx; }
      if (now >= win.end) break;
      if (!win.begun ? now > startBy : now - lastMove > idleMs) break;
      if (moved === 0) {
        if (mode === 'interrupt') await new Promise<void>((r) => { wake = r; setTimeout(r, 20); });
        else if ((spins & 255) === 0) await yieldNow();
      } else if ((spins & 0x3fff) === 0) await yieldNow();
    }
  }
  if (mode === 'interrupt') for (let q = 0; q < queues; q++) conn.onInterrupt(q, null);
  if (!conn.open) firstError ??= 'the memif connection went down during the run';
  if (rx === 0) firstError ??= 'nothing arrived';
  win.finish(() => performance.now(), rx);
  const timed = win.result(rx, bytes);
  if (rx > 0 && timed.count === 0) firstError ??= `the traffic stopped within the ${win.warmupMs} ms warm-up`;
  const seconds = timed.seconds;
  return { rx, bytes, lost, corrupted, seconds, mpps: timed.count / seconds / 1e6, gbps: (timed.bytes * 8) / seconds / 1e9, firstError };
}
