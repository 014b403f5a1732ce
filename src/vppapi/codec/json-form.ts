/**
 * The JSON form of values (the test vectors' conventions): u64/i64 as decimal strings, u8 arrays
 * as lowercase hex, f64 NaN/±Infinity as strings, everything else as in the native form.
 */
import { ApiCodecError, show } from './errors.js';
import { isU8 } from './compile.js';
import type { Node } from './layout.js';

export type Conv = (v: any, path: string) => unknown;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

export function fromHex(s: string, path: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new ApiCodecError(path, `not a hex byte string: ${show(s)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

const bytesNode = (n: Node): boolean =>
  n.kind === 'bytes' || ((n.kind === 'vla' || n.kind === 'legacy') && isU8(n.elem));

export function toJsonConv(node: Node): Conv {
  switch (node.kind) {
    case 'bigint': return (v) => (v == null ? v : String(v));
    case 'f64': return (v) => (typeof v !== 'number' || Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');
    case 'bytes': case 'vla': case 'legacy': case 'farray': {
      if (bytesNode(node) || node.kind === 'bytes') return (v) => (v instanceof Uint8Array ? toHex(v) : Array.isArray(v) ? toHex(Uint8Array.from(v)) : v);
      const e = toJsonConv(node.elem);
      return (v, p) => (Array.isArray(v) ? v.map((x, i) => e(x, `${p}[${i}]`)) : v);
    }
    case 'struct': {
      const fs = node.fields.map((f) => [f.name, toJsonConv(f.node)] as const);
      return (v, p) => {
        if (v == null || typeof v !== 'object') return v;
        const out: Record<string, unknown> = {};
        for (const [name, c] of fs) if (v[name] !== undefined) out[name] = c(v[name], `${p}.${name}`);
        for (const k of Object.keys(v)) if (!(k in out) && v[k] !== undefined && !fs.some(([n]) => n === k)) out[k] = v[k];
        return out;
      };
    }
    case 'union': {
      const arms = new Map(node.arms.map((a) => [a.name, toJsonConv(a.node)]));
      return (v, p) => {
        if (v == null || typeof v !== 'object') return v;
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v)) out[k] = arms.has(k) ? arms.get(k)!(v[k], `${p}.${k}`) : v[k];
        return out;
      };
    }
    default: return (v) => v;
  }
}

export function fromJsonConv(node: Node): Conv {
  switch (node.kind) {
    case 'bigint': return (v, p) => {
      if (v == null || typeof v === 'bigint') return v;
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
      if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
      throw new ApiCodecError(p, `expected ${node.t} as a decimal string, got ${show(v)}`);
    };
    case 'f64': return (v, p) => {
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      if (v != null && typeof v !== 'number') throw new ApiCodecError(p, `expected f64 number or "NaN"/"Infinity"/"-Infinity", got ${show(v)}`);
      return v;
    };
    case 'bytes': case 'vla': case 'legacy': case 'farray': {
      if (bytesNode(node) || node.kind === 'bytes') return (v, p) => (typeof v === 'string' ? fromHex(v, p) : v);
      const e = fromJsonConv(node.elem);
      return (v, p) => (Array.isArray(v) ? v.map((x, i) => e(x, `${p}[${i}]`)) : v);
    }
    case 'struct': {
      const fs = new Map(node.fields.map((f) => [f.name, fromJsonConv(f.node)]));
      return (v, p) => {
        if (v == null) return v;
        if (typeof v !== 'object' || Array.isArray(v)) throw new ApiCodecError(p, `expected object, got ${show(v)}`);
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v)) {
          const c = fs.get(k);
          if (!c) throw new ApiCodecError(`${p}.${k}`, 'unknown field');
          out[k] = c(v[k], `${p}.${k}`);
        }
        return out;
      };
    }
    case 'union': {
      const arms = new Map(node.arms.map((a) => [a.name, fromJsonConv(a.node)]));
      return (v, p) => {
        if (v == null) return v;
        if (typeof v !== 'object' || Array.isArray(v)) throw new ApiCodecError(p, `expected union object, got ${show(v)}`);
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v)) {
          const c = arms.get(k);
          if (!c) throw new ApiCodecError(p, `unknown arm ${k} of union ${node.name}`);
          out[k] = c(v[k], `${p}.${k}`);
        }
        return out;
      };
    }
    default: return (v) => v;
  }
}
