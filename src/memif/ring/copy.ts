/**
 * Byte copies between shared regions and caller memory without per-call allocation where it
 * matters. Measured on Node 20 (x86-64): Uint8Array#set(whole array) ~17-27 ns for 64 B (15-18
 * through setBytes, 30-32 as a `u8.set(...)` method call in optimized code);
 * copyWithin inside one buffer allocates nothing but costs ~30-45 ns whatever the length up to a
 * few hundred bytes (~190 ns for 2 KiB); a Uint32 word loop moving 4 words per iteration costs
 * ~25-35 ns for 64 B and ~70-95 ns for 256 B (one word per iteration: ~35-50 and ~120-180);
 * set(subarray(...)) costs a view allocation. So: the word loop for short aligned copies,
 * copyWithin when source and destination share a buffer (buffer to buffer inside a region, as a
 * reflector copies) from WITHIN_MIN bytes on, set(subarray) (one short-lived view) for the rest.
 */

/**
 * Uint8Array#set, called through Function#call on the original. Node 20's optimized code looks
 * `u8.set` up on every `u8.set(src, off)` (a LoadIC builtin call, ~13 ns: as much as the copy of
 * 64 bytes itself); a call of this known function does not (docs/perf.md, "Where the sender's
 * time goes").
 */
const u8set = Uint8Array.prototype.set;

/** dst.set(src, dstOff) without the per-call method lookup (see u8set). Bounds as Uint8Array#set. */
export function setBytes(dst: Uint8Array, src: Uint8Array, dstOff: number): void {
  u8set.call(dst, src, dstOff);
}

/** Longest copy done with the word loop between different buffers; longer ones use set(subarray). */
export const WORD_COPY_MAX = 512;
/** From this length on, a copy inside one buffer is a copyWithin rather than the word loop. */
const WITHIN_MIN = 128;

/**
 * Copy len bytes from src[srcOff..] to dst[dstOff..]. src32/dst32 are optional Uint32Array views
 * over the same memory as src/dst starting at the same byte (pass null when unaligned/unknown).
 * Bounds must already be checked by the caller.
 */
export function copyBytes(
  dst: Uint8Array,
  dst32: Uint32Array | null,
  dstOff: number,
  src: Uint8Array,
  src32: Uint32Array | null,
  srcOff: number,
  len: number,
): void {
  if (dst32 !== null && src32 !== null && ((dstOff | srcOff) & 3) === 0 && (len < WITHIN_MIN || (len <= WORD_COPY_MAX && dst.buffer !== src.buffer))) {
    copyWords(dst32, dstOff >>> 2, src32, srcOff >>> 2, len >>> 2);
    for (let i = len & ~3; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
    return;
  }
  if (len < 16) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
    return;
  }
  if (dst.buffer === src.buffer) {
    // The source lies in dst's buffer: when inside dst's window too, copy within it.
    const at = src.byteOffset - dst.byteOffset + srcOff;
    if (at >= 0 && at + len <= dst.length) {
      dst.copyWithin(dstOff, at, at + len);
      return;
    }
  }
  setBytes(dst, srcOff === 0 && len === src.length ? src : src.subarray(srcOff, srcOff + len), dstOff);
}

/** dst32[dw ..] = src32[sw ..], n words, four per iteration (the loop overhead is most of the cost). */
export function copyWords(dst32: Uint32Array, dw: number, src32: Uint32Array, sw: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = src32[sw + i]!;
    const b = src32[sw + i + 1]!;
    const c = src32[sw + i + 2]!;
    const d = src32[sw + i + 3]!;
    dst32[dw + i] = a;
    dst32[dw + i + 1] = b;
    dst32[dw + i + 2] = c;
    dst32[dw + i + 3] = d;
  }
  for (; i < n; i++) dst32[dw + i] = src32[sw + i]!;
}
