/**
 * The sending side of a ring: SlaveTxQueue on S2M (fills its own buffers, writes whole
 * descriptors, advances head) and MasterTxQueue on M2S (fills the buffers the slave posted, each
 * posted descriptor's length being that buffer's capacity, writes only flags and length, advances
 * tail). Both share tx (room, chains, publishing) and one zero-copy pair (allocTx/commitTx),
 * written once in TxQueue; a subclass says what differs: where a slot's buffer is (buffer: the
 * slave's own, or the posted descriptor, read once and validated), what of its descriptor is
 * written, which index is stored, and, per burst, the loops that run once per packet: tx's claim
 * and fill, allocTx's reserve and commitTx's describeBurst.
 *
 * Why those loops are the subclass's and not built from per-slot calls: V8 decides per
 * compilation what to inline, within a budget for the whole compiled function. When the caller's
 * loop (a generator calling txBurst) had tx inlined into it, the budget ran out before tx's
 * per-slot helpers, which then stayed calls, three per packet, and the same code sent 23-30 Mpps
 * where a run that compiled tx alone sent 35 (docs/perf.md, "Where the sender's time goes"). A
 * per-packet loop with no call in it but the copy runs the same whatever the caller inlines.
 */
import { type RxBurst, type TxBurst } from './burst.js';
import { copyBytes, setBytes } from './copy.js';
import { MemifRingError } from './errors.js';
import { MemifQueue, type MemifQueueOptions, type OwnBuffers } from './queue.js';
import { SlaveRxQueue } from './rx-queue.js';
import { DESC_REGION_SHIFT, DESC_U16, DESC_U32, DESC_WORDS, MEMIF_DESC_FLAG_NEXT, MEMIF_RING_FLAG_MASK_INT, MemifErrorCode as E } from '../wire.js';

const NEXT = MEMIF_DESC_FLAG_NEXT;
const W_FR = DESC_U32.flagsRegion;
const W_LEN = DESC_U32.length;
const W_OFF = DESC_U32.offset;
const W_META = DESC_U32.metadata;

/*
 * claimLines: every transmit path stores one byte into the first line of each buffer a burst is
 * about to fill, and zero into each of those slots' descriptor flags, in a loop of its own, before
 * any copy. The receiver read those lines the last time the ring came round, so the first store
 * to each one has to take it back from the other core's cache; issued back to back, those
 * transfers overlap, where the copy loop would wait for each in turn. Measured (docs/perf.md):
 * one-way 64 B +35-50 % while cross-core transfers are slow, +3-8 % while they are fast; 1500 B
 * +25-30 %; a master echoing to testpmd +9-26 %. Storing into every line of a 1500 B buffer
 * instead halves the rate, and a store inside allocTx's reservation loop, between its descriptor
 * reads, cost the echo 4-12 %. A free buffer holds nothing the peer may read, and a free slot's
 * descriptor nothing it reads before the index moves: both stores are overwritten (the flags of a
 * posted descriptor are the master's to write; its region half is not touched) before anything is
 * published.
 */
export abstract class TxQueue extends MemifQueue {
  readonly isProducer = true;
  /** allocTx reservation. */
  private pendingBurst: TxBurst | null = null;
  private pendingPos = 0;
  /** chain: per-segment lengths, regions and offsets of the packet being copied. */
  private readonly scratchLen: Uint32Array;
  private readonly scratchRegion: Uint32Array;
  private readonly scratchOffset: Uint32Array;
  /** Free slots from the end of the packet chain() sent last. */
  private chainFree = 0;
  /** Region and offset of the buffer buffer() returned last (set there, read right after). */
  protected bufRegion = 0;
  protected bufOffset = 0;

  protected constructor(opts: MemifQueueOptions) {
    super(opts);
    this.scratchLen = new Uint32Array(this.size);
    this.scratchRegion = new Uint32Array(this.size);
    this.scratchOffset = new Uint32Array(this.size);
  }

  /** Free slots starting at this.own; reads and validates the peer's index. */
  protected abstract freeSlots(): number;
  /** Free slots as of the peer's index read last (this.cursor): no shared-memory read. */
  protected abstract cachedFree(): number;
  /**
   * The buffer of free `slot`: returns its capacity and leaves its region and offset in
   * bufRegion/bufOffset. A master reads the posted descriptor once and validates it here.
   */
  protected abstract buffer(slot: number): number;
  /** claimLines for the n free slots from pos: one byte into each buffer's first line (never
   *  outside a region) and zero into each descriptor's flags. */
  protected abstract claim(pos: number, n: number): void;
  /**
   * Copies packets[at ..] (n of them, n free slots from pos) each into the buffer of its slot and
   * describes it, up to the first one longer than that buffer; returns how many. The per-packet
   * loop of tx, one per side, with no call in it but the copy (see tx).
   */
  protected abstract fill(packets: ArrayLike<Uint8Array>, at: number, n: number, pos: number): number;
  /**
   * allocTx's loop for packets that each fit one buffer: describes in burst up to n packets (n free
   * slots from pos), packet i in segment i, with segLength sizes[i] or, without sizes, the buffer's
   * capacity; stops at the first packet longer than its buffer. Returns how many.
   */
  protected abstract reserve(burst: TxBurst, n: number, pos: number, sizes: ArrayLike<number> | undefined): number;
  /** commitTx's loop: writes the descriptors of burst's first `count` packets, their segments in
   *  the slots from pos, NEXT on every segment but a packet's last. */
  protected abstract describeBurst(burst: TxBurst, count: number, pos: number): void;
  /** Writes the descriptor of `slot` for a segment of `len` bytes in the buffer of that slot. */
  protected abstract describe(slot: number, flags: number, len: number): void;
  /** Makes everything up to `pos` visible to the peer. */
  protected abstract publish(pos: number): void;

  /** Whether this call has read the peer's index already. */
  private fresh = false;

  /**
   * Free slots for a burst of `want` packets. The peer's index sits on a cache line the peer
   * writes on every burst, so it is read (and validated) only when what was seen last does not
   * cover the burst (or nothing is asked for: an empty tx is a probe); a burst that runs out of
   * what was seen reads it then (refill). While the ring has room the sender touches no line the
   * receiver writes.
   */
  protected room(want: number): number {
    const free = this.cachedFree();
    this.fresh = !(free >= want && want > 0);
    return this.fresh ? this.freeSlots() : free;
  }

  /** The burst ran out of room at `pos` with `free` slots left: once per call, look again. */
  protected refill(free: number, pos: number): number {
    if (this.fresh) return free;
    this.fresh = true;
    return this.freeSlots() - ((pos - this.own) & 0xffff);
  }

  protected clearState(): void {
    this.pendingBurst = null;
  }

  protected checkIdle(what: string): void {
    if (this.pendingBurst !== null) throw new Error(`MemifQueue ${this.name}: ${what}() while an allocTx reservation is pending (commitTx first)`);
  }

  /** Free slots right now (validates the peer's index). */
  override txSpace(): number {
    this.checkIdle('txSpace');
    return this.freeSlots();
  }

  /**
   * Copy packets[start .. start+count-1] into free buffers and publish them with one index store.
   * A packet larger than one buffer is chained with NEXT. Stops at the first packet that does not
   * fit whole; returns the number of packets sent. One-buffer packets go through the subclass's
   * fill loop (no call per packet but the copy), a longer one through chain().
   */
  override tx(packets: ArrayLike<Uint8Array>, count = packets.length, start = 0): number {
    this.checkIdle('tx');
    if (count > packets.length - start) count = packets.length - start;
    let free = this.room(count);
    let pos = this.own;
    // Claim the buffers and descriptors the burst will fill before copying (see claimLines).
    this.claim(pos, count < free ? count : free);
    let sent = 0;
    while (sent < count) {
      if (free === 0 && (free = this.refill(free, pos)) === 0) break;
      const k = this.fill(packets, start + sent, count - sent < free ? count - sent : free, pos);
      sent += k;
      pos = (pos + k) & 0xffff;
      free -= k;
      if (sent === count || free === 0) continue;
      // packets[start + sent] is longer than the buffer of slot pos
      const pkt = packets[start + sent]!;
      const c = this.chain(pkt, pkt.length, pos, free, this.buffer(pos & this.mask));
      if (c === 0) break; // does not fit whole: not sent
      sent++;
      pos = (pos + c) & 0xffff;
      free = this.chainFree;
    }
    if (sent > 0) {
      this.own = pos;
      this.publish(pos);
    }
    return sent;
  }

  /**
   * tx of a packet longer than the buffer of slot `pos` (capacity cap0, already looked up), `free`
   * slots being free from pos: lays it over as many buffers as it takes, and once it is known to
   * fit whole copies it and describes them, chained with NEXT. Returns the slots taken (free ones
   * left in chainFree), or 0 when it does not fit (nothing copied or described: a master must not
   * overwrite a posted length it does not send).
   *
   * Buffers that follow each other in one region (a slave's own, and what DPDK, VPP and libmemif
   * slaves post, away from the ring's wrap) take the packet in one copy. Segment by segment,
   * each copy is a Uint8Array#set of a view of the packet: an allocation per segment, and 2-3x
   * the time of one copy of a 9000-byte packet (docs/memif-ring.md).
   */
  private chain(pkt: Uint8Array, len: number, pos: number, free: number, cap0: number): number {
    const mask = this.mask;
    const segLen = this.scratchLen;
    const segRegion = this.scratchRegion;
    const segOffset = this.scratchOffset;
    const region0 = this.bufRegion;
    let contiguous = true;
    let cap = cap0;
    let at = 0;
    let k = 0;
    for (;;) {
      const region = this.bufRegion;
      const off = this.bufOffset;
      if (k > 0 && (region !== region0 || off !== segOffset[k - 1]! + segLen[k - 1]!)) contiguous = false;
      const n = len - at < cap ? len - at : cap;
      segRegion[k] = region;
      segOffset[k] = off;
      segLen[k++] = n;
      at += n;
      if (at === len) break;
      if (k === free && k === (free = this.refill(free, pos))) return 0;
      cap = this.buffer((pos + k) & mask);
    }
    if (contiguous) {
      // Every segment lies inside its region (buffer() checked each), so the run of them does.
      setBytes(this.regU8[region0]!, pkt, segOffset[0]!);
    } else {
      for (let j = 0, a = 0; j < k; a += segLen[j++]!) {
        const r = segRegion[j]!;
        copyBytes(this.regU8[r]!, this.regU32[r]!, segOffset[j]!, pkt, null, a, segLen[j]!);
      }
    }
    for (let j = 0; j < k; j++) this.describe((pos + j) & mask, j + 1 < k ? NEXT : 0, segLen[j]!);
    this.chainFree = free - k;
    return k;
  }

  /**
   * Zero-copy transmit, step 1: reserve buffers for up to n packets (never a partial packet) and
   * describe them in burst. sizes[i], when given, is packet i's length: it gets enough chained
   * segments and segLength is preset; without sizes each packet gets one buffer with
   * segLength = capacity. Write the payload at burst.regions[segRegion[s]][segOffset[s] ..],
   * adjust segLength[s] (<= segCapacity[s]) or use burst.write(), then commitTx().
   * Nothing is visible to the peer until commitTx.
   */
  override allocTx(burst: TxBurst, n: number, sizes?: ArrayLike<number>): number {
    this.checkIdle('allocTx');
    let free = this.room(n);
    const mask = this.mask;
    const maxSegs = burst.maxSegments;
    if (n > burst.maxPackets) n = burst.maxPackets;
    const pos0 = this.own;
    // Packets of one buffer each: the subclass's loop (no call per packet, as tx's fill).
    let p = this.reserve(burst, n < free ? n : free, pos0, sizes);
    let used = p;
    let seg = p;
    for (; p < n; p++) {
      let want = -1;
      if (sizes !== undefined) {
        want = sizes[p]!;
        if (!Number.isInteger(want) || want < 0) throw badSize(p, want);
      }
      let k = 0;
      let left = want < 0 ? 0 : want;
      let fits = true;
      do {
        if (used + k === free) free = this.refill(free, pos0);
        if (used + k === free || seg + k === maxSegs) {
          fits = false;
          break;
        }
        const cap = this.buffer((pos0 + used + k) & mask);
        burst.segRegion[seg + k] = this.bufRegion;
        burst.segOffset[seg + k] = this.bufOffset;
        burst.segCapacity[seg + k] = cap;
        burst.segLength[seg + k] = want < 0 ? cap : left < cap ? left : cap;
        left -= cap;
        k++;
      } while (left > 0);
      if (!fits) break;
      burst.pktFirstSeg[p] = seg;
      burst.pktSegCount[p] = k;
      seg += k;
      used += k;
    }
    burst.count = p;
    burst.segCount = seg;
    // Claim the reserved buffers' first lines and descriptors for the caller's writes (see
    // claimLines): a loop of its own, since a store in the reservation loop above, between the
    // descriptor reads, costs more than it saves.
    this.claim(pos0, seg);
    burst.regions = this.regU8;
    burst.regions32 = this.regU32;
    // Nothing reserved, nothing to commit: the next allocTx/tx may follow directly.
    this.pendingBurst = p > 0 ? burst : null;
    this.pendingPos = pos0;
    return p;
  }

  /**
   * Zero-copy transmit, step 2: publish the first n reserved packets (default all) with one
   * head/tail store; the rest of the reservation is dropped. Writes each descriptor's length
   * (burst.segLength) and NEXT flag; a slave also writes its own region/offset.
   */
  override commitTx(n?: number): number {
    const burst = this.pendingBurst;
    if (burst === null) {
      // allocTx reserved nothing (ring full): committing nothing is fine.
      if (!n) return 0;
      throw new Error(`MemifQueue ${this.name}: commitTx(${n}) without an allocTx reservation`);
    }
    const count = n ?? burst.count;
    if (!Number.isInteger(count) || count < 0 || count > burst.count) {
      throw new RangeError(`MemifQueue ${this.name}: commitTx(${n}) with ${burst.count} packets reserved`);
    }
    const nseg = count === 0 ? 0 : burst.pktFirstSeg[count - 1]! + burst.pktSegCount[count - 1]!;
    for (let s = 0; s < nseg; s++) {
      if (burst.segLength[s]! > burst.segCapacity[s]!) {
        throw new RangeError(`MemifQueue ${this.name}: commitTx segment ${s} length ${burst.segLength[s]} exceeds capacity ${burst.segCapacity[s]}`);
      }
    }
    this.pendingBurst = null;
    if (count > 0) {
      const pos = (this.pendingPos + nseg) & 0xffff;
      this.describeBurst(burst, count, this.pendingPos);
      this.own = pos;
      this.publish(pos);
    }
    return count;
  }

  /**
   * True when the receiver has not set MEMIF_RING_FLAG_MASK_INT, i.e. after a tx that sent
   * something the caller should write the ring's eventfd (memif_tx_burst, eth_memif_tx).
   */
  override peerWantsKick(): boolean {
    return (this.ring.loadFlags() & MEMIF_RING_FLAG_MASK_INT) === 0;
  }
}

/**
 * Slave on S2M: its own buffers, bufferSize each. The slot tables of its rings say which buffer
 * each slot owns; forward() moves buffers between an M2S ring's table and this one's (each buffer
 * is in exactly one slot of one table, always).
 */
export class SlaveTxQueue extends TxQueue {
  private readonly bufs: OwnBuffers;
  /** The receive queue forward() was last checked against. */
  private fwdFrom: SlaveRxQueue | null = null;

  constructor(opts: MemifQueueOptions) {
    super(opts);
    this.bufs = this.ownBuffers(opts);
  }

  /**
   * Zero-copy forwarding, as libmemif's memif_buffer_enq_tx: sends packets start .. start+count-1
   * (default: the rest) of `burst`, which `from` (an M2S queue of this slave, on the same memory)
   * filled last, out on this ring without copying them. The buffer of each received slot goes into
   * a free slot of this ring, described with the length, offset and NEXT flag rx() validated, and
   * the buffer that free slot owned takes its place in the receive slot, to be posted again when
   * that is released. A segment the master described outside the buffer posted in its slot (still
   * inside a region: rx() checked) is copied into that buffer first. Stops at the first packet this
   * ring has no room for; the packets sent are released on `from`, the rest stay outstanding
   * (release them to drop them, or forward them later with `start` moved on). Returns the number sent.
   * @throws Error when `from` is not this slave's receive queue on the same memory, RangeError
   *         when the packets are not the oldest outstanding ones of the burst rx() filled last,
   *         MemifRingError when the master moved tail where it cannot be.
   */
  override forward(from: MemifQueue, burst: RxBurst, count?: number, start = 0): number {
    this.checkIdle('forward');
    const rxq = this.fwdFrom === from ? this.fwdFrom : this.forwardSource(from);
    const n = count ?? burst.count - start;
    const rec = rxq.forwardable(burst, start, n);
    let free = this.room(n);
    const mask = this.mask;
    const desc = this.desc;
    const { region: tr, offset: to, size: b } = this.bufs;
    const { region: rr, offset: ro } = rxq.bufs;
    const pSegs = burst.pktSegCount;
    const pFirst = burst.pktFirstSeg;
    const sRegion = burst.segRegion;
    const sOffset = burst.segOffset;
    const sLength = burst.segLength;
    let at = rxq.firstOutstanding;
    let pos = this.own;
    let sent = 0;
    // A burst the caller changed since rx() stops the loop before its packet is touched; what was
    // sent before it is published and released, then the error is thrown.
    let changed: RangeError | null = null;
    for (; sent < n; sent++) {
      const end = rxq.outstandingEnd(rec + sent);
      const k = (end - at) & 0xffff;
      const p = start + sent;
      if (pSegs[p] !== k) {
        changed = new RangeError(`MemifQueue ${this.name}: forward: burst packet ${p} has ${pSegs[p]} segments where ${rxq.name} received ${k} (burst changed since rx())`);
        break;
      }
      if (k > free && k > (free = this.refill(free, pos))) break;
      const s0 = pFirst[p]!;
      for (let j = 0; j < k && changed === null; j++) changed = this.checkSegment(s0 + j, burst);
      if (changed !== null) break;
      for (let j = 0; j < k; j++) {
        const s = s0 + j;
        const rs = (at + j) & mask;
        const ts = (pos + j) & mask;
        const region = rr[rs]!;
        const base = ro[rs]!;
        let off = sOffset[s]!;
        const len = sLength[s]!;
        if (sRegion[s] !== region || off < base || off + len > base + b) {
          // The master described bytes outside the buffer posted in this slot (inside a region: rx
          // checked that): copy them into the buffer, which is what goes out.
          const r = sRegion[s]!;
          copyBytes(this.regU8[region]!, this.regU32[region]!, base, this.regU8[r]!, this.regU32[r]!, off, len);
          off = base;
        }
        // Trade buffers: the received one goes out from slot ts, the free one of ts waits in rs.
        rr[rs] = tr[ts]!;
        ro[rs] = to[ts]!;
        tr[ts] = region;
        to[ts] = base;
        const w = ts * DESC_WORDS;
        desc[w + W_FR] = (j + 1 < k ? NEXT : 0) | (region << DESC_REGION_SHIFT);
        desc[w + W_LEN] = len;
        desc[w + W_OFF] = off;
        desc[w + W_META] = 0;
      }
      at = end;
      pos = (pos + k) & 0xffff;
      free -= k;
    }
    if (sent > 0) {
      this.own = pos;
      this.publish(pos);
      rxq.release(sent);
    }
    if (changed !== null) throw changed;
    return sent;
  }

  /** forward(): `from` must be this slave's receive queue on the same memory with the same buffers. */
  private forwardSource(from: MemifQueue): SlaveRxQueue {
    if (!(from instanceof SlaveRxQueue)) {
      throw new Error(`MemifQueue ${this.name}: forward() from ${from.name} of the ${from.role}: only from a receive ring of the same slave`);
    }
    if (from.bufs.size !== this.bufs.size || !this.sameRegions(from)) {
      throw new Error(`MemifQueue ${this.name}: forward() from ${from.name}, which is on other memory or buffers (another connection?)`);
    }
    this.fwdFrom = from;
    return from;
  }

  /**
   * forward(): null when burst segment s still is what rx() validated as far as forward relies on
   * it (a region, inside its bounds, no longer than a buffer); else the error (the burst is the
   * caller's memory).
   */
  private checkSegment(s: number, burst: RxBurst): RangeError | null {
    const r = burst.segRegion[s]!;
    const off = burst.segOffset[s]!;
    const len = burst.segLength[s]!;
    if (r < this.nRegions && off + len <= this.regSize[r]! && len <= this.bufs.size) return null;
    return new RangeError(`MemifQueue ${this.name}: forward: burst segment ${s} (region ${r}, offset ${off}, length ${len}) is not a received segment (burst changed since rx())`);
  }

  protected freeSlots(): number {
    // The master consumed up to tail; tail may only move forward, up to our head.
    const own = this.own;
    const tail = this.ring.loadTail();
    if (((tail - this.cursor) & 0xffff) > ((own - this.cursor) & 0xffff)) {
      throw new MemifRingError(E.RING_INDEX, `${this.name}: tail ${tail} outside [${this.cursor}, ${own}] (last seen tail .. head)`);
    }
    this.cursor = tail;
    return this.size - ((own - tail) & 0xffff);
  }

  protected cachedFree(): number {
    return this.size - ((this.own - this.cursor) & 0xffff);
  }

  protected buffer(slot: number): number {
    this.bufRegion = this.bufs.region[slot]!;
    this.bufOffset = this.bufs.offset[slot]!;
    return this.bufs.size;
  }

  protected claim(pos: number, n: number): void {
    const { region, offset } = this.bufs;
    const regU8 = this.regU8, desc16 = this.desc16, mask = this.mask;
    for (let i = 0; i < n; i++) {
      const slot = (pos + i) & mask;
      regU8[region[slot]!]![offset[slot]!] = 0;
      desc16[slot * DESC_U16] = 0;
    }
  }

  protected fill(packets: ArrayLike<Uint8Array>, at: number, n: number, pos: number): number {
    const { region, offset, size } = this.bufs;
    const regU8 = this.regU8, desc = this.desc, mask = this.mask;
    let i = 0;
    for (; i < n; i++) {
      const pkt = packets[at + i]!;
      const len = pkt.length;
      if (len > size) break;
      const slot = (pos + i) & mask;
      const r = region[slot]!, off = offset[slot]!;
      if (len > 0) setBytes(regU8[r]!, pkt, off);
      const w = slot * DESC_WORDS;
      desc[w + W_FR] = r << DESC_REGION_SHIFT;
      desc[w + W_LEN] = len;
      desc[w + W_OFF] = off;
      desc[w + W_META] = 0;
    }
    return i;
  }

  protected reserve(burst: TxBurst, n: number, pos: number, sizes: ArrayLike<number> | undefined): number {
    const { region, offset, size } = this.bufs;
    const mask = this.mask;
    const { segRegion, segOffset, segCapacity, segLength, pktFirstSeg, pktSegCount } = burst;
    let i = 0;
    for (; i < n; i++) {
      let len = size;
      if (sizes !== undefined) {
        len = sizes[i]!;
        if (!(len >= 0 && Number.isInteger(len))) throw badSize(i, len);
        if (len > size) break;
      }
      const slot = (pos + i) & mask;
      segRegion[i] = region[slot]!;
      segOffset[i] = offset[slot]!;
      segCapacity[i] = size;
      segLength[i] = len;
      pktFirstSeg[i] = i;
      pktSegCount[i] = 1;
    }
    return i;
  }

  protected describeBurst(burst: TxBurst, count: number, pos: number): void {
    const { region, offset } = this.bufs;
    const desc = this.desc, mask = this.mask;
    const { segLength, pktFirstSeg, pktSegCount } = burst;
    for (let p = 0; p < count; p++) {
      const s0 = pktFirstSeg[p]!;
      const k = pktSegCount[p]!;
      for (let j = 0; j < k; j++) {
        const slot = (pos + j) & mask;
        const w = slot * DESC_WORDS;
        desc[w + W_FR] = (j + 1 < k ? NEXT : 0) | (region[slot]! << DESC_REGION_SHIFT);
        desc[w + W_LEN] = segLength[s0 + j]!;
        desc[w + W_OFF] = offset[slot]!;
        desc[w + W_META] = 0;
      }
      pos += k;
    }
  }

  protected describe(slot: number, flags: number, len: number): void {
    const w = slot * DESC_WORDS;
    const desc = this.desc;
    desc[w + W_FR] = flags | (this.bufs.region[slot]! << DESC_REGION_SHIFT);
    desc[w + W_LEN] = len;
    desc[w + W_OFF] = this.bufs.offset[slot]!;
    desc[w + W_META] = 0;
  }

  protected publish(pos: number): void {
    this.ring.storeHead(pos);
  }
}

/** Master on M2S: fills the buffers the slave posted. */
export class MasterTxQueue extends TxQueue {
  constructor(opts: MemifQueueOptions) {
    super(opts);
  }

  protected freeSlots(): number {
    // The slave posted up to head; head - tail <= ring size and head never moves back.
    const own = this.own;
    const head = this.ring.loadHead();
    const d = (head - own) & 0xffff;
    if (d > this.size) {
      throw new MemifRingError(E.RING_INDEX, `${this.name}: head ${head} is ${d} slots past tail ${own}, more than ring size ${this.size}`);
    }
    if (((this.cursor - own) & 0xffff) > d) {
      throw new MemifRingError(E.RING_INDEX, `${this.name}: head ${head} moved back behind already posted slot ${this.cursor}`);
    }
    this.cursor = head;
    return d;
  }

  protected cachedFree(): number {
    return (this.cursor - this.own) & 0xffff;
  }

  /**
   * Reads (once), validates and returns the capacity of the slave-posted descriptor at slot. (DPDK
   * eth_memif_tx and VPP memif_interface_tx_inline use d->length as the buffer capacity on M2S.)
   */
  protected buffer(slot: number): number {
    const w = slot * DESC_WORDS;
    const region = this.desc[w + W_FR]! >>> DESC_REGION_SHIFT;
    const cap = this.desc[w + W_LEN]!;
    const off = this.desc[w + W_OFF]!;
    if (region >= this.nRegions || off + cap > this.regSize[region]! || cap === 0) throw this.badPosted(slot, region, cap, off);
    this.bufRegion = region;
    this.bufOffset = off;
    return cap;
  }

  /** What is wrong with the descriptor posted at slot (region, length cap, offset off as read once). */
  private badPosted(slot: number, region: number, cap: number, off: number): MemifRingError {
    if (region >= this.nRegions) {
      return new MemifRingError(E.DESC_REGION, `${this.name} slot ${slot}: posted descriptor region ${region} does not exist (${this.nRegions} regions)`);
    }
    if (off + cap > this.regSize[region]!) {
      return new MemifRingError(
        E.DESC_BOUNDS,
        `${this.name} slot ${slot}: posted descriptor offset 0x${off.toString(16)} + length ${cap} exceeds region ${region} size ${this.regSize[region]}`,
      );
    }
    return new MemifRingError(E.DESC_LENGTH, `${this.name} slot ${slot}: posted descriptor has length 0 (no room)`);
  }

  /** Only a byte inside a region: fill() or buffer() validates the descriptor again before anything is copied. */
  protected claim(pos: number, n: number): void {
    const desc = this.desc, desc16 = this.desc16, regU8 = this.regU8, regSize = this.regSize, nRegions = this.nRegions, mask = this.mask;
    for (let i = 0; i < n; i++) {
      const slot = (pos + i) & mask;
      const w = slot * DESC_WORDS;
      const region = desc[w + W_FR]! >>> DESC_REGION_SHIFT;
      const off = desc[w + W_OFF]!;
      if (region < nRegions && off < regSize[region]!) regU8[region]![off] = 0;
      desc16[slot * DESC_U16] = 0;
    }
  }

  protected fill(packets: ArrayLike<Uint8Array>, at: number, n: number, pos: number): number {
    const desc = this.desc, desc16 = this.desc16, regU8 = this.regU8, regSize = this.regSize, nRegions = this.nRegions, mask = this.mask;
    let i = 0;
    for (; i < n; i++) {
      const pkt = packets[at + i]!;
      const len = pkt.length;
      const slot = (pos + i) & mask;
      // The posted descriptor, read once and validated as buffer() does.
      const w = slot * DESC_WORDS;
      const region = desc[w + W_FR]! >>> DESC_REGION_SHIFT;
      const cap = desc[w + W_LEN]!;
      const off = desc[w + W_OFF]!;
      if (region >= nRegions || off + cap > regSize[region]! || cap === 0) throw this.badPosted(slot, region, cap, off);
      if (len > cap) break;
      if (len > 0) setBytes(regU8[region]!, pkt, off);
      desc16[slot * DESC_U16] = 0;
      desc[w + W_LEN] = len;
    }
    return i;
  }

  protected reserve(burst: TxBurst, n: number, pos: number, sizes: ArrayLike<number> | undefined): number {
    const desc = this.desc, regSize = this.regSize, nRegions = this.nRegions, mask = this.mask;
    const { segRegion, segOffset, segCapacity, segLength, pktFirstSeg, pktSegCount } = burst;
    let i = 0;
    for (; i < n; i++) {
      let want = -1;
      if (sizes !== undefined) {
        want = sizes[i]!;
        if (!(want >= 0 && Number.isInteger(want))) throw badSize(i, want);
      }
      const slot = (pos + i) & mask;
      // The posted descriptor, read once and validated as buffer() does.
      const w = slot * DESC_WORDS;
      const region = desc[w + W_FR]! >>> DESC_REGION_SHIFT;
      const cap = desc[w + W_LEN]!;
      const off = desc[w + W_OFF]!;
      if (region >= nRegions || off + cap > regSize[region]! || cap === 0) throw this.badPosted(slot, region, cap, off);
      if (want > cap) break;
      segRegion[i] = region;
      segOffset[i] = off;
      segCapacity[i] = cap;
      segLength[i] = want < 0 ? cap : want;
      pktFirstSeg[i] = i;
      pktSegCount[i] = 1;
    }
    return i;
  }

  protected describeBurst(burst: TxBurst, count: number, pos: number): void {
    const desc = this.desc, desc16 = this.desc16, mask = this.mask;
    const { segLength, pktFirstSeg, pktSegCount } = burst;
    for (let p = 0; p < count; p++) {
      const s0 = pktFirstSeg[p]!;
      const k = pktSegCount[p]!;
      for (let j = 0; j < k; j++) {
        const slot = (pos + j) & mask;
        desc16[slot * DESC_U16] = j + 1 < k ? NEXT : 0;
        desc[slot * DESC_WORDS + W_LEN] = segLength[s0 + j]!;
      }
      pos += k;
    }
  }

  protected describe(slot: number, flags: number, len: number): void {
    this.desc16[slot * DESC_U16] = flags;
    this.desc[slot * DESC_WORDS + W_LEN] = len;
  }

  protected publish(pos: number): void {
    this.ring.storeTail(pos);
  }
}

/** allocTx: what is wrong with sizes[p]. */
function badSize(p: number, want: number): RangeError {
  return new RangeError(`allocTx: sizes[${p}] must be a non-negative integer, got ${want}`);
}
