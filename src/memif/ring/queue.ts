/**
 * MemifQueue: the data path of one memif ring, seen from one side.
 *
 * Who does what (libmemif main.c memif_tx_burst/memif_rx_burst/memif_refill_queue/
 * memif_buffer_alloc, DPDK rte_eth_memif.c eth_memif_tx/eth_memif_rx, VPP device.c
 * memif_interface_tx_inline, node.c memif_device_input_inline):
 *
 *   ring  role    we are    we write                              we advance  we read (peer's)
 *   S2M   slave   producer  desc flags/region/length/offset       head        tail (reclaim buffers)
 *   S2M   master  consumer  nothing in descriptors                tail        head
 *   M2S   master  producer  desc flags + length only; capacity    tail        head (slots posted)
 *                           is the length the slave posted
 *   M2S   slave   consumer  re-posts: flags 0, own region/offset,  head        tail
 *                           length = bufferSize
 *
 * head/tail are free-running u16 counters; slot = counter & (size - 1). We keep our own index in
 * a private shadow and only ever read the peer's index from shared memory, so a peer scribbling
 * on "our" index cannot steer us. Every value the peer controls (its index, and on the rings it
 * writes, each descriptor's region/offset/length/flags) is validated before use; a violation
 * throws MemifRingError and nothing out of bounds is read or written. Descriptor words are read
 * once into locals, so a peer changing them concurrently cannot bypass a check.
 *
 * Ordering: descriptors (and payload) are written before the Atomics.store of head/tail, which
 * happens once per burst; the peer's head/tail is read with Atomics.load before any descriptor.
 *
 * Not thread-safe: one MemifQueue per ring per side, used from one thread.
 */
import { type RxBurst, type TxBurst } from './burst.js';
import { copyBytes } from './copy.js';
import { MemifRingError } from './errors.js';
import { MemifErrorCode as E, MEMIF_DESC_FLAG_NEXT, MEMIF_RING_FLAG_MASK_INT, RingType, ringTypeName } from '../wire.js';
import { type SlotTable } from './layout.js';
import { type RegionMemory, regionBytes, regionWords } from './region.js';
import { type RingView } from './ring.js';

export type MemifRole = 'master' | 'slave';

export interface MemifQueueOptions {
  role: MemifRole;
  ringType: RingType;
  ring: RingView;
  /** Region windows, index = region index. The byteLength of each is its size for bounds checks. */
  regions: readonly RegionMemory[];
  /** Slave only: size of each of its buffers (descriptor capacity it posts / may fill). */
  bufferSize?: number;
  /** Slave only: the buffer each slot of this ring owns. */
  slots?: SlotTable;
  /** Queue index, for error messages. Default 0. */
  ringIndex?: number;
  /**
   * Receive side: when the last published descriptor still has NEXT set, stop before that packet
   * and wait for the rest (as VPP's memif_parse_desc does) instead of throwing. Default false:
   * a chain running past the peer's head/tail is a protocol violation (every known producer
   * publishes whole packets).
   */
  allowPartialChains?: boolean;
}

const NEXT = MEMIF_DESC_FLAG_NEXT;

export class MemifQueue {
  readonly role: MemifRole;
  readonly ringType: RingType;
  readonly ring: RingView;
  /** True when this side writes packets into the ring (slave on S2M, master on M2S). */
  readonly isProducer: boolean;
  readonly size: number;
  /** "S2M ring 0": prefix of error messages. */
  readonly name: string;

  private readonly mask: number;
  private readonly isSlave: boolean;
  private readonly desc: Uint32Array;
  private readonly desc16: Uint16Array;
  private readonly regU8: Uint8Array[];
  private readonly regU32: (Uint32Array | null)[];
  private readonly regSize: Float64Array;
  private readonly nRegions: number;
  private readonly bufferSize: number;
  private readonly slotRegion: Uint16Array | null;
  private readonly slotOffset: Uint32Array | null;
  private readonly allowPartial: boolean;

  /** Our index (slave: head, master: tail), u16. */
  private own = 0;
  /** rx: next slot to receive (master: last_head, slave: last_tail). tx: last peer index seen. */
  private cursor = 0;
  /** Slave M2S: first slot not yet released by the caller (re-post boundary). */
  private released = 0;
  /** Slots of each received-but-unreleased packet, FIFO. */
  private readonly outSlots: Uint16Array;
  private outHead = 0;
  private outCount = 0;
  /** Master M2S tx: per-segment lengths of the packet being built. */
  private readonly scratchLen: Uint32Array;
  /** allocTx reservation. */
  private pendingBurst: TxBurst | null = null;
  private pendingPos = 0;
  /** Region and offset of the descriptor last validated by postedCapacity (read once). */
  private postedRegion = 0;
  private postedOffset = 0;

  constructor(opts: MemifQueueOptions) {
    const { role, ringType, ring } = opts;
    if (role !== 'master' && role !== 'slave') throw new RangeError(`MemifQueue: role must be 'master' or 'slave', got ${String(role)}`);
    if (ringType !== RingType.S2M && ringType !== RingType.M2S) throw new RangeError(`MemifQueue: ringType must be 0 (S2M) or 1 (M2S), got ${String(ringType)}`);
    this.role = role;
    this.ringType = ringType;
    this.ring = ring;
    this.isSlave = role === 'slave';
    this.isProducer = this.isSlave === (ringType === RingType.S2M);
    this.size = ring.size;
    this.mask = ring.mask;
    this.name = `${ringTypeName(ringType)} ring ${opts.ringIndex ?? 0}`;
    this.desc = ring.desc;
    this.desc16 = ring.desc16;
    this.regU8 = opts.regions.map(regionBytes);
    this.regU32 = this.regU8.map(regionWords);
    this.regSize = Float64Array.from(this.regU8, (r) => r.byteLength);
    this.nRegions = this.regU8.length;
    this.allowPartial = opts.allowPartialChains ?? false;
    this.outSlots = new Uint16Array(this.size);
    this.scratchLen = new Uint32Array(this.size);
    ring.checkCookie(this.name);

    if (this.isSlave) {
      const b = opts.bufferSize;
      if (b === undefined || !Number.isInteger(b) || b < 1 || b > 0xffffffff) {
        throw new RangeError(`MemifQueue ${this.name}: slave needs bufferSize (integer >= 1), got ${String(b)}`);
      }
      const slots = opts.slots;
      if (!slots || slots.region.length < this.size || slots.offset.length < this.size) {
        throw new RangeError(`MemifQueue ${this.name}: slave needs slots for all ${this.size} ring slots`);
      }
      for (let j = 0; j < this.size; j++) {
        const r = slots.region[j]!;
        const o = slots.offset[j]!;
        if (r >= this.nRegions || o + b > this.regSize[r]!) {
          throw new RangeError(`MemifQueue ${this.name}: slot ${j} buffer (region ${r}, offset ${o}, size ${b}) is outside the regions given`);
        }
      }
      this.bufferSize = b;
      this.slotRegion = slots.region;
      this.slotOffset = slots.offset;
    } else {
      this.bufferSize = 0;
      this.slotRegion = null;
      this.slotOffset = null;
    }
  }

  /**
   * Call once per connection, when the interface connects: zeroes head and tail like libmemif
   * memif_connect1 and DPDK memif_connect do (master: on CONNECT, before answering CONNECTED;
   * slave: on CONNECTED). On the slave's M2S ring it then posts every buffer (head = ring size,
   * each descriptor: flags 0, own region/offset, length = bufferSize), which is what DPDK's
   * eth_memif_rx refill, VPP's input-node refill and libmemif apps' memif_refill_queue(-1) in
   * on_connect do before the master can send anything.
   */
  reset(): void {
    this.ring.storeTail(0);
    this.ring.storeHead(0);
    this.own = this.cursor = this.released = 0;
    this.outHead = this.outCount = 0;
    this.pendingBurst = null;
    if (this.isSlave && !this.isProducer) this.post();
  }

  /**
   * Takes over a ring that another MemifQueue (in another thread) reset and has not used since:
   * the same state reset() leaves, read from shared memory instead of written to it.
   */
  adoptAfterReset(): void {
    this.own = this.isSlave && !this.isProducer ? this.ring.loadHead() : 0;
    this.cursor = this.released = 0;
    this.outHead = this.outCount = 0;
    this.pendingBurst = null;
  }

  /** Received packets not yet released. */
  get rxOutstanding(): number {
    return this.outCount;
  }

  // ---------------------------------------------------------------- receive

  /**
   * Receive up to maxPackets whole packets (zero-copy) into burst. Returns the packet count.
   * The referenced buffers stay ours until release().
   * @throws MemifRingError on a peer protocol violation, including a packet with more segments
   *         than burst.maxSegments (size bursts for the largest packet you accept); Error when
   *         called on a transmit ring.
   */
  rx(burst: RxBurst, maxPackets = burst.maxPackets): number {
    if (this.isProducer) throw new Error(`MemifQueue ${this.name}: rx() on the ${this.role}'s transmit ring`);
    const mask = this.mask;
    const desc = this.desc;
    const regSize = this.regSize;
    const nRegions = this.nRegions;
    const capLimit = this.isSlave ? this.bufferSize : Infinity;
    let cur = this.cursor;
    let peer: number;
    if (this.isSlave) {
      // M2S: the master filled [last_tail, tail); tail may not pass our head.
      peer = this.ring.loadTail();
      if (((peer - cur) & 0xffff) > ((this.own - cur) & 0xffff)) {
        throw new MemifRingError(E.RING_INDEX, `${this.name}: tail ${peer} outside [${cur}, ${this.own}] (last received slot .. posted head)`);
      }
    } else {
      // S2M: the slave produced [tail, head); head - tail <= ring size, and head never moves back.
      peer = this.ring.loadHead();
      const d = (peer - this.own) & 0xffff;
      if (d > this.size) {
        throw new MemifRingError(E.RING_INDEX, `${this.name}: head ${peer} is ${d} slots past tail ${this.own}, more than ring size ${this.size}`);
      }
      if (((cur - this.own) & 0xffff) > d) {
        throw new MemifRingError(E.RING_INDEX, `${this.name}: head ${peer} moved back behind already received slot ${cur}`);
      }
    }
    let avail = (peer - cur) & 0xffff;
    if (maxPackets > burst.maxPackets) maxPackets = burst.maxPackets;
    const maxSegs = burst.maxSegments;
    const pktFirst = burst.pktFirstSeg;
    const pktSegs = burst.pktSegCount;
    const pktLen = burst.pktLength;
    const sRegion = burst.segRegion;
    const sOffset = burst.segOffset;
    const sLength = burst.segLength;
    const outSlots = this.outSlots;
    let n = 0;
    let seg = 0;
    outer: while (n < maxPackets && avail > 0) {
      let k = 0;
      let total = 0;
      for (;;) {
        if (k === avail) {
          if (this.allowPartial) break outer;
          throw new MemifRingError(
            E.CHAIN_OPEN,
            `${this.name} slot ${(cur + k - 1) & mask}: descriptor has NEXT set but is the last one published (${this.isSlave ? 'tail' : 'head'} ${peer})`,
          );
        }
        if (seg + k === maxSegs) {
          // A packet longer than the receiver accepts (like DPDK's mbuf segment limit): a policy
          // violation by the peer, reported like any other so the connection can be dropped.
          if (n === 0) {
            throw new MemifRingError(E.CHAIN_TOO_LONG, `${this.name} slot ${cur & mask}: packet has more than ${maxSegs} segments (the receive burst's maxSegments)`);
          }
          break outer;
        }
        const slot = (cur + k) & mask;
        const w = slot << 2;
        const w0 = desc[w]!;
        const len = desc[w + 1]!;
        const off = desc[w + 2]!;
        const region = w0 >>> 16;
        if (region >= nRegions) {
          throw new MemifRingError(E.DESC_REGION, `${this.name} slot ${slot}: descriptor region ${region} does not exist (${nRegions} regions)`);
        }
        if (off + len > regSize[region]!) {
          throw new MemifRingError(
            E.DESC_BOUNDS,
            `${this.name} slot ${slot}: descriptor offset 0x${off.toString(16)} + length ${len} exceeds region ${region} size ${regSize[region]}`,
          );
        }
        if (len > capLimit) {
          throw new MemifRingError(E.DESC_LENGTH, `${this.name} slot ${slot}: descriptor length ${len} exceeds the posted buffer size ${capLimit}`);
        }
        sRegion[seg + k] = region;
        sOffset[seg + k] = off;
        sLength[seg + k] = len;
        total += len;
        k++;
        if ((w0 & NEXT) === 0) break;
      }
      pktFirst[n] = seg;
      pktSegs[n] = k;
      pktLen[n] = total;
      outSlots[(this.outHead + this.outCount) & mask] = k;
      this.outCount++;
      seg += k;
      cur = (cur + k) & 0xffff;
      avail -= k;
      n++;
    }
    this.cursor = cur;
    burst.count = n;
    burst.segCount = seg;
    burst.regions = this.regU8;
    burst.regions32 = this.regU32;
    return n;
  }

  /**
   * Hand the oldest n received packets back to the peer: master on S2M advances tail; slave on
   * M2S re-posts those buffers (flags 0, own region/offset, length bufferSize) and advances head.
   */
  release(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.outCount) {
      throw new RangeError(`MemifQueue ${this.name}: release(${n}) with ${this.outCount} packets outstanding`);
    }
    if (n === 0) return;
    const mask = this.mask;
    let slots = 0;
    for (let i = 0; i < n; i++) slots += this.outSlots[(this.outHead + i) & mask]!;
    this.outHead = (this.outHead + n) & mask;
    this.outCount -= n;
    if (this.isSlave) {
      this.released = (this.released + slots) & 0xffff;
      this.post();
    } else {
      this.own = (this.own + slots) & 0xffff;
      this.ring.storeTail(this.own);
    }
  }

  releaseAll(): void {
    this.release(this.outCount);
  }

  /** Slave M2S: post every released slot up to released + ring size, then publish head. */
  private post(): void {
    const mask = this.mask;
    const desc = this.desc;
    const sr = this.slotRegion!;
    const so = this.slotOffset!;
    const b = this.bufferSize;
    let h = this.own;
    const target = (this.released + this.size) & 0xffff;
    for (let n = (target - h) & 0xffff; n > 0; n--) {
      const slot = h & mask;
      const w = slot << 2;
      desc[w] = sr[slot]! << 16; // flags 0
      desc[w + 1] = b;
      desc[w + 2] = so[slot]!;
      h = (h + 1) & 0xffff;
    }
    this.own = h;
    this.ring.storeHead(h);
  }

  // ---------------------------------------------------------------- transmit

  /** Free slots right now (validates the peer's index). Producer only. */
  txSpace(): number {
    this.checkProducer('txSpace');
    return this.freeSlots();
  }

  /** Free slots starting at this.own; reads and validates the peer's index. */
  private freeSlots(): number {
    const own = this.own;
    if (this.isSlave) {
      // S2M: the master consumed up to tail; tail may only move forward, up to our head.
      const tail = this.ring.loadTail();
      if (((tail - this.cursor) & 0xffff) > ((own - this.cursor) & 0xffff)) {
        throw new MemifRingError(E.RING_INDEX, `${this.name}: tail ${tail} outside [${this.cursor}, ${own}] (last seen tail .. head)`);
      }
      this.cursor = tail;
      return this.size - ((own - tail) & 0xffff);
    }
    // M2S: the slave posted up to head; head - tail <= ring size and head never moves back.
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

  private checkProducer(what: string): void {
    if (!this.isProducer) throw new Error(`MemifQueue ${this.name}: ${what}() on the ${this.role}'s receive ring`);
    if (this.pendingBurst !== null) throw new Error(`MemifQueue ${this.name}: ${what}() while an allocTx reservation is pending (commitTx first)`);
  }

  /**
   * Master M2S: read (once), validate and return the capacity of the slave-posted descriptor at
   * slot; its region and offset are left in postedRegion/postedOffset. (DPDK eth_memif_tx and
   * VPP memif_interface_tx_inline use d->length as the buffer capacity on M2S.)
   */
  private postedCapacity(slot: number): number {
    const w = slot << 2;
    const region = this.desc[w]! >>> 16;
    const cap = this.desc[w + 1]!;
    const off = this.desc[w + 2]!;
    if (region >= this.nRegions) {
      throw new MemifRingError(E.DESC_REGION, `${this.name} slot ${slot}: posted descriptor region ${region} does not exist (${this.nRegions} regions)`);
    }
    if (off + cap > this.regSize[region]!) {
      throw new MemifRingError(
        E.DESC_BOUNDS,
        `${this.name} slot ${slot}: posted descriptor offset 0x${off.toString(16)} + length ${cap} exceeds region ${region} size ${this.regSize[region]}`,
      );
    }
    if (cap === 0) throw new MemifRingError(E.DESC_LENGTH, `${this.name} slot ${slot}: posted descriptor has length 0 (no room)`);
    this.postedRegion = region;
    this.postedOffset = off;
    return cap;
  }

  /**
   * Copy packets[start .. start+count-1] into free buffers and publish them with one head/tail
   * store. A packet larger than one buffer is chained with NEXT (slave: bufferSize per buffer;
   * master: each slave-posted descriptor's length is that buffer's capacity). Stops at the first
   * packet that does not fit whole; returns the number of packets sent.
   */
  tx(packets: ArrayLike<Uint8Array>, count = packets.length, start = 0): number {
    this.checkProducer('tx');
    if (count > packets.length - start) count = packets.length - start;
    let free = this.freeSlots();
    const mask = this.mask;
    const desc = this.desc;
    const regU8 = this.regU8;
    const regU32 = this.regU32;
    let pos = this.own;
    let sent = 0;
    if (this.isSlave) {
      const b = this.bufferSize;
      const sr = this.slotRegion!;
      const so = this.slotOffset!;
      for (; sent < count; sent++) {
        const pkt = packets[start + sent]!;
        const len = pkt.length;
        if (len <= b) {
          if (free === 0) break;
          const slot = pos & mask;
          const region = sr[slot]!;
          const off = so[slot]!;
          if (len > 0) regU8[region]!.set(pkt, off);
          const w = slot << 2;
          desc[w] = region << 16;
          desc[w + 1] = len;
          desc[w + 2] = off;
          desc[w + 3] = 0;
          pos = (pos + 1) & 0xffff;
          free--;
          continue;
        }
        const nseg = Math.ceil(len / b);
        if (nseg > free) break;
        let at = 0;
        for (let k = 0; k < nseg; k++) {
          const slot = pos & mask;
          const region = sr[slot]!;
          const off = so[slot]!;
          const n = len - at < b ? len - at : b;
          copyBytes(regU8[region]!, regU32[region]!, off, pkt, null, at, n);
          const w = slot << 2;
          desc[w] = (k + 1 < nseg ? NEXT : 0) | (region << 16);
          desc[w + 1] = n;
          desc[w + 2] = off;
          desc[w + 3] = 0;
          at += n;
          pos = (pos + 1) & 0xffff;
        }
        free -= nseg;
      }
      if (sent > 0) {
        this.own = pos;
        this.ring.storeHead(pos);
      }
      return sent;
    }
    // master on M2S
    const desc16 = this.desc16;
    const scratch = this.scratchLen;
    for (; sent < count; sent++) {
      const pkt = packets[start + sent]!;
      const len = pkt.length;
      let at = 0;
      let k = 0;
      do {
        if (k === free) break;
        const slot = (pos + k) & mask;
        const cap = this.postedCapacity(slot);
        const region = this.postedRegion;
        const off = this.postedOffset;
        const n = len - at < cap ? len - at : cap;
        if (n > 0) {
          if (n === len) regU8[region]!.set(pkt, off);
          else copyBytes(regU8[region]!, regU32[region]!, off, pkt, null, at, n);
        }
        scratch[k] = n;
        at += n;
        k++;
      } while (at < len);
      if (at < len || (k === 0 && free === 0)) break; // does not fit whole: not sent
      for (let j = 0; j < k; j++) {
        const slot = (pos + j) & mask;
        desc16[slot << 3] = j + 1 < k ? NEXT : 0;
        desc[(slot << 2) + 1] = scratch[j]!;
      }
      pos = (pos + k) & 0xffff;
      free -= k;
    }
    if (sent > 0) {
      this.own = pos;
      this.ring.storeTail(pos);
    }
    return sent;
  }

  /**
   * Zero-copy transmit, step 1: reserve buffers for up to n packets (never a partial packet) and
   * describe them in burst. sizes[i], when given, is packet i's length: it gets enough chained
   * segments and segLength is preset; without sizes each packet gets one buffer with
   * segLength = capacity. Write the payload at burst.regions[segRegion[s]][segOffset[s] ..],
   * adjust segLength[s] (<= segCapacity[s]) or use burst.write(), then commitTx().
   * Nothing is visible to the peer until commitTx.
   */
  allocTx(burst: TxBurst, n: number, sizes?: ArrayLike<number>): number {
    this.checkProducer('allocTx');
    const free = this.freeSlots();
    const mask = this.mask;
    const maxSegs = burst.maxSegments;
    if (n > burst.maxPackets) n = burst.maxPackets;
    const pos0 = this.own;
    let used = 0;
    let seg = 0;
    let p = 0;
    for (; p < n; p++) {
      let want = -1;
      if (sizes !== undefined) {
        want = sizes[p]!;
        if (!Number.isInteger(want) || want < 0) throw new RangeError(`allocTx: sizes[${p}] must be a non-negative integer, got ${want}`);
      }
      let k = 0;
      let left = want < 0 ? 0 : want;
      let fits = true;
      do {
        if (used + k === free || seg + k === maxSegs) {
          fits = false;
          break;
        }
        const slot = (pos0 + used + k) & mask;
        let cap: number;
        if (this.isSlave) {
          cap = this.bufferSize;
          burst.segRegion[seg + k] = this.slotRegion![slot]!;
          burst.segOffset[seg + k] = this.slotOffset![slot]!;
        } else {
          cap = this.postedCapacity(slot);
          burst.segRegion[seg + k] = this.postedRegion;
          burst.segOffset[seg + k] = this.postedOffset;
        }
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
  commitTx(n?: number): number {
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
    const mask = this.mask;
    const desc = this.desc;
    let pos = this.pendingPos;
    for (let p = 0; p < count; p++) {
      const s0 = burst.pktFirstSeg[p]!;
      const k = burst.pktSegCount[p]!;
      for (let j = 0; j < k; j++) {
        const slot = pos & mask;
        const w = slot << 2;
        const flags = j + 1 < k ? NEXT : 0;
        if (this.isSlave) {
          desc[w] = flags | (this.slotRegion![slot]! << 16);
          desc[w + 2] = this.slotOffset![slot]!;
          desc[w + 3] = 0;
        } else {
          this.desc16[slot << 3] = flags;
        }
        desc[w + 1] = burst.segLength[s0 + j]!;
        pos = (pos + 1) & 0xffff;
      }
    }
    if (count > 0) {
      this.own = pos;
      if (this.isSlave) this.ring.storeHead(pos);
      else this.ring.storeTail(pos);
    }
    return count;
  }

  // ---------------------------------------------------------------- interrupts

  /**
   * Transmit rings: true when the receiver has not set MEMIF_RING_FLAG_MASK_INT, i.e. after a
   * tx that sent something the caller should write the ring's eventfd (memif_tx_burst,
   * eth_memif_tx). Always false on receive rings.
   */
  peerWantsKick(): boolean {
    return this.isProducer && (this.ring.loadFlags() & MEMIF_RING_FLAG_MASK_INT) === 0;
  }

  /**
   * Receive rings: on = true clears MASK_INT (the peer should kick our eventfd after tx),
   * false sets it (we poll; DPDK sets it at connect, libmemif memif_set_rx_mode writes it).
   */
  setInterruptMode(on: boolean): void {
    if (this.isProducer) throw new Error(`MemifQueue ${this.name}: setInterruptMode() on a transmit ring; the receiver owns MASK_INT`);
    const f = this.ring.loadFlags();
    this.ring.storeFlags(on ? f & ~MEMIF_RING_FLAG_MASK_INT : f | MEMIF_RING_FLAG_MASK_INT);
  }
}
