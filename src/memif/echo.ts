// A memif reflector: every packet received on rx queue q goes back out on tx queue q, with the
// Ethernet source and destination swapped (as libmemif's icmp_responder and testpmd's macswap do).
// A slave owns every buffer, so it forwards without copying (MemifConnection.forward: the
// received buffer goes out, addresses swapped in place); a master copies buffer to buffer
// (chains included). No allocation per packet either way.
import { RxBurst, TxBurst } from './ring/index.js';
import { copyBytes } from './ring/copy.js';
import type { MemifInterface } from './socket/interface.js';
import type { MemifConnection } from './socket/connection.js';

/** How long a polling pass keeps the thread before the event loop gets a turn. */
const POLL_SLICE_MS = 2;

export interface EchoOptions {
  mode?: 'polling' | 'interrupt';
  /** Swap Ethernet source and destination MACs. Default true. */
  swapMac?: boolean;
  burst?: number;
}

export interface EchoCounters {
  rx: number;
  tx: number;
  /** Received but not sent back because the tx ring was full. */
  dropped: number;
}

export class MemifEcho {
  readonly counters: EchoCounters = { rx: 0, tx: 0, dropped: 0 };
  readonly #iface: MemifInterface;
  readonly #mode: 'polling' | 'interrupt';
  readonly #swap: boolean;
  readonly #rxb: RxBurst;
  readonly #txb: TxBurst;
  #conn: MemifConnection | null = null;
  /** Slave: forward the received buffers; master: copy into the buffers the slave posted. */
  #zeroCopy = false;
  #polling: NodeJS.Immediate | null = null;
  #onConnected = (c: MemifConnection) => this.#start(c);
  #onDisconnected = () => this.#stop();

  constructor(iface: MemifInterface, opts: EchoOptions = {}) {
    this.#iface = iface;
    this.#mode = opts.mode ?? 'polling';
    this.#swap = opts.swapMac ?? true;
    const burst = opts.burst ?? 64;
    this.#rxb = new RxBurst(burst);
    this.#txb = new TxBurst(burst);
    iface.on('connected', this.#onConnected);
    iface.on('disconnected', this.#onDisconnected);
    if (iface.connection) this.#start(iface.connection);
  }

  #start(c: MemifConnection): void {
    this.#conn = c;
    this.#zeroCopy = c.role === 'slave';
    if (this.#mode === 'interrupt') {
      for (let q = 0; q < c.rx.length; q++) c.onInterrupt(q, () => { while (this.#pass(c, q) > 0); });
      // Packets may have arrived before we asked to be kicked.
      for (let q = 0; q < c.rx.length; q++) while (this.#pass(c, q) > 0);
    } else {
      // Poll for a slice of time, then let the event loop run (control messages, timers, signals).
      // Handing back after every empty pass cost a whole loop turn per burst.
      const loop = () => {
        this.#polling = null;
        if (this.#conn !== c || !c.open) return;
        const until = performance.now() + POLL_SLICE_MS;
        let spin = 0;
        do {
          for (let q = 0; q < c.rx.length; q++) this.#pass(c, q);
        } while ((++spin & 15) !== 0 || (c.open && performance.now() < until));
        this.#polling = setImmediate(loop);
      };
      loop();
    }
  }

  #stop(): void {
    this.#conn = null;
    if (this.#polling) { clearImmediate(this.#polling); this.#polling = null; }
  }

  /** One burst on queue q; returns how many packets were received. */
  #pass(c: MemifConnection, q: number): number {
    const rxb = this.#rxb;
    const txb = this.#txb;
    const n = c.rxBurst(q, rxb);
    if (n === 0) return 0;
    let m: number;
    if (this.#zeroCopy) {
      if (this.#swap) for (let i = 0; i < n; i++) swapMacs(rxb, i);
      m = q < c.tx.length ? c.forward(q, q, rxb, n) : 0;
      if (m < n) c.release(q, n - m);
    } else {
      m = q < c.tx.length ? c.allocTx(q, txb, n, rxb.pktLength) : 0;
      for (let i = 0; i < m; i++) copyPacket(rxb, i, txb, i, this.#swap);
      if (m > 0) c.commitTx(q, m);
      c.release(q, n);
    }
    this.counters.rx += n;
    this.counters.tx += m;
    this.counters.dropped += n - m;
    return n;
  }

  close(): void {
    this.#stop();
    this.#iface.off('connected', this.#onConnected);
    this.#iface.off('disconnected', this.#onDisconnected);
  }
}

/** Copies rx packet i into tx packet j segment by segment (their buffer sizes may differ). */
export function copyPacket(rxb: RxBurst, i: number, txb: TxBurst, j: number, swapMac: boolean): void {
  if (rxb.pktSegCount[i] === 1 && txb.pktSegCount[j] === 1) {
    // One buffer each way (every packet up to the buffer size): one copy, no segment walk.
    const rs0 = rxb.pktFirstSeg[i]!;
    const ts0 = txb.pktFirstSeg[j]!;
    const n = rxb.segLength[rs0]!;
    if (n <= txb.segCapacity[ts0]!) {
      const rr = rxb.segRegion[rs0]!;
      const tr = txb.segRegion[ts0]!;
      const d32 = txb.regions32[tr]!;
      const s32 = rxb.regions32[rr]!;
      const dOff = txb.segOffset[ts0]!;
      const sOff = rxb.segOffset[rs0]!;
      txb.segLength[ts0] = n;
      if (swapMac && n >= 12 && d32 !== null && s32 !== null && ((dOff | sOff) & 3) === 0) {
        // The addresses swapped, then the rest (no second pass over the copied header).
        swapAddressWords(d32, dOff >>> 2, s32, sOff >>> 2);
        copyBytes(txb.regions[tr]!, d32, dOff + 12, rxb.regions[rr]!, s32, sOff + 12, n - 12);
        return;
      }
      copyBytes(txb.regions[tr]!, d32, dOff, rxb.regions[rr]!, s32, sOff, n);
      if (swapMac) swapMacs(txb, j);
      return;
    }
  }
  let rs = rxb.pktFirstSeg[i]!;
  const rEnd = rs + rxb.pktSegCount[i]!;
  let ts = txb.pktFirstSeg[j]!;
  const tEnd = ts + txb.pktSegCount[j]!;
  let rOff = 0;
  let tOff = 0;
  for (let t = ts; t < tEnd; t++) txb.segLength[t] = 0;
  while (rs < rEnd && ts < tEnd) {
    const rLen = rxb.segLength[rs]!;
    const tCap = txb.segCapacity[ts]!;
    const n = Math.min(rLen - rOff, tCap - tOff);
    if (n > 0) {
      const rr = rxb.segRegion[rs]!;
      const tr = txb.segRegion[ts]!;
      copyBytes(txb.regions[tr]!, (tOff & 3) === 0 ? txb.regions32[tr]! : null, txb.segOffset[ts]! + tOff,
        rxb.regions[rr]!, (rOff & 3) === 0 ? rxb.regions32[rr]! : null, rxb.segOffset[rs]! + rOff, n);
      rOff += n;
      tOff += n;
      txb.segLength[ts] = tOff;
    }
    if (rOff >= rLen) { rs++; rOff = 0; }
    if (tOff >= tCap) { ts++; tOff = 0; }
  }
  if (swapMac) swapMacs(txb, j);
}

/**
 * Swaps the Ethernet destination and source addresses of packet j, in its buffer, when its first
 * segment holds them: a tx packet after a copy, or a received one about to be forwarded (the slave
 * owns that buffer until it releases or forwards it).
 */
export function swapMacs(b: RxBurst | TxBurst, j: number): void {
  const f = b.pktFirstSeg[j]!;
  if (b.segLength[f]! < 12) return;
  const r = b.segRegion[f]!;
  const buf = b.regions[r]!;
  const o = b.segOffset[f]!;
  const w32 = b.regions32[r];
  if (w32 && (o & 3) === 0) {
    swapAddressWords(w32, o >>> 2, w32, o >>> 2);
    return;
  }
  for (let k = 0; k < 6; k++) {
    const x = buf[o + k]!;
    buf[o + k] = buf[o + 6 + k]!;
    buf[o + 6 + k] = x;
  }
}

/**
 * The Ethernet addresses are the first 12 bytes, three aligned words (little-endian): writes them
 * from src32[sw ..] to dst32[dw ..] swapped (destination = bytes 0-5, source = 6-11). All three are
 * read before any is written, so the two may be the same words.
 */
function swapAddressWords(dst32: Uint32Array, dw: number, src32: Uint32Array, sw: number): void {
  const w0 = src32[sw]!;
  const w1 = src32[sw + 1]!;
  const w2 = src32[sw + 2]!;
  dst32[dw] = (w1 >>> 16) | (w2 << 16);
  dst32[dw + 1] = (w2 >>> 16) | (w0 << 16);
  dst32[dw + 2] = (w0 >>> 16) | (w1 << 16);
}
