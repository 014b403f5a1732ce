// Damaged codec inputs: random bytes, and valid encodings with bytes changed, cut short or
// extended. Shared by the vppapi fuzzer and the codec property test, which differ only in sizes.
import fc from 'fast-check';
import type { ValueCodec } from '../../src/vppapi/codec/index.js';
import { arbitraryFor } from '../../src/vppapi/codec/arbitrary.js';

export interface DamageLimits {
  /** Random inputs are up to the codec's fixed size (or this when variable) + 64 bytes ... */
  variableSize: number;
  /** ... and never longer than this. */
  maxLength: number;
  /** Caps for the valid value that gets damaged. */
  maxArray: number;
  maxString: number;
  /** Up to this many bytes overwritten. */
  edits: number;
  /** Cut by up to this many bytes, or extended by up to this many zero bytes. */
  cut: number;
}

export function damagedInputs(c: ValueCodec, l: DamageLimits): fc.Arbitrary<Uint8Array> {
  const random = fc.uint8Array({ maxLength: Math.min((c.size ?? l.variableSize) + 64, l.maxLength) });
  const mutated = fc.tuple(arbitraryFor(c, { maxArray: l.maxArray, maxString: l.maxString }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: l.edits }), fc.integer({ min: -l.cut, max: l.cut }))
    .map(([v, edits, cut]) => {
      const b = c.encode(v);
      for (const [i, x] of edits) if (b.length) b[i % b.length] = x;
      if (cut < 0) return b.subarray(0, Math.max(0, b.length + cut));
      const out = new Uint8Array(b.length + cut);
      out.set(b);
      return out;
    });
  return fc.oneof(random, mutated);
}
