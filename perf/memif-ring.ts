/**
 * Benchmark (not a test): single-thread memif ring throughput through the MemifQueue API on plain
 * ArrayBuffers. One iteration = producer tx() of a burst (copy into shared buffers), consumer
 * rx() (zero-copy; with rxCopy also copyPacket into a reusable buffer) and release().
 * GC activity during the timed loop is counted, to show the data path does not allocate per packet.
 *
 *   node dist/perf/memif-ring.js [--ms 1000]          # full matrix
 *   import { benchRing } from './memif-ring.js'; await benchRing({ direction: 's2m', size: 64, burst: 32 })
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  RxBurst,
  TxBurst,
  createMasterQueue,
  createSlaveQueues,
  initSharedMemory,
  planRegions,
  type MemifQueue,
} from '../src/memif/ring/index.js';

export interface BenchOptions {
  /** s2m: slave -> master; m2s: master -> slave. */
  direction: 's2m' | 'm2s';
  /** Packet size in bytes. */
  size: number;
  burst: number;
  log2RingSize?: number;
  bufferSize?: number;
  durationMs?: number;
  /** Zero-copy transmit (allocTx + TxBurst.write + commitTx) instead of tx(). */
  zeroCopyTx?: boolean;
  /** Also copy every received packet out of shared memory. */
  rxCopy?: boolean;
  /** The sender alone: the receiving side only hands every slot back (its index moved by hand), so
   *  the figure is what one transmit costs, copy and descriptors included. */
  txOnly?: boolean;
}

export interface BenchResult extends Required<BenchOptions> {
  packets: number;
  seconds: number;
  mpps: number;
  /** Packets per second of this process's CPU time (user + system), millions: what the code costs,
   *  whatever share of a core a loaded machine gave it. */
  cpuMpps: number;
  gbps: number;
  /** GC events and total GC pause during the timed loop. */
  gcCount: number;
  gcMs: number;
  heapDeltaBytes: number;
}

export async function benchRing(opts: BenchOptions): Promise<BenchResult> {
  const o: Required<BenchOptions> = {
    log2RingSize: 10,
    bufferSize: 2048,
    durationMs: 1000,
    zeroCopyTx: false,
    rxCopy: false,
    txOnly: false,
    ...opts,
  };
  const plan = planRegions({ s2mRings: 1, m2sRings: 1, log2RingSize: o.log2RingSize, bufferSize: o.bufferSize });
  const regions = plan.regions.map((r) => new ArrayBuffer(r.size));
  initSharedMemory(plan, regions);
  const slave = createSlaveQueues(plan, regions);
  const mS2m = createMasterQueue(plan.s2m[0]!, regions);
  const mM2s = createMasterQueue(plan.m2s[0]!, regions);
  for (const q of [mS2m, mM2s, slave.s2m[0]!, slave.m2s[0]!]) q.reset();
  const [tx, rx]: [MemifQueue, MemifQueue] = o.direction === 's2m' ? [slave.s2m[0]!, mS2m] : [mM2s, slave.m2s[0]!];

  const pkts = Array.from({ length: o.burst }, (_, i) => new Uint8Array(o.size).fill(i & 0xff));
  const sizes = new Array<number>(o.burst).fill(o.size);
  const rxb = new RxBurst(o.burst);
  const txb = new TxBurst(o.burst);
  const sink = new Uint8Array(Math.max(o.size, 16));

  const iterate = (): number => {
    let sent: number;
    if (o.zeroCopyTx) {
      sent = tx.allocTx(txb, o.burst, sizes);
      for (let i = 0; i < sent; i++) txb.write(i, pkts[i]!);
      tx.commitTx();
    } else {
      sent = tx.tx(pkts, o.burst);
    }
    if (o.txOnly) {
      // Hand everything back as a receiver that keeps up would: tail (S2M) or head (M2S) moves.
      if (o.direction === 's2m') tx.ring.storeTail(tx.ring.loadHead());
      else rx.ring.storeHead((rx.ring.loadTail() + tx.size) & 0xffff);
      return sent;
    }
    const n = rx.rx(rxb, o.burst);
    if (o.rxCopy) for (let i = 0; i < n; i++) rxb.copyPacket(i, sink);
    rx.release(n);
    if (n !== sent) throw new Error(`bench: sent ${sent}, received ${n}`);
    return n;
  };

  // warm up (JIT), then measure in chunks until the duration is reached
  const warmEnd = performance.now() + Math.min(300, o.durationMs / 2);
  while (performance.now() < warmEnd) for (let i = 0; i < 100; i++) iterate();

  let gcCount = 0;
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      gcMs += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const heap0 = process.memoryUsage().heapUsed;
  let packets = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < o.durationMs) {
    for (let i = 0; i < 200; i++) packets += iterate();
    t1 = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const heapDeltaBytes = process.memoryUsage().heapUsed - heap0;
  // GC entries are delivered asynchronously: let the observer run before reading the counts.
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  const seconds = (t1 - t0) / 1000;
  const mpps = packets / seconds / 1e6;
  const cpuMpps = packets / ((cpu.user + cpu.system) / 1e6) / 1e6;
  return { ...o, packets, seconds, mpps, cpuMpps, gbps: (mpps * 1e6 * o.size * 8) / 1e9, gcCount, gcMs, heapDeltaBytes };
}

function formatRow(r: BenchResult): string {
  const mode = r.zeroCopyTx ? (r.txOnly ? 'allocTx alone' : 'allocTx+commit') : r.txOnly ? 'tx alone' : r.rxCopy ? 'tx + rx copy' : 'tx + zero-copy rx';
  return (
    `${r.direction.padEnd(9)} ${String(r.size).padStart(5)} ${String(r.burst).padStart(6)}  ${mode.padEnd(17)} ` +
    `${r.mpps.toFixed(2).padStart(6)} ${r.cpuMpps.toFixed(2).padStart(8)} ${r.gbps.toFixed(1).padStart(8)} ${String(r.gcCount).padStart(5)} ${r.gcMs.toFixed(1).padStart(6)}`
  );
}

/** Full matrix; each case runs in its own Node process so JIT feedback from one case cannot slow another. */
async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => (argv.indexOf(name) >= 0 ? argv[argv.indexOf(name) + 1] : undefined);
  const one = arg('--case');
  if (one !== undefined) {
    console.log(JSON.stringify(await benchRing(JSON.parse(one) as BenchOptions)));
    return;
  }
  const durationMs = Number(arg('--ms') ?? 1000);
  const { execFileSync } = await import('node:child_process');
  const self = process.argv[1]!;
  console.log(`node ${process.version}, ${durationMs} ms per case (own process each), ring 1024 x 2048 B, single thread`);
  console.log('direction  size  burst  mode              Mpps  Mpps/CPU   Gbit/s     gc  gc ms');
  const cases: BenchOptions[] = [];
  for (const direction of ['s2m', 'm2s'] as const)
    for (const size of [64, 1500]) for (const burst of [32, 256]) cases.push({ direction, size, burst });
  for (const direction of ['s2m', 'm2s'] as const) {
    cases.push({ direction, size: 64, burst: 32, txOnly: true });
    cases.push({ direction, size: 1500, burst: 32, txOnly: true });
    cases.push({ direction, size: 64, burst: 32, rxCopy: true });
    cases.push({ direction, size: 1500, burst: 32, rxCopy: true });
    cases.push({ direction, size: 64, burst: 32, zeroCopyTx: true });
    cases.push({ direction, size: 64, burst: 32, zeroCopyTx: true, txOnly: true });
    cases.push({ direction, size: 9000, burst: 32 });
  }
  for (const c of cases) {
    const out = execFileSync(process.execPath, [self, '--case', JSON.stringify({ ...c, durationMs })], { encoding: 'utf8' });
    console.log(formatRow(JSON.parse(out) as BenchResult));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
