/** Paths to the VPP API fixtures and small comparison helpers shared by the codec tests. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shippedApiDir } from '../../../src/vppapi/client/registry.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    d = up;
  }
  return d;
}

export const ROOT = repoRoot();
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'vppapi');
export const API_DIR = shippedApiDir();
export const VECTOR_DIR = join(FIXTURES, 'vectors');

export interface Vector {
  module: string; kind: string; name: string; crc?: string; name_crc?: string;
  instance: number; case: string; value: unknown; size: number; hex: string;
}

export function loadVectors(dir = VECTOR_DIR): Vector[] {
  const out: Vector[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line.trim()) out.push(JSON.parse(line) as Vector);
  }
  return out;
}

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Deep equality that tells -0 from 0, treats NaN as equal to NaN, and checks key order. */
export function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a !== null && typeof a === 'object') {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => kb[i] === k && same((a as any)[k], (b as any)[k]));
  }
  return a === b;
}
