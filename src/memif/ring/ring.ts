/**
 * RingView: typed-array access to one memif_ring_t living in a region.
 *
 *   header  cookie u32@0  flags u16@4  head u16@6 | tail u16@64   (128 bytes)
 *   desc[i] @128 + 16*i:  word0 = flags | region << 16, word1 = length, word2 = offset, word3 = metadata
 *
 * head, tail and flags go through Atomics on a Uint16Array (Atomics works on non-shared typed
 * arrays too): Atomics.store is the release point after descriptor writes, Atomics.load the
 * acquire point before descriptor reads. Descriptors are read/written through one Uint32Array
 * (and a Uint16Array for the 16-bit flags field alone); no allocation per access.
 */
import { MemifRingError } from './errors.js';
import { MEMIF_COOKIE, MEMIF_MAX_LOG2_RING_SIZE, RING_HEADER_SIZE, ringBytes } from './layout.js';
import { type RegionMemory, regionBytes } from './region.js';

const FLAGS16 = 2; // u16 index of flags (byte 4)
const HEAD16 = 3; // byte 6
const TAIL16 = 32; // byte 64

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
      throw new MemifRingError(`${what}: log2 ring size ${log2} outside 0..${MEMIF_MAX_LOG2_RING_SIZE}`);
    }
    const bytes = ringBytes(log2);
    if (!Number.isInteger(offset) || offset < 0 || offset + bytes > u8.byteLength) {
      throw new MemifRingError(
        `${what}: ring at offset ${offset} of ${bytes} bytes (log2 size ${log2}) exceeds region size ${u8.byteLength}`,
      );
    }
    if ((u8.byteOffset + offset) % 4 !== 0) {
      throw new MemifRingError(`${what}: ring offset ${offset} is not 4-byte aligned`);
    }
    this.log2 = log2;
    this.size = 2 ** log2;
    this.mask = this.size - 1;
    this.offset = offset;
    this.byteLength = bytes;
    const base = u8.byteOffset + offset;
    this.hdr16 = new Uint16Array(u8.buffer, base, RING_HEADER_SIZE / 2);
    this.hdr32 = new Uint32Array(u8.buffer, base, RING_HEADER_SIZE / 4);
    this.desc = new Uint32Array(u8.buffer, base + RING_HEADER_SIZE, this.size * 4);
    this.desc16 = new Uint16Array(u8.buffer, base + RING_HEADER_SIZE, this.size * 8);
  }

  /** Write a fresh header: cookie, flags 0, head 0, tail 0 (descriptors untouched). */
  init(): void {
    this.hdr32[0] = MEMIF_COOKIE;
    Atomics.store(this.hdr16, FLAGS16, 0);
    Atomics.store(this.hdr16, TAIL16, 0);
    Atomics.store(this.hdr16, HEAD16, 0);
  }

  get cookie(): number {
    return this.hdr32[0]!;
  }

  /** @throws MemifRingError when the cookie is not MEMIF_COOKIE (as memif_connect1 checks). */
  checkCookie(what = 'ring'): void {
    const c = this.hdr32[0]!;
    if (c !== MEMIF_COOKIE) {
      throw new MemifRingError(`${what}: wrong cookie 0x${c.toString(16)} (expected 0x${MEMIF_COOKIE.toString(16)})`);
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
    return this.desc16[(slot & this.mask) << 3]!;
  }
  descRegion(slot: number): number {
    return this.desc16[((slot & this.mask) << 3) + 1]!;
  }
  descLength(slot: number): number {
    return this.desc[((slot & this.mask) << 2) + 1]!;
  }
  descOffset(slot: number): number {
    return this.desc[((slot & this.mask) << 2) + 2]!;
  }
  descMetadata(slot: number): number {
    return this.desc[((slot & this.mask) << 2) + 3]!;
  }
  setDesc(slot: number, flags: number, region: number, length: number, offset: number, metadata = 0): void {
    const w = (slot & this.mask) << 2;
    const d = this.desc;
    d[w] = (flags & 0xffff) | ((region & 0xffff) << 16);
    d[w + 1] = length;
    d[w + 2] = offset;
    d[w + 3] = metadata;
  }
}
