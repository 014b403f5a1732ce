/**
 * What every fuzz target shares: options and result, the corpus folder, and a time-bounded loop
 * that runs fast-check in batches (a new seed per batch) until the deadline.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import fc from 'fast-check';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Repository root whether run from fuzz/ (ts) or dist/fuzz/ (js). */
export const ROOT = resolve(HERE, HERE.includes(join('dist', 'fuzz')) ? '../..' : '..');
export const CORPUS_ROOT = join(ROOT, 'fuzz', 'corpus');

export interface FuzzRunOptions {
  seconds: number;
  seed: number;
  /** Where counterexamples go (default fuzz/corpus/<target>). */
  corpusDir?: string;
  /** Print progress and the execution rate (default true). */
  verbose?: boolean;
}

export interface FuzzResult {
  execs: number;
  failures: number;
  execsPerSec: number;
  /** Execs of each property of the target. */
  perProperty: Record<string, number>;
  /** Files written for the failures. */
  saved: string[];
}

/** One property of a target: a fast-check property plus how many runs make one batch. */
export interface FuzzProperty<T> {
  name: string;
  /** Runs per fast-check batch (each batch gets its own seed). */
  runs: number;
  arbitrary: fc.Arbitrary<T>;
  /** check returns a promise (run with fc.asyncProperty). */
  async?: boolean;
  /** Throws (or rejects) to report a failure. */
  check: (input: T) => void | Promise<void>;
  /** The corpus entry for a shrunk counterexample (JSON-serialisable). */
  entry: (input: T, error: string) => object;
}

export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

export function saveEntry(dir: string, property: string, entry: object): string {
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify({ property, ...entry }, jsonReplacer, 2) + '\n';
  const id = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = join(dir, `${property}-${id}.json`);
  writeFileSync(file, text);
  return file;
}

/** Every saved entry of a corpus folder, with its file name. */
export function loadCorpus(dir: string): { file: string; entry: Record<string, unknown> }[] {
  let names: string[];
  try { names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort(); } catch { return []; }
  return names.map((n) => ({ file: join(dir, n), entry: JSON.parse(readFileSync(join(dir, n), 'utf8')) as Record<string, unknown> }));
}

export const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * Runs the properties round-robin, one fast-check batch each, until `seconds` have passed. A
 * property that failed is saved once (its shrunk counterexample) and then left out: the same bug
 * would only be found again.
 */
export async function runProperties(target: string, props: FuzzProperty<any>[], o: FuzzRunOptions): Promise<FuzzResult> {
  const dir = o.corpusDir ?? join(CORPUS_ROOT, target);
  const log = o.verbose === false ? () => {} : (s: string) => console.log(s);
  const t0 = Date.now();
  const deadline = t0 + o.seconds * 1000;
  const perProp = new Map<string, number>();
  const live = [...props];
  const saved: string[] = [];
  let execs = 0, failures = 0, round = 0, lastReport = t0;
  while (Date.now() < deadline && live.length) {
    const p = live[round % live.length]!;
    const seed = (o.seed + round++) | 0;
    const counted = (x: unknown) => { execs++; perProp.set(p.name, (perProp.get(p.name) ?? 0) + 1); return p.check(x); };
    const prop = p.async ? fc.asyncProperty(p.arbitrary, counted) : fc.property(p.arbitrary, counted as (x: unknown) => void);
    const r = await fc.check(prop as fc.IAsyncProperty<[unknown]>, { numRuns: p.runs, seed });
    if (r.failed && r.counterexample) {
      failures++;
      const input = r.counterexample[0];
      const error = errorText(r.errorInstance);
      const file = saveEntry(dir, p.name, p.entry(input, error));
      saved.push(file);
      log(`FAIL ${target}/${p.name} (seed ${seed}, shrunk ${r.numShrinks} times):\n  ${JSON.stringify(input, jsonReplacer)}\n  ${error}\n  saved ${file}`);
      live.splice(live.indexOf(p), 1);
    }
    const now = Date.now();
    if (now - lastReport >= 5000) {
      log(`${target}: ${execs} execs, ${Math.round(execs / ((now - t0) / 1000))} execs/s, ${failures} failures`);
      lastReport = now;
    }
  }
  const secs = Math.max((Date.now() - t0) / 1000, 1e-3);
  const execsPerSec = Math.round(execs / secs);
  const parts = [...perProp].map(([k, v]) => `${k} ${v}`).join(', ');
  log(`${target}: ${execs} execs in ${secs.toFixed(1)} s (${execsPerSec} execs/s; ${parts}), ${failures} failures`);
  return { execs, failures, execsPerSec, perProperty: Object.fromEntries(perProp), saved };
}
