/**
 * The receiving side of a ring: MasterRxQueue on S2M (the slave produced [tail, head); we hand
 * slots back by advancing tail) and SlaveRxQueue on M2S (the master filled [last tail, tail) in
 * buffers we posted; we hand them back by posting them again and advancing head). Both share the
 * descriptor loop of RxQueue.rx, which validates every descriptor the peer wrote.
 */
import { type RxBurst } from './burst.js';
import { MemifRingError } from './errors.js';
import { MemifQueue, type MemifQueueOptions, type OwnBuffers } from './queue.js';
import { DESC_REGION_SHIFT, DESC_U32, DESC_WORDS, MEMIF_DESC_FLAG_NEXT, MEMIF_RING_FLAG_MASK_INT, MemifErrorCode as E } from '../wire.js';

const NEXT = MEMIF_DESC_FLAG_NEXT;
type ViolationCode = typeof E.CHAIN_OPEN | typeof E.CHAIN_TOO_LONG | typeof E.DESC_REGION | typeof E.DESC_BOUNDS | typeof E.DESC_LENGTH;
const W_FR = DESC_U32.flagsRegion;
const W_LEN = DESC_U32.length;
const W_OFF = DESC_U32.offset;

export abstract class RxQueue extends MemifQueue {
  readonly isProducer = false;
  /** Longest descriptor length accepted (slave: its buffer size; master: any u32). */
  private readonly capLimit: number;
  private readonly allowPartial: boolean;
  /** "head" or "tail": the peer's index on this ring, for error messages. */
  private readonly peerIndexName: string;
  /** Ring position just after each received-but-unreleased packet, FIFO: release(n) hands back
   *  everything up to the n-th one's end in one step, whatever the packets' segment counts. */
  private readonly outEnd: Uint16Array;
  private outHead = 0;
  private outCount = 0;
  /** The peer's index as read last (validated then). */
  private seen = 0;
  /** The burst rx() filled last (forward() takes only that one). */
  private lastBurst: RxBurst | null = null;

  protected constructor(opts: MemifQueueOptions, capLimit: number, peerIndexName: string) {
    super(opts);
    this.capLimit = capLimit;
    this.allowPartial = opts.allowPartialChains ?? false;
    this.peerIndexName = peerIndexName;
    this.outEnd = new Uint16Array(this.size);
  }

  /** Reads the peer's index, validates it against ours and the cursor, and returns it. */
  protected abstract loadPeer(): number;
  /** Gives every slot before ring position `end` back to the peer. */
  protected abstract handBack(end: number): void;

  protected clearState(): void {
    this.outHead = this.outCount = this.seen = 0;
    this.lastBurst = null;
  }

  override get rxOutstanding(): number {
    return this.outCount;
  }

  /**
   * Receive up to maxPackets whole packets (zero-copy) into burst. Returns the packet count.
   * The referenced buffers stay ours until release().
   * @throws MemifRingError on a peer protocol violation, including a packet with more segments
   *         than burst.maxSegments (size bursts for the largest packet you accept).
   */
  override rx(burst: RxBurst, maxPackets = burst.maxPackets): number {
    const mask = this.mask;
    const desc = this.desc;
    const regSize = this.regSize;
    const nRegions = this.nRegions;
    const capLimit = this.capLimit;
    let cur = this.cursor;
    if (maxPackets > burst.maxPackets) maxPackets = burst.maxPackets;
    // The peer's index sits on a line the sender writes on every burst: read it only when what
    // was seen last holds less than a full burst, or runs out before the burst is full (a
    // receiver that fell behind catches up without taking the line from the sender on every call).
    let peer = this.seen;
    let fresh = ((peer - cur) & 0xffff) < maxPackets || maxPackets === 0;
    if (fresh) this.seen = peer = this.loadPeer();
    let avail = (peer - cur) & 0xffff;
    const maxSegs = burst.maxSegments;
    const pktFirst = burst.pktFirstSeg;
    const pktSegs = burst.pktSegCount;
    const pktLen = burst.pktLength;
    const sRegion = burst.segRegion;
    const sOffset = burst.segOffset;
    const sLength = burst.segLength;
    const outEnd = this.outEnd;
    let outAt = this.outHead + this.outCount;
    let n = 0;
    let seg = 0;
    outer: while (n < maxPackets) {
      if (avail === 0) {
        if (fresh) break;
        fresh = true;
        this.cursor = cur; // loadPeer checks the new index against what we have received
        this.seen = peer = this.loadPeer();
        avail = (peer - cur) & 0xffff;
        if (avail === 0) break;
      }
      let k = 0;
      let total = 0;
      for (;;) {
        if (k === avail) {
          if (this.allowPartial) break outer;
          throw this.violation(E.CHAIN_OPEN, (cur + k - 1) & mask, peer);
        }
        if (seg + k === maxSegs) {
          // A packet longer than the receiver accepts (like DPDK's mbuf segment limit): a policy
          // violation by the peer, reported like any other so the connection can be dropped.
          if (n === 0) {
            throw this.violation(E.CHAIN_TOO_LONG, cur & mask, maxSegs);
          }
          break outer;
        }
        const slot = (cur + k) & mask;
        const w = slot * DESC_WORDS;
        const w0 = desc[w + W_FR]!;
        const len = desc[w + W_LEN]!;
        const off = desc[w + W_OFF]!;
        const region = w0 >>> DESC_REGION_SHIFT;
        if (region >= nRegions) throw this.violation(E.DESC_REGION, slot, region);
        if (off + len > regSize[region]!) throw this.violation(E.DESC_BOUNDS, slot, region, off, len);
        if (len > capLimit) throw this.violation(E.DESC_LENGTH, slot, len);
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
      seg += k;
      cur = (cur + k) & 0xffff;
      outEnd[outAt++ & mask] = cur;
      avail -= k;
      n++;
    }
    this.cursor = cur;
    this.outCount += n;
    burst.count = n;
    burst.segCount = seg;
    burst.regions = this.regU8;
    burst.regions32 = this.regU32;
    this.lastBurst = burst;
    return n;
  }

  /**
   * @internal For SlaveTxQueue.forward: checks that packets start .. start+count-1 of `burst` are
   * the oldest received-but-unreleased ones (the burst rx() filled last, everything before `start`
   * released) and returns where the ring position after packet `start + p` is kept: outEnd[(at + p) & mask].
   */
  forwardable(burst: RxBurst, start: number, count: number): number {
    if (burst !== this.lastBurst || !Number.isInteger(start) || start < 0 || !Number.isInteger(count) || count < 0 || start + count > burst.count) {
      throw new RangeError(`MemifQueue ${this.name}: forward(count ${count}, start ${start}) takes packets of the burst rx() filled last (${burst === this.lastBurst ? burst.count : 0} packets)`);
    }
    if (this.outCount !== burst.count - start) {
      throw new RangeError(`MemifQueue ${this.name}: forward(start ${start}) with ${this.outCount} packets outstanding: release everything received before this burst's packet ${start} first`);
    }
    return this.outHead;
  }

  /** @internal The ring position just after outstanding packet record `i` (see forwardable). */
  outstandingEnd(i: number): number {
    return this.outEnd[i & this.mask]!;
  }

  /**
   * The error for what the peer got wrong at `slot`: the messages live here, so the descriptor loop
   * in rx reads as the checks it makes (and carries no message building in its body).
   */
  private violation(code: ViolationCode, slot: number, a: number, b = 0, c = 0): MemifRingError {
    const at = `${this.name} slot ${slot}`;
    switch (code) {
      case E.CHAIN_OPEN:
        return new MemifRingError(code, `${at}: descriptor has NEXT set but is the last one published (${this.peerIndexName} ${a})`);
      case E.CHAIN_TOO_LONG:
        return new MemifRingError(code, `${at}: packet has more than ${a} segments (the receive burst's maxSegments)`);
      case E.DESC_REGION:
        return new MemifRingError(code, `${at}: descriptor region ${a} does not exist (${this.nRegions} regions)`);
      case E.DESC_BOUNDS:
        return new MemifRingError(code, `${at}: descriptor offset 0x${b.toString(16)} + length ${c} exceeds region ${a} size ${this.regSize[a]}`);
      case E.DESC_LENGTH:
        return new MemifRingError(code, `${at}: descriptor length ${a} exceeds the posted buffer size ${this.capLimit}`);
      default: {
        const never: never = code;
        throw new Error(`rx: no message for ${String(never)}`);
      }
    }
  }

  /** Hands the oldest n received packets back to the peer. */
  override release(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.outCount) {
      throw new RangeError(`MemifQueue ${this.name}: release(${n}) with ${this.outCount} packets outstanding`);
    }
    if (n === 0) return;
    const end = this.outEnd[(this.outHead + n - 1) & this.mask]!;
    this.outHead = (this.outHead + n) & this.mask;
    this.outCount -= n;
    this.handBack(end);
  }

  /**
   * on = true clears MEMIF_RING_FLAG_MASK_INT (the peer should kick our eventfd after tx), false
   * sets it (we poll; DPDK sets it at connect, libmemif memif_set_rx_mode writes it).
   */
  override setInterruptMode(on: boolean): void {
    const f = this.ring.loadFlags();
    this.ring.storeFlags(on ? f & ~MEMIF_RING_FLAG_MASK_INT : f | MEMIF_RING_FLAG_MASK_INT);
  }
}

/** Master on S2M. */
export class MasterRxQueue extends RxQueue {
  constructor(opts: MemifQueueOptions) {
    super(opts, 0xffffffff, 'head');
  }

  protected loadPeer(): number {
    // The slave produced [tail, head); head - tail <= ring size, and head never moves back.
    const head = this.ring.loadHead();
    const d = (head - this.own) & 0xffff;
    if (d > this.size) {
      throw new MemifRingError(E.RING_INDEX, `${this.name}: head ${head} is ${d} slots past tail ${this.own}, more than ring size ${this.size}`);
    }
    if (((this.cursor - this.own) & 0xffff) > d) {
      throw new MemifRingError(E.RING_INDEX, `${this.name}: head ${head} moved back behind already received slot ${this.cursor}`);
    }
    return head;
  }

  protected handBack(end: number): void {
    this.own = end;
    this.ring.storeTail(end);
  }
}

/** Slave on M2S: it posts its own buffers, and the master fills them. */
export class SlaveRxQueue extends RxQueue {
  /** @internal The buffer each slot owns; SlaveTxQueue.forward trades entries with its own table. */
  readonly bufs: OwnBuffers;
  /** First slot not yet released by the caller (re-post boundary). */
  private released = 0;

  constructor(opts: MemifQueueOptions) {
    super(opts, opts.bufferSize ?? 0, 'tail');
    this.bufs = this.ownBuffers(opts);
  }

  /**
   * Zeroes head and tail, then posts every buffer (head = ring size; each descriptor: flags 0, own
   * region/offset, length = bufferSize), which is what DPDK's eth_memif_rx refill, VPP's
   * input-node refill and libmemif apps' memif_refill_queue(-1) in on_connect do before the master
   * can send anything.
   */
  override reset(): void {
    super.reset();
    this.post();
  }

  override adoptAfterReset(): void {
    super.adoptAfterReset();
    this.own = this.ring.loadHead();
  }

  protected override clearState(): void {
    super.clearState();
    this.released = 0;
  }

  protected loadPeer(): number {
    // The master filled [last_tail, tail); tail may not pass our head.
    const tail = this.ring.loadTail();
    const cur = this.cursor;
    if (((tail - cur) & 0xffff) > ((this.own - cur) & 0xffff)) {
      throw new MemifRingError(E.RING_INDEX, `${this.name}: tail ${tail} outside [${cur}, ${this.own}] (last received slot .. posted head)`);
    }
    return tail;
  }

  protected handBack(end: number): void {
    this.released = end;
    this.post();
  }

  /** @internal Ring position of the oldest received slot not yet released (forward's first). */
  get firstOutstanding(): number {
    return this.released;
  }

  /** Posts every released slot up to released + ring size, then publishes head. */
  private post(): void {
    const mask = this.mask;
    const desc = this.desc;
    const { region: sr, offset: so, size: b } = this.bufs;
    let h = this.own;
    const target = (this.released + this.size) & 0xffff;
    for (let n = (target - h) & 0xffff; n > 0; n--) {
      const slot = h & mask;
      const w = slot * DESC_WORDS;
      desc[w + W_FR] = sr[slot]! << DESC_REGION_SHIFT; // flags 0
      desc[w + W_LEN] = b;
      desc[w + W_OFF] = so[slot]!;
      h = (h + 1) & 0xffff;
    }
    this.own = h;
    this.ring.storeHead(h);
  }
}
