/**
 * Reusable burst descriptors (structs of typed arrays): allocate once, pass to every
 * MemifQueue.rx / allocTx call.
 *
 * RxBurst after rx() returns n: packet i (0 <= i < n) consists of segments
 * pktFirstSeg[i] .. pktFirstSeg[i] + pktSegCount[i] - 1, total pktLength[i] bytes; segment s is
 * segLength[s] bytes at segOffset[s] of region segRegion[s], i.e. zero-copy
 * `burst.regions[segRegion[s]].subarray(segOffset[s], segOffset[s] + segLength[s])`, valid until
 * MemifQueue.release() hands it back. All values were validated against the region bounds.
 *
 * TxBurst after allocTx() returns n: the same shape, plus segCapacity[s] (bytes writable at
 * segOffset[s]). Write payload there, set segLength[s] (<= segCapacity[s]) or use write(), then
 * commitTx().
 */
import { copyBytes, setBytes } from './copy.js';
import { regionWords } from './region.js';

abstract class BurstBase {
  readonly maxPackets: number;
  readonly maxSegments: number;
  /** Packets in the burst. */
  count = 0;
  /** Segments in the burst. */
  segCount = 0;
  readonly pktFirstSeg: Uint32Array;
  readonly pktSegCount: Uint32Array;
  readonly segRegion: Uint16Array;
  readonly segOffset: Uint32Array;
  readonly segLength: Uint32Array;
  /** Region windows the segments point into (index = region index). Set by the queue. */
  regions: readonly Uint8Array[] = [];
  /** @internal word views of `regions` (null when unaligned). Set by the queue. */
  regions32: readonly (Uint32Array | null)[] = [];

  constructor(maxPackets: number, maxSegments: number) {
    if (!Number.isInteger(maxPackets) || maxPackets < 1) throw new RangeError(`burst maxPackets must be >= 1, got ${maxPackets}`);
    if (!Number.isInteger(maxSegments) || maxSegments < maxPackets) {
      throw new RangeError(`burst maxSegments must be an integer >= maxPackets (${maxPackets}), got ${maxSegments}`);
    }
    this.maxPackets = maxPackets;
    this.maxSegments = maxSegments;
    this.pktFirstSeg = new Uint32Array(maxPackets);
    this.pktSegCount = new Uint32Array(maxPackets);
    this.segRegion = new Uint16Array(maxSegments);
    this.segOffset = new Uint32Array(maxSegments);
    this.segLength = new Uint32Array(maxSegments);
  }

  /**
   * Segments s .. end-1 lie in one region, each starting where the one before ends: the packet's
   * bytes are one run there (a slave's own buffers, and the ones DPDK, VPP and libmemif slaves
   * post, follow each other in ring order), which one copy moves.
   */
  protected contiguous(s: number, end: number): boolean {
    const r = this.segRegion[s]!;
    for (let j = s + 1; j < end; j++) {
      if (this.segRegion[j] !== r || this.segOffset[j] !== this.segOffset[j - 1]! + this.segLength[j - 1]!) return false;
    }
    return true;
  }

  /** Zero-copy view of segment s (allocates a subarray view; the hot path should not need it). */
  segment(s: number): Uint8Array {
    if (s >= this.segCount) throw new RangeError(`segment ${s} >= segCount ${this.segCount}`);
    const o = this.segOffset[s]!;
    return this.regions[this.segRegion[s]!]!.subarray(o, o + this.segLength[s]!);
  }
}

export class RxBurst extends BurstBase {
  /** Total bytes of each packet (sum of its segment lengths). */
  readonly pktLength: Float64Array;
  private lastDst: Uint8Array | null = null;
  private lastDst32: Uint32Array | null = null;

  /** @param maxSegments default max(64, 8 * maxPackets): a packet with more segments than this can never be received. */
  constructor(maxPackets: number, maxSegments = Math.max(64, maxPackets * 8)) {
    super(maxPackets, maxSegments);
    this.pktLength = new Float64Array(maxPackets);
  }

  /**
   * Copy packet i (all segments, in order) into dst at dstOffset; returns the byte count.
   * No allocation when dst is reused and the packet is short; throws RangeError when it does not fit.
   */
  copyPacket(i: number, dst: Uint8Array, dstOffset = 0): number {
    if (i >= this.count) throw new RangeError(`packet ${i} >= count ${this.count}`);
    const total = this.pktLength[i]!;
    if (dstOffset + total > dst.length) {
      throw new RangeError(`packet ${i} is ${total} bytes; destination has ${dst.length - dstOffset} from offset ${dstOffset}`);
    }
    if (dst !== this.lastDst) {
      this.lastDst = dst;
      this.lastDst32 = regionWords(dst);
    }
    const d32 = this.lastDst32;
    let s = this.pktFirstSeg[i]!;
    const end = s + this.pktSegCount[i]!;
    if (end - s > 1 && this.contiguous(s, end)) {
      // Buffers that follow each other: one copy (and one view of the region) for the packet.
      const r0 = this.segRegion[s]!;
      copyBytes(dst, d32, dstOffset, this.regions[r0]!, this.regions32[r0]!, this.segOffset[s]!, total);
      return total;
    }
    let at = dstOffset;
    for (; s < end; s++) {
      const r = this.segRegion[s]!;
      const len = this.segLength[s]!;
      copyBytes(dst, d32, at, this.regions[r]!, this.regions32[r]!, this.segOffset[s]!, len);
      at += len;
    }
    return total;
  }
}

export class TxBurst extends BurstBase {
  /** Writable bytes at segOffset[s]. */
  readonly segCapacity: Uint32Array;

  constructor(maxPackets: number, maxSegments = Math.max(64, maxPackets * 8)) {
    super(maxPackets, maxSegments);
    this.segCapacity = new Uint32Array(maxSegments);
  }

  /** Total capacity of packet i's segments. */
  packetCapacity(i: number): number {
    let c = 0;
    const s0 = this.pktFirstSeg[i]!;
    for (let s = s0; s < s0 + this.pktSegCount[i]!; s++) c += this.segCapacity[s]!;
    return c;
  }

  /**
   * Copy src into packet i's segments in order and set their lengths (unused trailing segments
   * get length 0). Returns src.length; throws RangeError when src exceeds the packet's capacity.
   */
  write(i: number, src: Uint8Array): number {
    if (i >= this.count) throw new RangeError(`packet ${i} >= count ${this.count}`);
    const s0 = this.pktFirstSeg[i]!;
    const len = src.length;
    if (this.pktSegCount[i] === 1 && len <= this.segCapacity[s0]!) {
      // The common case, one buffer: one setBytes (a word loop for a repeated template source was
      // faster once, when a set() call cost a method lookup; now it is 15-20 % slower).
      setBytes(this.regions[this.segRegion[s0]!]!, src, this.segOffset[s0]!);
      this.segLength[s0] = len;
      return len;
    }
    const end = s0 + this.pktSegCount[i]!;
    if (len > this.packetCapacity(i)) throw new RangeError(`packet ${i}: ${len} bytes exceed capacity ${this.packetCapacity(i)}`);
    let left = len;
    let used = s0;
    for (let s = s0; s < end; s++) {
      const n = Math.min(left, this.segCapacity[s]!);
      this.segLength[s] = n;
      left -= n;
      if (n > 0) used = s + 1;
    }
    if (used - s0 > 1 && this.contiguous(s0, used)) {
      // Buffers that follow each other take the packet in one copy (segment by segment, each
      // copy is a set() of a view of src: an allocation per segment).
      setBytes(this.regions[this.segRegion[s0]!]!, src, this.segOffset[s0]!);
      return len;
    }
    let at = 0;
    for (let s = s0; s < used; s++) {
      const n = this.segLength[s]!;
      const r = this.segRegion[s]!;
      if (n > 0) copyBytes(this.regions[r]!, this.regions32[r]!, this.segOffset[s]!, src, null, at, n);
      at += n;
    }
    return len;
  }
}
