/**
 * Helpers the generated encoders/decoders call: error construction (kept out of the hot path),
 * string conversion, and the arm guess for unions whose arm the bytes do not name.
 */
import { ApiCodecError, show } from './errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8');

export function fail(path: string, detail: string): never {
  throw new ApiCodecError(path, detail);
}

export function badType(path: string, want: string, got: unknown): never {
  throw new ApiCodecError(path, `expected ${want}, got ${show(got)}`);
}

export function badInt(path: string, t: string, got: unknown): never {
  if (typeof got !== 'number' && typeof got !== 'bigint') badType(path, `${t} number`, got);
  if (typeof got === 'number' && !Number.isInteger(got)) throw new ApiCodecError(path, `${show(got)} is not an integer (${t})`);
  throw new ApiCodecError(path, `${show(got)} out of range for ${t}`);
}

export function badEnum(path: string, name: string, flags: boolean, t: string, got: unknown): never {
  if (typeof got !== 'number' || !Number.isInteger(got)) badType(path, `${name} (${t} enum value)`, got);
  if (flags) throw new ApiCodecError(path, `${got} (0x${(got >>> 0).toString(16)}) sets bits not defined by flags ${name}`);
  throw new ApiCodecError(path, `${got} is not a value of enum ${name}`);
}

/** UTF-8 byte length without encoding. */
export function utf8len(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 2; i++; }
    else n += 2; // BMP char or lone surrogate (encoded as U+FFFD, 3 bytes)
  }
  return n;
}

/** Writes s as UTF-8 at u8[pos]; returns the byte count. The caller sized the buffer. */
export function writeStr(u8: Uint8Array, pos: number, s: string): number {
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    u8[pos + i] = c;
  }
  if (i === n) return n;
  return i + enc.encodeInto(s.slice(i), u8.subarray(pos + i)).written;
}

/** Validated fixed string: at most `max` bytes, no NUL (it would end the C string early). */
export function writeCStr(u8: Uint8Array, pos: number, s: unknown, n: number, max: number, path: string): void {
  if (typeof s !== 'string') badType(path, 'string', s);
  const len = utf8len(s);
  if (len > max) throw new ApiCodecError(path, `string of ${len} bytes exceeds string[${n}] (at most ${max} bytes before the NUL)`);
  if (s.indexOf('\0') >= 0) throw new ApiCodecError(path, 'fixed string contains a NUL character');
  writeStr(u8, pos, s);
}

export function readStr(u8: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = u8[i]!;
      if (c >= 0x80) return dec.decode(u8.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return dec.decode(u8.subarray(start, end));
}

/** Fixed string: the bytes up to the first NUL within n. */
export function readCStr(u8: Uint8Array, start: number, n: number): string {
  let e = start;
  const lim = start + n;
  while (e < lim && u8[e] !== 0) e++;
  return readStr(u8, start, e);
}

const EMPTY = Object.freeze({}) as Record<string, unknown>;

/** A struct value: a plain object (missing means all defaults). */
export function obj(x: unknown, path: string): Record<string, unknown> {
  if (x === undefined || x === null) return EMPTY;
  if (typeof x !== 'object' || Array.isArray(x) || ArrayBuffer.isView(x)) badType(path, 'object', x);
  return x as Record<string, unknown>;
}

export function unknownField(path: string, key: string): never {
  throw new ApiCodecError(path ? `${path}.${key}` : key, 'unknown field');
}

/** The single arm key of a union value. Keys whose value is undefined are ignored. */
export function unionKey(x: unknown, path: string, arms: Set<string>, union: string): string {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || ArrayBuffer.isView(x)) badType(path, `union ${union} object with one arm`, x);
  let key: string | undefined;
  let count = 0;
  for (const k in x) {
    if ((x as Record<string, unknown>)[k] === undefined) continue;
    key = k;
    count++;
  }
  if (count !== 1) throw new ApiCodecError(path, `union ${union} needs exactly one arm, got ${count}${count ? ` (${Object.keys(x).join(', ')})` : ''}`);
  if (!arms.has(key!)) throw new ApiCodecError(path, `unknown arm ${key} of union ${union} (arms: ${[...arms].join(', ')})`);
  return key!;
}

/** Byte count of a u8 array value (Uint8Array, or an array of byte numbers). */
export function bytesLen(x: unknown, path: string): number {
  if (x instanceof Uint8Array) return x.length;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const b = x[i];
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) badInt(`${path}[${i}]`, 'u8', b);
    }
    return x.length;
  }
  return badType(path, 'Uint8Array', x);
}

/** A fixed u8[N] value, exactly N bytes. */
export function fixedBytes(x: unknown, n: number, path: string): ArrayLike<number> {
  const len = bytesLen(x, path);
  if (len !== n) throw new ApiCodecError(path, `u8[${n}] needs exactly ${n} bytes, got ${len}`);
  return x as ArrayLike<number>;
}

export function arr(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) badType(path, 'array', x);
  return x;
}

export function arrN(x: unknown, n: number, path: string): unknown[] {
  if (!Array.isArray(x)) badType(path, `array of ${n}`, x);
  if (x.length !== n) throw new ApiCodecError(path, `fixed array needs exactly ${n} elements, got ${x.length}`);
  return x;
}

export function badCount(path: string, lengthField: string, given: unknown, arrays: [string, number][]): never {
  const what = arrays.map(([n, c]) => `${n} has ${c} element${c === 1 ? '' : 's'}`).join(', ');
  throw new ApiCodecError(path, `length field ${lengthField}=${show(given)} but ${what}`);
}

export function tooMany(path: string, count: number, max: number): never {
  throw new ApiCodecError(path, `${count} elements/bytes exceed the limit of ${max}`);
}

export function badDisc(path: string, value: unknown, arm: string, union: string, want: number): never {
  throw new ApiCodecError(path, `${show(value)} selects another arm than ${union}.${arm} (which needs ${want})`);
}

/** Truncated input inside a run of fixed fields: names the first field that does not fit. */
export function trunc(prefix: string, table: [string, number][], start: number, end: number): never {
  for (const [field, relEnd] of table) {
    if (start + relEnd > end) throw new ApiCodecError(prefix + field, `truncated input: field ends at byte ${start + relEnd}, input ends at ${end}`);
  }
  throw new ApiCodecError(prefix, 'truncated input');
}

export function short(path: string, what: string, need: number, have: number): never {
  throw new ApiCodecError(path, `truncated input: ${what} take ${need} bytes, ${have} remain`);
}

/** Runtime form of a union whose arm the bytes alone must reveal. */
export interface UnionRuntime {
  name: string;
  size: number;
  arms: { name: string; size: number; canonical: boolean; dec: (u8: Uint8Array, dv: DataView, pos: number) => unknown; enc: (v: unknown) => Uint8Array }[];
}

/**
 * Picks the arm of an undiscriminated union (or a discriminated one whose discriminator names
 * no arm): the first arm, in definition order, whose value re-encodes to exactly these bytes
 * with zero padding after it (arms of plain bytes/integers always do); else the first arm
 * spanning the whole union.
 */
export function guessArm(rt: UnionRuntime, u8: Uint8Array, dv: DataView, pos: number): Record<string, unknown> {
  const end = pos + rt.size;
  for (const arm of rt.arms) {
    let zero = true;
    for (let j = pos + arm.size; j < end; j++) if (u8[j] !== 0) { zero = false; break; }
    if (!zero) continue;
    const v = arm.dec(u8, dv, pos);
    if (arm.canonical) return { [arm.name]: v };
    let re: Uint8Array;
    try { re = arm.enc(v); } catch { continue; }
    let same = re.length === arm.size;
    for (let j = 0; same && j < re.length; j++) if (re[j] !== u8[pos + j]) same = false;
    if (same) return { [arm.name]: v };
  }
  const full = rt.arms.find((a) => a.size === rt.size)!;
  return { [full.name]: full.dec(u8, dv, pos) };
}

export const H = {
  fail, badType, badInt, badEnum, utf8len, writeStr, writeCStr, readStr, readCStr, obj, unknownField,
  unionKey, bytesLen, fixedBytes, arr, arrN, badCount, tooMany, badDisc, trunc, short, guessArm,
};
export type Helpers = typeof H;
