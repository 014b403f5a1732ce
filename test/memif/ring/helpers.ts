// Shared fixtures for the ring tests: a slave and a master over the same region memory, with guard
// bytes around every region (the same pair the memif-ring fuzzer uses).
export {
  GUARD, GUARD_BYTE, packet, makeRingPair as makePair, type RingPair as Pair, u16, u32, resolveU32, applyPoke,
} from '../../../fuzz/support/ring-pair.js';

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
