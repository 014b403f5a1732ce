// What the memif device plugin handed to kubelet for one container, persisted in the agent's state
// dir (<stateDir>/memif-allocations/<allocation-id>.json) so that CNI ADD can find the host dir and
// the secret again from the device ids PodResources reports, across agent restarts and without
// asking a container runtime.
//
// Device ids are reused by kubelet once a pod is gone: a new allocation replaces every older record
// holding one of its ids, so the number of records stays bounded by the number of devices.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';

export { MEMIF_RESOURCE } from '../annotations.js';
/** Where the pod's socket dir is mounted, and the socket path the pod sees. */
export const POD_MEMIF_DIR = '/run/vpp';
export const POD_MEMIF_SOCKET = `${POD_MEMIF_DIR}/memif.sock`;
export const SOCKET_NAME = 'memif.sock';

export interface MemifAllocation {
  /** Random id; also names the host dir `<memifSocketDir>/dp-<id>`. */
  id: string;
  deviceIds: string[];
  /** Host directory mounted at /run/vpp in the container. */
  hostDir: string;
  /** Host path of the socket VPP listens on (hostDir/memif.sock). */
  hostSocket: string;
  secret: string;
  createdAt: string;
}

const SECRET_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** 20 characters from a 62-letter alphabet, rejection-sampled from crypto randomness (no modulo bias). */
export function randomMemifSecret(len = 20): string {
  let out = '';
  while (out.length < len) {
    for (const b of randomBytes(len * 2)) {
      if (b < 248 && out.length < len) out += SECRET_ALPHABET[b % 62];
    }
  }
  return out;
}

export class AllocationStore {
  readonly dir: string;
  constructor(stateDir: string, readonly memifSocketDir: string) {
    this.dir = join(stateDir, 'memif-allocations');
  }

  /** Creates the host dir (mode 0755: the pod's user must reach the socket) and records it. */
  async create(deviceIds: string[]): Promise<MemifAllocation> {
    if (deviceIds.length === 0) throw new Error('memif allocation: no device ids');
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const old of await this.list()) {
      if (old.deviceIds.some((d) => deviceIds.includes(d))) await this.remove(old.id);
    }
    const id = randomBytes(8).toString('hex');
    const hostDir = join(this.memifSocketDir, `dp-${id}`);
    await mkdir(hostDir, { recursive: true, mode: 0o755 });
    const a: MemifAllocation = { id, deviceIds: [...deviceIds], hostDir, hostSocket: join(hostDir, SOCKET_NAME), secret: randomMemifSecret(), createdAt: new Date().toISOString() };
    await writeFileAtomic(join(this.dir, `${id}.json`), JSON.stringify(a, null, 2) + '\n');
    return a;
  }

  async list(): Promise<MemifAllocation[]> {
    let names: string[];
    try { names = await readdir(this.dir); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: MemifAllocation[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith('.json') || n.includes('.tmp-')) continue;
      try { out.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as MemifAllocation); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`memif allocation ${join(this.dir, n)}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  /** The newest allocation holding this device id. */
  async byDevice(deviceId: string): Promise<MemifAllocation | undefined> {
    const all = (await this.list()).filter((a) => a.deviceIds.includes(deviceId));
    return all.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  }

  /** Drops the record and the host dir (with the socket in it). */
  async remove(id: string): Promise<void> {
    const a = (await this.list()).find((x) => x.id === id);
    if (a) await rm(a.hostDir, { recursive: true, force: true });
    await rm(join(this.dir, `${id}.json`), { force: true });
  }
}
