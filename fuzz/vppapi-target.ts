/**
 * Fuzz target `vppapi`: the existing codec fuzzer (fuzz/vppapi.ts) behind the common interface.
 * Its corpus files have their own shape; replay goes through its replayEntry.
 */
import { ApiRegistry } from '../src/vppapi/codec/index.js';
import { CORPUS_DIR, DEFAULT_API_DIR, replayEntry, runVppapiFuzz, type CorpusEntry } from './vppapi.js';
import type { FuzzResult, FuzzRunOptions } from './common.js';

export const TARGET = 'vppapi';

export async function runVppapiTargetFuzz(o: FuzzRunOptions & { apiDir?: string }): Promise<FuzzResult> {
  const t0 = Date.now();
  const r = await runVppapiFuzz({ seconds: o.seconds, seed: o.seed, corpusDir: o.corpusDir ?? CORPUS_DIR, apiDir: o.apiDir, verbose: o.verbose });
  const secs = Math.max((Date.now() - t0) / 1000, 1e-3);
  return { execs: r.execs, failures: r.failures, execsPerSec: Math.round(r.execs / secs), perProperty: { 'decode+roundtrip': r.execs }, saved: [] };
}

let registry: ApiRegistry | undefined;

export function replay(entry: Record<string, unknown>): string | undefined {
  registry ??= ApiRegistry.fromDir(DEFAULT_API_DIR);
  return replayEntry(registry, entry as unknown as CorpusEntry);
}
