/**
 * RingView: typed-array access to one memif_ring_t living in a region.
 *
 * Offsets and typed-array indexes come from ../wire.ts (RING_LAYOUT, DESC_LAYOUT): a descriptor is
 * DESC_WORDS u32 words, the first holding flags (low half) and region (high half).
 *
 * head, tail and flags go through Atomics on a Uint16Array (Atomics works on non-shared typed
 * arrays too): Atomics.store is the release point after descriptor writes, Atomics.load the
 * acquire point before descriptor reads. Descriptors are read/written through one Uint32Array
 * (and a Uint16Array for the 16-bit flags field alone); no allocation per access.
 */
import { MemifRingError } from './errors.js';
import {
  MemifErrorCode as E, DESC_REGION_SHIFT, DESC_U16, DESC_U32, DESC_WORDS, MEMIF_COOKIE, MEMIF_MAX_LOG2_RING_SIZE, RING_HEADER_SIZE, RING_U16,
  RING_U32_COOKIE, ringBytes,
} from '../wire.js';
import { type RegionMemory, regionBytes } from './region.js';

const FLAGS16 = RING_U16.flags;
const HEAD16 = RING_U16.head;
const TAIL16 = RING_U16.tail;
const COOKIE32 = RING_U32_COOKIE;
const W_FR = DESC_U32.flagsRegion;
const W_LEN = DESC_U32.length;
const W_OFF = DESC_U32.offset;
const W_META = DESC_U32.metadata;

export class RingView {
  readonly log2: number;
  readonly size: number;
  readonly mask: number;
  /** Offset of the ring inside its region window. */
  readonly offset: number;
  readonly byteLength: number;
  /** Header as u16 (flags [2], head [3], tail [32]). */
  readonly hdr16: Uint16Array;
  /** Header as u32 (cookie [0]). */
  readonly hdr32: Uint32Array;
  /** Descriptors, 4 words each. */
  readonly desc: Uint32Array;
  /** Descriptors as u16 (flags of slot i at [8*i]). */
  readonly desc16: Uint16Array;

  /**
   * @param region the region window the ring lives in
   * @param offset byte offset of the ring in that window (ADD_RING offset); must be 4-aligned
   * @param log2 log2 of the ring size (0..14)
   * @throws MemifRingError when the ring does not fit the region or is misaligned (the values
   *         come from the peer's ADD_RING on a master).
   */
  constructor(region: RegionMemory, offset: number, log2: number, what = 'ring') {
    const u8 = regionBytes(region);
    if (!Number.isInteger(log2) || log2 < 0 || log2 > MEMIF_MAX_LOG2_RING_SIZE) {
      throw new MemifRingError(E.MAX_RING, `${what}: log2 ring size ${log2} outside 0..${MEMIF_MAX_LOG2_RING_SIZE}`);
    }
    const bytes = ringBytes(log2);
    if (!Number.isInteger(offset) || offset < 0 || offset + bytes > u8.byteLength) {
      throw new MemifRingError(
        E.BAD_RING,
        `${what}: ring at offset ${offset} of ${bytes} bytes (log2 size ${log2}) exceeds region size ${u8.byteLength}`,
      );
    }
    if ((u8.byteOffset + offset) % 4 !== 0) {
      throw new MemifRingError(E.BAD_RING, `${what}: ring offset ${offset} is not 4-byte aligned`);
    }
    this.log2 = log2;
    this.size = 2 ** log2;
    this.mask = this.size - 1;
    this.offset = offset;
    this.byteLength = bytes;
    const base = u8.byteOffset + offset;
    this.hdr16 = new Uint16Array(u8.buffer, base, RING_HEADER_SIZE / 2);
    this.hdr32 = new Uint32Array(u8.buffer, base, RING_HEADER_SIZE / 4);
    this.desc = new Uint32Array(u8.buffer, base + RING_HEADER_SIZE, this.size * DESC_WORDS);
    this.desc16 = new Uint16Array(u8.buffer, base + RING_HEADER_SIZE, this.size * DESC_U16);
  }

  /** Write a fresh header: cookie, flags 0, head 0, tail 0 (descriptors untouched). */
  init(): void {
    this.hdr32[COOKIE32] = MEMIF_COOKIE;
    Atomics.store(this.hdr16, FLAGS16, 0);
    Atomics.store(this.hdr16, TAIL16, 0);
    Atomics.store(this.hdr16, HEAD16, 0);
  }

  get cookie(): number {
    return this.hdr32[COOKIE32]!;
  }

  /** @throws MemifRingError when the cookie is not MEMIF_COOKIE (as memif_connect1 checks). */
  checkCookie(what = 'ring'): void {
    const c = this.hdr32[COOKIE32]!;
    if (c !== MEMIF_COOKIE) {
      throw new MemifRingError(E.COOKIE, `${what}: wrong cookie 0x${c.toString(16)} (expected 0x${MEMIF_COOKIE.toString(16)})`);
    }
  }

  loadHead(): number {
    return Atomics.load(this.hdr16, HEAD16);
  }
  storeHead(v: number): void {
    Atomics.store(this.hdr16, HEAD16, v);
  }
  loadTail(): number {
    return Atomics.load(this.hdr16, TAIL16);
  }
  storeTail(v: number): void {
    Atomics.store(this.hdr16, TAIL16, v);
  }
  loadFlags(): number {
    return Atomics.load(this.hdr16, FLAGS16);
  }
  storeFlags(v: number): void {
    Atomics.store(this.hdr16, FLAGS16, v);
  }

  // Per-descriptor accessors (slot is masked). Convenience for tests and setup; the queue's hot
  // path indexes `desc` directly.
  descFlags(slot: number): number {
    return this.desc[(slot & this.mask) * DESC_WORDS + W_FR]! & 0xffff;
  }
  descRegion(slot: number): number {
    return this.desc[(slot & this.mask) * DESC_WORDS + W_FR]! >>> DESC_REGION_SHIFT;
  }
  descLength(slot: number): number {
    return this.desc[(slot & this.mask) * DESC_WORDS + W_LEN]!;
  }
  descOffset(slot: number): number {
    return this.desc[(slot & this.mask) * DESC_WORDS + W_OFF]!;
  }
  descMetadata(slot: number): number {
    return this.desc[(slot & this.mask) * DESC_WORDS + W_META]!;
  }
  setDesc(slot: number, flags: number, region: number, length: number, offset: number, metadata = 0): void {
    const w = (slot & this.mask) * DESC_WORDS;
    const d = this.desc;
    d[w + W_FR] = ((flags & 0xffff) | ((region & 0xffff) << DESC_REGION_SHIFT)) >>> 0;
    d[w + W_LEN] = length;
    d[w + W_OFF] = offset;
    d[w + W_META] = metadata;
  }
}
