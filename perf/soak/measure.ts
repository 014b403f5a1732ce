// Resource samples for leak checks: open fds (from /proc/self/fd) and RSS. RSS is compared with a
// tolerance because V8 grows and shrinks its heap on its own schedule and glibc keeps freed
// malloc arenas; fds are compared exactly.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openFdCount } from '../../src/sys/index.js';

export interface Sample {
  fds: number;
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap in use, bytes. */
  heapUsed: number;
  /** Mappings of memfd files (memif regions) in /proc/self/maps: an exact count, unlike RSS. */
  memfdMaps: number;
}

export function memfdMappings(): number {
  let n = 0;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) if (line.includes('/memfd:')) n++;
  return n;
}

// A full GC before sampling makes RSS less noisy; available without node --expose-gc this way.
v8.setFlagsFromString('--expose-gc');
const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as (() => void) | undefined);

/**
 * Open fds without the ones held for a moment: the fewest of a few counts 10 ms apart. Timers in
 * the sampled process (the agent polls its manifests dir) open and close files at any time; a
 * leaked fd stays in every count.
 */
async function steadyFdCount(): Promise<number> {
  let n = openFdCount();
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 10));
    n = Math.min(n, openFdCount());
  }
  return n;
}

/** Samples fds, memfd mappings and RSS after a full GC. */
export async function sample(): Promise<Sample> {
  if (gc) { gc(); await new Promise((r) => setImmediate(r)); gc(); }
  const fds = await steadyFdCount();
  const m = process.memoryUsage();
  return { fds, rss: m.rss, heapUsed: m.heapUsed, memfdMaps: memfdMappings() };
}

export const MiB = 1024 * 1024;

/** Default RSS tolerance: see docs/reliability.md ("RSS tolerance"). */
export const RSS_TOLERANCE = 16 * MiB;

export interface LeakCheck {
  before: Sample;
  after: Sample;
  fdDelta: number;
  rssDeltaMiB: number;
  ok: boolean;
  problems: string[];
}

export function compare(before: Sample, after: Sample, rssTolerance = RSS_TOLERANCE, what = 'this process'): LeakCheck {
  const problems: string[] = [];
  const fdDelta = after.fds - before.fds;
  const rssDelta = after.rss - before.rss;
  if (fdDelta !== 0) problems.push(`${what}: open fds ${before.fds} -> ${after.fds} (${fdDelta > 0 ? '+' : ''}${fdDelta})`);
  if (after.memfdMaps !== before.memfdMaps) problems.push(`${what}: memfd mappings ${before.memfdMaps} -> ${after.memfdMaps}`);
  if (rssDelta > rssTolerance) problems.push(`${what}: RSS grew ${(rssDelta / MiB).toFixed(1)} MiB (${(before.rss / MiB).toFixed(1)} -> ${(after.rss / MiB).toFixed(1)}), more than the ${(rssTolerance / MiB).toFixed(0)} MiB tolerance`);
  return { before, after, fdDelta, rssDeltaMiB: rssDelta / MiB, ok: problems.length === 0, problems };
}

/**
 * Node opens a few fds for good on its first child process (/dev/null for ignored stdio, the
 * SIGCHLD signal pipe) and the memif reactor its epoll fd and eventfd on first use. Spawning one
 * trivial child first keeps those out of before/after comparisons.
 */
export async function primeChildProcess(): Promise<void> {
  const { spawn } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.once('error', reject);
    c.once('close', () => resolve());
  });
}
