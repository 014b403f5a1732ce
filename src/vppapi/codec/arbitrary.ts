/**
 * fast-check value generators built from the definitions: arbitrary *valid* native values for
 * any message or type (VLA counts match their arrays, discriminators match the union arm).
 * Imported by tests and fuzz/ only; the codec runtime does not depend on fast-check.
 */
import fc from 'fast-check';
import { INT_RANGE, type Node, type StructNode } from './layout.js';
import { isU8 } from './compile.js';
import { utf8len } from './runtime.js';

export interface ArbitraryOptions {
  /** Cap for variable arrays and strings (default 6 elements / 40 characters). */
  maxArray?: number;
  maxString?: number;
}

/** Arbitrary valid values for a codec (anything with the resolved `node`). */
export function arbitraryFor(codec: { node: Node }, opts: ArbitraryOptions = {}): fc.Arbitrary<any> {
  return arb(codec.node, { maxArray: opts.maxArray ?? 6, maxString: opts.maxString ?? 40 }, undefined);
}

type Opts = Required<ArbitraryOptions>;

/** Trims s until its UTF-8 encoding fits in max bytes. */
function fit(s: string, max: number): string {
  const chars = [...s];
  while (utf8len(chars.join('')) > max) chars.pop();
  return chars.join('');
}

function text(maxChars: number, maxBytes: number): fc.Arbitrary<string> {
  const ascii = fc.string({ unit: 'grapheme-ascii', maxLength: maxChars });
  const uni = fc.string({ unit: 'grapheme', maxLength: maxChars });
  return fc.oneof({ weight: 3, arbitrary: ascii }, { weight: 1, arbitrary: uni })
    .map((s) => fit(s.replace(/\0/g, ' '), maxBytes));
}

function arb(node: Node, o: Opts, countMax: number | undefined): fc.Arbitrary<any> {
  switch (node.kind) {
    case 'int': return fc.integer({ min: node.min, max: node.max });
    case 'bigint': return node.t === 'u64'
      ? fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
      : fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'f64': return fc.double();
    case 'bool': return fc.boolean();
    case 'enum': {
      const vals = node.members.map((m) => m[1]);
      if (!node.flags) return vals.length ? fc.constantFrom(...vals) : fc.constant(0);
      return fc.subarray(vals).map((bits) => {
        let v = 0;
        for (const b of bits) v |= b;
        return node.t === 'u32' || node.t === 'u16' || node.t === 'u8' ? v >>> 0 : v;
      });
    }
    case 'bytes': return fc.uint8Array({ minLength: node.n, maxLength: node.n });
    case 'fstring': return text(node.max, node.max);
    case 'vstring': return text(o.maxString, node.max ?? Infinity);
    case 'farray': return fc.array(arb(node.elem, o, undefined), { minLength: node.n, maxLength: node.n });
    case 'vla': case 'legacy': {
      let max = o.maxArray;
      if (isU8(node.elem)) max = Math.max(max, 24);
      if (node.kind === 'vla' && node.max !== undefined) max = Math.min(max, node.max);
      if (countMax !== undefined) max = Math.min(max, countMax);
      if (isU8(node.elem)) return fc.uint8Array({ maxLength: max });
      return fc.array(arb(node.elem, o, undefined), { maxLength: max });
    }
    case 'struct': return struct(node, o);
    case 'union': return fc.oneof(...node.arms.map((a) => arb(a.node, o, undefined).map((v) => ({ [a.name]: v }))));
  }
}

function struct(node: StructNode, o: Opts): fc.Arbitrary<Record<string, unknown>> {
  const byName = new Map(node.fields.map((f) => [f.name, f]));
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of node.fields) {
    let countMax: number | undefined;
    if (f.node.kind === 'vla') {
      const lf = byName.get(f.node.lengthField)!.node;
      countMax = lf.kind === 'int' ? lf.max : undefined;
    }
    model[f.name] = arb(f.node, o, countMax);
  }
  return fc.record(model).map((v) => {
    for (const f of node.fields) {
      if (f.countOf.length) {
        // Arrays sharing one count are cut to the shortest.
        const n = Math.min(...f.countOf.map((a) => (v[a] as ArrayLike<unknown>).length));
        for (const a of f.countOf) v[a] = (v[a] as any).slice(0, n);
        v[f.name] = f.node.kind === 'bigint' ? BigInt(n) : n;
      }
    }
    for (const f of node.fields) {
      if (!f.discriminator) continue;
      const arm = Object.keys(v[f.name] as object)[0]!;
      const c = f.discriminator.cases.get(arm);
      if (c !== undefined) v[f.discriminator.field] = c;
    }
    return v;
  });
}

/** Decoding cannot always recover the arm of a union without a discriminator. */
export { containsAmbiguity } from './layout.js';
export { INT_RANGE };
