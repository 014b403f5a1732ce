// DELs the agent could not take: when tsvpp-cni cannot reach the agent (not running, restarting,
// no answer), it records the DEL in the agent's state dir on the same host and reports success,
// so the runtime can remove the sandbox instead of keeping it (and its netns) stuck. The agent
// carries out recorded DELs at start, before it serves anything, and retries failed ones.
// Dependency-free (node: only): tsvpp-cni imports this.
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentRequest } from './agent-protocol.cjs';
import { TMP_MARK, writeFileAtomic } from './atomic-file.js';

/** `<stateDir>/pending-del/<container-id>.json` */
export const PENDING_DEL_DIR = 'pending-del';

export interface PendingDel {
  /** The DEL as tsvpp-cni would have sent it. */
  request: AgentRequest;
  recordedAt: string;
  /** Why the agent did not take it (the error tsvpp-cni got). */
  reason: string;
  /** Set by the agent when carrying it out failed; it retries. */
  lastError?: string;
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function fileOf(stateDir: string, containerId: string): string {
  if (!CONTAINER_ID.test(containerId)) throw new Error(`invalid container id ${JSON.stringify(containerId)}`);
  return join(stateDir, PENDING_DEL_DIR, `${containerId}.json`);
}

/**
 * Records a DEL durably (atomic write, directory fsynced). A container already recorded keeps its
 * first record: the runtime's first DEL (StopPodSandbox) carries the netns and prevResult, a
 * second one (RemovePodSandbox) does not. Returns the file.
 */
export async function recordPendingDel(stateDir: string, request: AgentRequest, reason: string): Promise<string> {
  const file = fileOf(stateDir, request.containerId);
  await mkdir(join(stateDir, PENDING_DEL_DIR), { recursive: true, mode: 0o700 });
  const exists = await stat(file).then(() => true, () => false);
  if (!exists) {
    const rec: PendingDel = { request, recordedAt: new Date().toISOString(), reason };
    await writeFileAtomic(file, JSON.stringify(rec, null, 2) + '\n', { durable: true });
  }
  return file;
}

/** Every recorded DEL, oldest first; unreadable files are reported, not skipped silently. */
export async function listPendingDels(stateDir: string): Promise<Array<{ containerId: string; record?: PendingDel; problem?: string }>> {
  let names: string[];
  try { names = await readdir(join(stateDir, PENDING_DEL_DIR)); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: Array<{ containerId: string; record?: PendingDel; problem?: string }> = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.json') || n.includes(TMP_MARK)) continue;
    const containerId = n.slice(0, -5);
    try {
      const record = JSON.parse(await readFile(join(stateDir, PENDING_DEL_DIR, n), 'utf8')) as PendingDel;
      if (record?.request?.command !== 'DEL' || record.request.containerId !== containerId) throw new Error('not a DEL record for this container');
      out.push({ containerId, record });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // carried out meanwhile
      out.push({ containerId, problem: `${n}: ${(e as Error).message}` });
    }
  }
  return out.sort((a, b) => (a.record?.recordedAt ?? '').localeCompare(b.record?.recordedAt ?? ''));
}

export async function updatePendingDel(stateDir: string, rec: PendingDel): Promise<void> {
  await writeFileAtomic(fileOf(stateDir, rec.request.containerId), JSON.stringify(rec, null, 2) + '\n');
}

export async function removePendingDel(stateDir: string, containerId: string): Promise<void> {
  await rm(fileOf(stateDir, containerId), { force: true });
}
