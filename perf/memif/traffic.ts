// The perf sender/checker: sends numbered packets through a connected memif to an echoing peer and
// checks every packet that comes back — length, sequence number per queue, and every byte after the
// Ethernet addresses (so MAC-swapping reflectors such as testpmd macswap or `tsvpp memif echo` work).
//
// Packet: [0..11] MACs, [12..13] ethertype 0x88b5 (local experimental), [14..15] queue, [16..19] seq
// (u32 LE), [20..] a fixed byte pattern. The sender keeps at most `window` packets in flight per
// queue so an echoing peer with rings of the same size never has to drop.
import { RxBurst, type MemifConnection } from '../../src/memif/index.js';
import { TimedWindow } from './window.js';

export interface TrafficOptions {
  /** Frame size in bytes (>= 20). */
  size: number;
  /** Packets to send in all (spread over the queues). Default: no count, durationMs ends the run. */
  packets?: number;
  burst?: number;
  /** Packets in flight per queue. Default: 3/4 of what one ring holds. */
  window?: number;
  /** interrupt: sleep on the rx eventfd when idle; polling: spin. */
  mode?: 'polling' | 'interrupt';
  /** Give up waiting for the last packets after this long without progress. Default 2000 ms. */
  idleTimeoutMs?: number;
  /** Stop sending after this long (after the warm-up) even if fewer than `packets` went (a time-bounded run). */
  durationMs?: number;
  /** Untimed traffic first (JIT warm-up; see window.ts): checked, but left out of the rate. Default 0. */
  warmupMs?: number;
  onProgress?: (p: { tx: number; rx: number }) => void;
  /** Aborted: send nothing more, wait for what is in flight, and return what was measured (`interrupted`). */
  signal?: AbortSignal;
}

export interface TrafficResult {
  tx: number;
  rx: number;
  lost: number;
  corrupted: number;
  seconds: number;
  /** Echoed packets per second, millions. */
  mpps: number;
  /** Echoed bits per second (frame bytes), billions. */
  gbps: number;
  firstError?: string;
  /** The signal stopped the run before all `packets` were sent. */
  interrupted?: boolean;
}

const ETHERTYPE = 0x88b5;
/** Milliseconds the polling loop keeps the thread before the event loop gets a turn. */
const SLICE_MS = 2;
const HDR = 20;

/** Writes the queue and sequence stamps (bytes 14..19) into a packet built from makeTemplate. */
export function stampPacket(p: Uint8Array, q: number, seq: number): void {
  p[14] = q & 0xff; p[15] = q >> 8;
  p[16] = seq & 0xff; p[17] = (seq >>> 8) & 0xff; p[18] = (seq >>> 16) & 0xff; p[19] = (seq >>> 24) & 0xff;
}

/** The queue stamp of a received packet whose first segment starts at buf[off]. */
export const stampedQueue = (buf: Uint8Array, off: number): number => buf[off + 14]! | (buf[off + 15]! << 8);
/** Its sequence stamp. */
export const stampedSeq = (buf: Uint8Array, off: number): number =>
  (buf[off + 16]! | (buf[off + 17]! << 8) | (buf[off + 18]! << 16)) + buf[off + 19]! * 16777216;

/**
 * One queue's outgoing packets, built in private memory and stamped with consecutive sequence
 * numbers. A full ring sends nothing; the pool is stamped again only once something was sent.
 */
export class StampedPool {
  readonly packets: Uint8Array[];
  #first = -1;
  #count = 0;

  constructor(template: Uint8Array, size: number, readonly queue: number) {
    this.packets = Array.from({ length: size }, () => template.slice());
  }

  /** The pool with its first `n` packets numbered from `seq`. */
  ready(seq: number, n: number): Uint8Array[] {
    if (seq !== this.#first || n > this.#count) {
      for (let i = 0; i < n; i++) stampPacket(this.packets[i]!, this.queue, seq + i);
      this.#first = seq;
      this.#count = n;
    }
    return this.packets;
  }
}

export function makeTemplate(size: number): Uint8Array {
  if (!Number.isInteger(size) || size < HDR) throw new RangeError(`packet size must be an integer >= ${HDR}, got ${size}`);
  const t = new Uint8Array(size);
  t.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0);
  t[12] = ETHERTYPE >> 8;
  t[13] = ETHERTYPE & 0xff;
  for (let k = HDR; k < size; k++) t[k] = (k * 31 + 7) & 0xff;
  return t;
}

export async function runEchoTraffic(conn: MemifConnection, o: TrafficOptions): Promise<TrafficResult> {
  const queues = Math.min(conn.tx.length, conn.rx.length);
  const size = o.size;
  const template = makeTemplate(size);
  const burst = o.burst ?? 32;
  const ringSize = conn.tx[0]!.queue.size;
  const bufSize = 2048;
  const segsPerPkt = Math.max(1, Math.ceil(size / bufSize));
  const window = o.window ?? Math.max(1, Math.floor((ringSize / segsPerPkt) * 0.75));
  const rxb = new RxBurst(burst, burst * (segsPerPkt + 1));
  const pools = Array.from({ length: queues }, (_, q) => new StampedPool(template, burst, q));
  const packets = o.packets ?? Infinity;
  if (packets === Infinity && !((o.durationMs ?? Infinity) < Infinity) && !o.signal) throw new RangeError('runEchoTraffic: neither packets nor durationMs nor a signal ends the run');
  const perQueue = Array.from({ length: queues }, (_, q) => Math.floor(packets / queues) + (q < packets % queues ? 1 : 0));
  const sent = new Float64Array(queues);
  const check = new EchoCheck(template, queues);
  let tx = 0;
  const idleTimeout = o.idleTimeoutMs ?? 2000;
  const mode = o.mode ?? 'polling';
  let wake: (() => void) | null = null;
  if (mode === 'interrupt') {
    for (let q = 0; q < queues; q++) conn.onInterrupt(q, () => { const w = wake; wake = null; w?.(); });
  } else {
    for (let q = 0; q < queues; q++) conn.setRxMode(q, 'polling');
  }

  // performance.now() is a double (hrtime.bigint() allocated per burst).
  const t0 = performance.now();
  const win = new TimedWindow(o.warmupMs ?? 0, o.durationMs ?? Infinity);
  win.begin(t0);
  let lastProgress = t0;
  let lastKick = t0;
  let target = packets;
  let lastReport = 0;
  let spins = 0;
  let slice = performance.now();
  let progressed = false;
  let interrupted = false;

  while (conn.open) {
    let moved = 0;
    for (let q = 0; q < queues; q++) {
      // Transmit up to the window.
      const room = Math.min(burst, perQueue[q]! - sent[q]!, window - (sent[q]! - check.got[q]!));
      if (room > 0) {
        // Built and stamped in private memory, copied into the ring by tx() in one pass.
        const n = conn.txBurst(q, pools[q]!.ready(sent[q]!, room), room);
        if (n > 0) {
          sent[q]! += n;
          tx += n;
          moved += n;
        }
      }
      // Receive and check.
      const k = conn.rxBurst(q, rxb);
      if (k > 0) {
        check.burst(q, rxb, k, sent[q]!);
        conn.release(q, k);
        moved += k;
      }
    }
    if (moved > 0) progressed = true;
    if (check.rx + check.lost + check.corrupted >= target) {
      win.finish(() => performance.now(), check.rx);
      break;
    }
    // A clock read costs ~65 ns on this VM, as much as a short burst: look every 16 loops (and at
    // once when interrupt mode has nothing left to do but sleep).
    const sleepNow = moved === 0 && mode === 'interrupt' && tx === target;
    if ((++spins & 15) !== 0 && !sleepNow) continue;
    const now = performance.now();
    win.tick(now, check.rx);
    const stop = now >= win.end || o.signal?.aborted === true;
    if (stop && target > tx) {
      // Time is up (or the caller stops): send nothing more, wait for what is in flight.
      if (o.signal?.aborted) interrupted = true;
      target = tx;
      for (let q = 0; q < queues; q++) perQueue[q] = sent[q]!;
    }
    if (progressed) { lastProgress = now; progressed = false; }
    else if (now - lastProgress > idleTimeout) break;
    else if (mode === 'interrupt' && now - lastKick >= 1) {
      // An interrupt-mode peer may take only part of the ring per kick (VPP: 256 packets), and
      // waits for the next: kick again while it has not taken everything.
      lastKick = now;
      for (let q = 0; q < queues; q++) conn.kick(q);
    }
    if (o.onProgress && now - lastReport >= 250) { lastReport = now; o.onProgress({ tx, rx: check.rx }); }
    if (sleepNow) {
      // All sent: sleep until the peer kicks us (or a short timeout, to notice a dead peer).
      await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
      slice = performance.now();
    } else if (now - slice > SLICE_MS) {
      // Poll in slices of time; between them the event loop runs (control channel, timers).
      await new Promise((r) => setImmediate(r));
      slice = performance.now();
    }
  }
  if (mode === 'interrupt') for (let q = 0; q < queues; q++) conn.onInterrupt(q, null);
  const { rx, corrupted } = check;
  let { lost, firstError } = check;
  // Whatever was sent and neither came back nor was skipped over is lost.
  lost += Math.max(0, tx - rx - lost - corrupted);
  if (!conn.open) firstError ??= 'the memif connection went down during the run';
  const { count, seconds } = win.result(rx);
  if (rx > 0 && count === 0) firstError ??= `the run ended within the ${win.warmupMs} ms warm-up`;
  o.onProgress?.({ tx, rx });
  return { tx, rx, lost, corrupted, seconds, mpps: count / seconds / 1e6, gbps: (count * size * 8) / seconds / 1e9, firstError, ...(interrupted ? { interrupted } : {}) };
}

/**
 * The checks of every packet that comes back, and their counts. A class of its own, not code in
 * runEchoTraffic's loop: that loop is an async function's, and the per-packet checks compiled
 * there cost the echo 10-15 % more (single-process echo, 2026-12-05). Each packet first takes
 * the fast path — one buffer at an aligned offset (how tsvpp, DPDK, VPP and libmemif send),
 * ethertype and queue stamp as one word, the next sequence number, the payload word by word —
 * and anything that path does not pass gets every check one by one, with what was wrong.
 */
class EchoCheck {
  rx = 0;
  lost = 0;
  corrupted = 0;
  firstError: string | undefined = undefined;
  /** Packets received per queue (the window counts them), and the next sequence number expected. */
  readonly got: Float64Array;
  readonly expect: Float64Array;
  readonly #t: Uint8Array;
  readonly #t32: Uint32Array;
  /** Bytes 12..15 of every packet sent on queue q, as one little-endian word: ethertype, queue. */
  readonly #stampWord: Uint32Array;

  constructor(template: Uint8Array, queues: number) {
    this.#t = template;
    this.#t32 = new Uint32Array(template.buffer, template.byteOffset, template.length >>> 2);
    this.got = new Float64Array(queues);
    this.expect = new Float64Array(queues);
    this.#stampWord = Uint32Array.from({ length: queues }, (_, q) => (template[12]! | (template[13]! << 8) | (q << 16)) >>> 0);
  }

  /** Checks the k packets rxb received on queue q, which has sent `sent` so far. */
  burst(q: number, rxb: RxBurst, k: number, sent: number): void {
    const t = this.#t, t32 = this.#t32, size = t.length, words = t32.length;
    const long = size - HDR >= NATIVE_COMPARE_MIN;
    const head = this.#stampWord[q]!;
    const { pktLength, pktFirstSeg, pktSegCount, segRegion, segOffset, regions, regions32 } = rxb;
    const got = this.got, expect = this.expect;
    for (let i = 0; i < k; i++) {
      const f = pktFirstSeg[i]!;
      const off = segOffset[f]!;
      const b32 = regions32[segRegion[f]!];
      const w = off >>> 2;
      if (pktLength[i] === size && pktSegCount[i] === 1 && (off & 3) === 0 && b32 && b32[w + 3] === head && b32[w + 4] === expect[q]) {
        const buf = regions[segRegion[f]!]!;
        let j = HDR;
        if (long) {
          if (bufferCompare.call(t, buf, off + HDR, off + size, HDR, size) === 0) j = size;
        } else {
          j >>>= 2;
          while (j < words && b32[w + j] === t32[j]) j++;
          j <<= 2;
          if (j === words << 2) while (j < size && buf[off + j] === t[j]) j++;
        }
        if (j === size) {
          got[q]!++;
          expect[q]!++;
          this.rx++;
          continue;
        }
      }
      this.one(q, rxb, i, sent);
    }
  }

  /**
   * Every check of packet i, one by one, counting and naming what was wrong. A damaged packet that
   * arrived is corrupted, not also lost: its sequence number is taken whenever it can be trusted
   * (its queue stamp is this queue's, or names no queue of the run and it is the next one expected).
   */
  private one(q: number, rxb: RxBurst, i: number, sent: number): void {
    const size = this.#t.length;
    const len = rxb.pktLength[i]!;
    this.got[q]!++;
    const f = rxb.pktFirstSeg[i]!;
    const buf = rxb.regions[rxb.segRegion[f]!]!;
    const off = rxb.segOffset[f]!;
    if (rxb.segLength[f]! < HDR) return this.fail(`queue ${q}: first segment of ${rxb.segLength[f]} bytes`);
    const pq = stampedQueue(buf, off);
    const seq = stampedSeq(buf, off);
    const e = this.expect[q]!;
    if (pq !== q) {
      // Stamped for a queue this run does not have: this queue's packet with its stamp damaged,
      // which takes its number if it is the next one. Another queue's (sent back on the wrong
      // queue) leaves this queue's numbers alone.
      if (pq >= this.expect.length && seq === e) this.expect[q] = e + 1;
      return this.fail(`queue ${q}: packet stamped for queue ${pq}`);
    }
    if (seq === e) this.expect[q] = e + 1;
    else if (seq > e && seq < sent) { this.lost += seq - e; this.expect[q] = seq + 1; }
    else return this.fail(`queue ${q}: seq ${seq} arrived when ${e} was expected (duplicate or reordered)`);
    if (len !== size) return this.fail(`queue ${q} seq ${seq}: packet of ${len} bytes, sent ${size}`);
    if (samePayload(rxb, i, this.#t, this.#t32)) this.rx++;
    else this.fail(`queue ${q} seq ${seq}: payload differs from what was sent`);
  }

  private fail(msg: string): void {
    this.corrupted++;
    this.firstError ??= msg;
  }
}

/** Segments longer than this are compared by memcmp (Buffer#compare with offsets: one native call,
 *  no view allocated), shorter ones by a word loop, which is cheaper than the call. */
const NATIVE_COMPARE_MIN = 256;
const bufferCompare = Buffer.prototype.compare;

/** Bytes 12.. of received packet i equal the template, except the queue and seq fields (14..19).
 *  Compares 32-bit words where both sides are aligned (buffers are 4-aligned and every segment
 *  but the last holds a multiple of 4 bytes), bytes elsewhere, and long runs with memcmp. */
function samePayload(rxb: RxBurst, i: number, t: Uint8Array, t32: Uint32Array): boolean {
  let s = rxb.pktFirstSeg[i]!;
  const end = s + rxb.pktSegCount[i]!;
  let k = 0; // packet byte index of this segment's first byte
  for (; s < end; s++) {
    const r = rxb.segRegion[s]!;
    const buf = rxb.regions[r]!;
    const buf32 = rxb.regions32[r];
    const off = rxb.segOffset[s]!;
    const len = rxb.segLength[s]!;
    let j = 0;
    if (k === 0) {
      // Ethertype; skip the MACs (a reflector may swap them) and the queue/seq stamp.
      if (buf[off + 12] !== t[12] || buf[off + 13] !== t[13]) return false;
      j = HDR;
    }
    if (len - j >= NATIVE_COMPARE_MIN) {
      if (bufferCompare.call(t, buf, off + j, off + len, k + j, k + len) !== 0) return false;
      j = len;
    } else if (buf32 && ((off + j) & 3) === 0 && ((k + j) & 3) === 0) {
      const words = (len - j) >>> 2;
      const b0 = (off + j) >>> 2;
      const t0 = (k + j) >>> 2;
      for (let w = 0; w < words; w++) if (buf32[b0 + w] !== t32[t0 + w]) return false;
      j += words << 2;
    }
    for (; j < len; j++) if (buf[off + j] !== t[k + j]) return false;
    k += len;
  }
  return true;
}

/** Marks warm-up packets (the queue field), which the measured run never sends. */
const WARMUP_QUEUE = 0xffff;

/**
 * Sends one probe per queue every 100 ms until each queue has echoed one, then drains what is
 * left. Peers may drop what arrives before they forward (testpmd flushes its rx queues when
 * forwarding starts), so measured runs begin only after this. Resolves false on timeout.
 */
export async function warmUp(conn: MemifConnection, size: number, timeoutMs = 10_000): Promise<boolean> {
  const queues = Math.min(conn.tx.length, conn.rx.length);
  const probe = makeTemplate(Math.max(size, HDR));
  probe[14] = WARMUP_QUEUE & 0xff;
  probe[15] = WARMUP_QUEUE >> 8;
  const rxb = new RxBurst(64);
  const echoed = new Array<boolean>(queues).fill(false);
  const deadline = Date.now() + timeoutMs;
  let lastSend = 0;
  while (conn.open && echoed.includes(false) && Date.now() < deadline) {
    if (Date.now() - lastSend >= 100) {
      lastSend = Date.now();
      for (let q = 0; q < queues; q++) if (!echoed[q]) conn.txBurst(q, [probe]);
    }
    for (let q = 0; q < queues; q++) {
      const k = conn.rxBurst(q, rxb);
      if (k > 0) echoed[q] = true;
      conn.release(q, k);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  // Late duplicates of probes must not reach the measured run.
  const quiet = Date.now() + 150;
  while (conn.open && Date.now() < quiet) {
    for (let q = 0; q < queues; q++) conn.release(q, conn.rxBurst(q, rxb));
    await new Promise((r) => setTimeout(r, 5));
  }
  return conn.open && !echoed.includes(false);
}
