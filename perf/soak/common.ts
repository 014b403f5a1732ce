// Shared by the soak scenarios: paths of the compiled entry points, the report shape, waiting.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/perf/soak
export const TSVPP_MAIN = join(HERE, '..', '..', 'src', 'cli', 'main.js');
export const CYCLE_PEER = join(HERE, 'cycle-peer.js');

/** What every scenario returns; `tsvpp soak` prints it and `--json` writes it. */
export interface SoakReport {
  scenario: string;
  ok: boolean;
  /** Figures worth quoting (counts, rates, deltas). */
  figures: Record<string, number | string>;
  /** Everything that went wrong; empty when ok. */
  problems: string[];
  seconds: number;
}

/** The report of a scenario that started at t0 (ms): ok when nothing went wrong. */
export function soakReport(scenario: string, t0: number, figures: SoakReport['figures'], problems: string[]): SoakReport {
  return { scenario, ok: problems.length === 0, figures, problems, seconds: (Date.now() - t0) / 1000 };
}

export type Log = (line: string) => void;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `pred` every `everyMs` until true; throws naming `what` after timeoutMs. */
export async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Resolves with the first emission of `event`; rejects after timeoutMs naming it. */
export function once<T>(em: { once(e: string, f: (x: T) => void): unknown; off(e: string, f: (x: T) => void): unknown }, event: string, timeoutMs: number, what = event): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { em.off(event, on); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
    const on = (x: T) => { clearTimeout(t); resolve(x); };
    em.once(event, on);
  });
}
