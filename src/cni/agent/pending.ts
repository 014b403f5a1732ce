// The agent's side of recorded DELs (src/cni/pending-del.ts): carried out at start before the CNI
// socket opens, again every few seconds for records written while the agent was starting or that
// failed (VPP refused, ...), and before an ADD for the same container.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PENDING_DEL_DIR, listPendingDels, removePendingDel, updatePendingDel } from '../pending-del.js';
import type { Pipeline } from './pipeline.js';

export interface PendingRun { done: string[]; failed: Array<{ containerId: string; error: string }> }

export class PendingDels {
  private running: Promise<PendingRun> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pipeline: Pipeline, private readonly stateDir: string, private readonly log: (m: string) => void) {}

  /** Carries out every recorded DEL once (a run in progress is joined, not repeated). */
  run(): Promise<PendingRun> {
    this.running ??= this.runOnce().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async runOnce(): Promise<PendingRun> {
    const out: PendingRun = { done: [], failed: [] };
    for (const p of await listPendingDels(this.stateDir)) {
      if (!p.record) { out.failed.push({ containerId: p.containerId, error: p.problem! }); continue; }
      try {
        await this.pipeline.handle(p.record.request);
        await removePendingDel(this.stateDir, p.containerId);
        out.done.push(p.containerId);
      } catch (e) {
        const error = (e as Error).message;
        out.failed.push({ containerId: p.containerId, error });
        if (p.record.lastError !== error) await updatePendingDel(this.stateDir, { ...p.record, lastError: error }).catch(() => undefined);
      }
    }
    if (out.done.length || out.failed.length) this.log(`recorded DELs: carried out ${out.done.length}${out.done.length ? ` (${out.done.join(', ')})` : ''}, failed ${out.failed.length}${out.failed.length ? `: ${out.failed.map((f) => `${f.containerId}: ${f.error}`).join('; ')}` : ''}`);
    return out;
  }

  /** Whether a DEL is recorded for this container (an ADD waits for it). */
  has(containerId: string): boolean {
    return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId) && existsSync(join(this.stateDir, PENDING_DEL_DIR, `${containerId}.json`));
  }

  /** Retries every `ms` while records remain. */
  start(ms: number): void {
    this.timer = setInterval(() => {
      if (!existsSync(join(this.stateDir, PENDING_DEL_DIR))) return;
      this.run().catch((e) => this.log(`recorded DELs: ${(e as Error).message}`));
    }, ms);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
