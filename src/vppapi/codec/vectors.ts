/**
 * Checks encoding vectors (the .jsonl format of the fixtures): value -> bytes and bytes -> value.
 * Shared by `tsvpp api vectors` and anyone validating a codec build against vpp_papi output.
 */
import type { ApiRegistry, ValueCodec } from './registry.js';
import { fromHex, toHex } from './json-form.js';

export interface Vector {
  module: string; kind: string; name: string; crc?: string; name_crc?: string;
  instance?: number; case?: string; value: unknown; size?: number; hex: string;
}

export interface VectorResult {
  ok: boolean;
  /** "module/name#instance" */
  id: string;
  problem?: string;
  /** First byte offset where our encoding differs from the vector's. */
  offset?: number;
}

/** Deep equality for JSON-form values: -0 differs from 0, key order matters. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (a !== null && typeof a === 'object') {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => kb[i] === k && sameJson((a as any)[k], (b as any)[k]));
  }
  return a === b;
}

export function checkVector(reg: ApiRegistry, v: Vector): VectorResult {
  const id = `${v.module}/${v.name}#${v.instance ?? '?'}`;
  let c: ValueCodec;
  try {
    c = v.kind === 'message' ? reg.message(v.name) : reg.type(v.name);
  } catch (e) {
    return { ok: false, id, problem: (e as Error).message };
  }
  if (v.kind === 'message' && v.crc !== undefined && (c as { crc?: string }).crc !== v.crc) {
    return { ok: false, id, problem: `crc ${(c as { crc?: string }).crc} != ${v.crc}` };
  }
  let want: Uint8Array;
  try {
    want = fromHex(v.hex, id);
  } catch (e) {
    return { ok: false, id, problem: `bad hex in vector: ${(e as Error).message}` };
  }
  try {
    const got = c.encode(c.fromJson(v.value));
    const n = Math.min(got.length, want.length);
    let off = 0;
    while (off < n && got[off] === want[off]) off++;
    if (off < n || got.length !== want.length) {
      return { ok: false, id, offset: off, problem: `encode differs at byte ${off} (got ${got.length} bytes, want ${want.length}): ${toHex(got.subarray(off, off + 8))}… vs ${toHex(want.subarray(off, off + 8))}…` };
    }
  } catch (e) {
    return { ok: false, id, problem: `encode: ${(e as Error).message}` };
  }
  try {
    const d = c.decode(want);
    if (d.size !== want.length) return { ok: false, id, problem: `decode consumed ${d.size} of ${want.length} bytes`, offset: d.size };
    const j = c.toJson(d.value);
    if (!sameJson(j, v.value)) return { ok: false, id, problem: `decode gives ${JSON.stringify(j)}` };
  } catch (e) {
    return { ok: false, id, problem: `decode: ${(e as Error).message}` };
  }
  return { ok: true, id };
}
