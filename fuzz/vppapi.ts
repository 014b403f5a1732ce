/**
 * Long-running codec fuzzer: for random messages and types of every loaded module,
 *  - decode(random or damaged bytes) throws nothing but ApiCodecError, and
 *  - encode -> decode -> encode reproduces the bytes of generated valid values (and the value
 *    itself where no undiscriminated union is involved).
 * A failure is shrunk by fast-check and saved to fuzz/corpus/vppapi/<id>.json; the codec tests
 * replay every file there.
 *
 *   node dist/fuzz/vppapi.js [--seconds 60] [--seed N] [--api-dir DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ApiRegistry, ApiCodecError, sameJson, toHex, type ValueCodec } from '../src/vppapi/codec/index.js';
import { arbitraryFor, containsAmbiguity } from '../src/vppapi/codec/arbitrary.js';
import { shippedApiDir } from '../src/vppapi/client/registry.js';
import { CORPUS_ROOT } from './common.js';
import { damagedInputs } from './support/codec-damage.js';

export const CORPUS_DIR = join(CORPUS_ROOT, 'vppapi');
export const DEFAULT_API_DIR = shippedApiDir();

/** One saved counterexample. */
export interface CorpusEntry {
  property: 'decode' | 'roundtrip';
  kind: 'message' | 'type';
  name: string;
  /** decode: the input bytes as hex. roundtrip: the value in JSON form. */
  hex?: string;
  value?: unknown;
  error: string;
}

function codecOf(reg: ApiRegistry, e: Pick<CorpusEntry, 'kind' | 'name'>): ValueCodec {
  return e.kind === 'message' ? reg.message(e.name) : reg.type(e.name);
}

/** Checks one corpus entry; returns the problem, or undefined when it holds now. */
export function replayEntry(reg: ApiRegistry, e: CorpusEntry): string | undefined {
  const c = codecOf(reg, e);
  try {
    if (e.property === 'decode') {
      checkDecode(c, Uint8Array.from(Buffer.from(e.hex ?? '', 'hex')));
    } else {
      checkRoundTrip(c, c.fromJson(e.value));
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export function checkDecode(c: ValueCodec, bytes: Uint8Array): void {
  try {
    const d = c.decode(bytes);
    if (!(d.size >= 0 && d.size <= bytes.length)) throw new Error(`${c.name}: decode size ${d.size} outside 0..${bytes.length}`);
  } catch (e) {
    if (!(e instanceof ApiCodecError)) throw new Error(`${c.name}: decode threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    if (!e.message.startsWith(c.name)) throw new Error(`${c.name}: error does not name it: ${e.message}`);
  }
}

export function checkRoundTrip(c: ValueCodec, v: unknown): void {
  const bytes = c.encode(v);
  const d = c.decode(bytes);
  if (d.size !== bytes.length) throw new Error(`${c.name}: decode consumed ${d.size} of ${bytes.length}`);
  const again = c.encode(d.value);
  if (toHex(again) !== toHex(bytes)) throw new Error(`${c.name}: re-encode differs`);
  if (!containsAmbiguity(c.node) && !covers(c.toJson(d.value), c.toJson(v))) throw new Error(`${c.name}: decode(encode(v)) != v`);
}

/** Every field given in `given` (a possibly partial value) comes back equal in `decoded`. */
function covers(decoded: unknown, given: unknown): boolean {
  if (given !== null && typeof given === 'object' && !Array.isArray(given)) {
    if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) return false;
    return Object.entries(given).every(([k, v]) => v === undefined || covers((decoded as Record<string, unknown>)[k], v));
  }
  if (Array.isArray(given)) return Array.isArray(decoded) && decoded.length === given.length && given.every((x, i) => covers(decoded[i], x));
  return sameJson(decoded, given);
}

function damaged(c: ValueCodec): fc.Arbitrary<Uint8Array> {
  return damagedInputs(c, { variableSize: 96, maxLength: 4096, maxArray: 4, maxString: 12, edits: 6, cut: 16 });
}

function save(entry: CorpusEntry, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const id = createHash('sha256').update(JSON.stringify(entry)).digest('hex').slice(0, 16);
  const file = join(dir, `${entry.property}-${entry.name}-${id}.json`);
  writeFileSync(file, JSON.stringify(entry, null, 2) + '\n');
  return file;
}

export interface FuzzOptions {
  seconds: number;
  seed: number;
  apiDir?: string;
  corpusDir?: string;
  /** Print progress and the execution rate (default true). */
  verbose?: boolean;
}

export async function runVppapiFuzz(opts: FuzzOptions): Promise<{ execs: number; failures: number }> {
  const reg = ApiRegistry.fromDir(opts.apiDir ?? DEFAULT_API_DIR);
  const corpus = opts.corpusDir ?? CORPUS_DIR;
  const log = opts.verbose === false ? () => {} : (s: string) => console.log(s);
  const targets: { kind: 'message' | 'type'; c: ValueCodec }[] = [
    ...reg.messages().map((c) => ({ kind: 'message' as const, c })),
    ...reg.typeNames().map((n) => ({ kind: 'type' as const, c: reg.type(n) as ValueCodec })),
  ];
  const rnd = fc.sample(fc.nat(targets.length - 1), { seed: opts.seed, numRuns: 100000 });
  const t0 = Date.now();
  const deadline = t0 + opts.seconds * 1000;
  let execs = 0, failures = 0, round = 0, lastReport = t0;
  while (Date.now() < deadline) {
    const { kind, c } = targets[rnd[round % rnd.length]!]!;
    const seed = opts.seed + round++;
    const count = (f: () => void) => () => { execs++; f(); };
    const dec = fc.check(fc.property(damaged(c), (b) => count(() => checkDecode(c, b))()), { numRuns: 50, seed });
    if (dec.failed) {
      failures++;
      const bytes = dec.counterexample![0] as Uint8Array;
      const file = save({ property: 'decode', kind, name: c.name, hex: toHex(bytes), error: String((dec.errorInstance as Error)?.message ?? dec.errorInstance) }, corpus);
      log(`FAIL decode ${c.name} (seed ${seed}): ${toHex(bytes)}\n  ${(dec.errorInstance as Error)?.message}\n  saved ${file}`);
    }
    const rt = fc.check(fc.property(arbitraryFor(c), (v) => count(() => checkRoundTrip(c, v))()), { numRuns: 20, seed });
    if (rt.failed) {
      failures++;
      const v = rt.counterexample![0];
      let json: unknown;
      try { json = c.toJson(v); } catch { json = String(v); }
      const file = save({ property: 'roundtrip', kind, name: c.name, value: json, error: String((rt.errorInstance as Error)?.message ?? rt.errorInstance) }, corpus);
      log(`FAIL roundtrip ${c.name} (seed ${seed}): ${JSON.stringify(json)}\n  ${(rt.errorInstance as Error)?.message}\n  saved ${file}`);
    }
    const now = Date.now();
    if (now - lastReport >= 5000) {
      log(`${execs} execs, ${Math.round(execs / ((now - t0) / 1000))} execs/s, ${failures} failures`);
      lastReport = now;
    }
  }
  const secs = (Date.now() - t0) / 1000;
  log(`done: ${execs} execs in ${secs.toFixed(1)} s (${Math.round(execs / secs)} execs/s), ${failures} failures`);
  return { execs, failures };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (n: string, d: string): string => { const i = process.argv.indexOf(n); return i > 0 ? process.argv[i + 1] ?? d : d; };
  const r = await runVppapiFuzz({ seconds: Number(arg('--seconds', '60')), seed: Number(arg('--seed', String(Date.now() % 1e9))), apiDir: arg('--api-dir', DEFAULT_API_DIR) });
  process.exit(r.failures ? 1 : 0);
}
