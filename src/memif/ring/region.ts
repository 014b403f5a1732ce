/**
 * Region memory as the ring layer sees it: an ArrayBuffer (the whole mapping) or a Uint8Array
 * window onto one. Descriptor offsets are relative to the start of the window, and the window's
 * byteLength is the region size used for every bounds check, so it must not exceed the memfd
 * size (touching whole pages past EOF of a mapped file raises SIGBUS).
 */
export type RegionMemory = ArrayBuffer | Uint8Array;

export function regionBytes(m: RegionMemory): Uint8Array {
  return m instanceof Uint8Array ? m : new Uint8Array(m);
}

/** A Uint32Array over the same window when its start is 4-byte aligned (for word copies). */
export function regionWords(u8: Uint8Array): Uint32Array | null {
  return u8.byteOffset % 4 === 0 ? new Uint32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2) : null;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // memif is host-endian and every implementation runs little-endian; our typed views assume it.
  throw new Error('memif ring: big-endian hosts are not supported');
}
