// A memif reflector: every packet received on rx queue q goes back out on tx queue q, with the
// Ethernet source and destination swapped (as libmemif's icmp_responder and testpmd's macswap do).
// Packets are copied buffer to buffer (chains included) with no allocation per packet.
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
    const m = q < c.tx.length ? c.allocTx(q, txb, n, rxb.pktLength) : 0;
    for (let i = 0; i < m; i++) copyPacket(rxb, i, txb, i, this.#swap);
    if (m > 0) c.commitTx(q, m);
    c.release(q, n);
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
        // The addresses are the first 12 bytes, three aligned words (little-endian): write them
        // swapped, then copy the rest (no second pass over the copied header).
        const sw = sOff >>> 2;
        const dw = dOff >>> 2;
        const w0 = s32[sw]!;
        const w1 = s32[sw + 1]!;
        const w2 = s32[sw + 2]!;
        d32[dw] = (w1 >>> 16) | (w2 << 16);
        d32[dw + 1] = (w2 >>> 16) | (w0 << 16);
        d32[dw + 2] = (w0 >>> 16) | (w1 << 16);
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

/** Swaps the Ethernet destination and source addresses of tx packet j (when its first segment holds them). */
function swapMacs(txb: TxBurst, j: number): void {
  const f = txb.pktFirstSeg[j]!;
  if (txb.segLength[f]! < 12) return;
  const buf = txb.regions[txb.segRegion[f]!]!;
  const o = txb.segOffset[f]!;
  for (let k = 0; k < 6; k++) {
    const x = buf[o + k]!;
    buf[o + k] = buf[o + 6 + k]!;
    buf[o + 6 + k] = x;
  }
}
