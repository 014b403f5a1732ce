// Slice claims: how a node takes a slice of the cluster pod subnet when the cluster does not
// allocate them (no spec.podCIDR). One claim per slice, created by the node that takes it; the
// creation is the atomic step (a second creator is refused), so two agents starting together can
// never take the same slice. A claim names its holder (the node name) and outlives agent restarts:
// the agent finds its own claim again. Two stores: Lease objects through the API server
// (./lease-claims.ts) and files in a shared directory (FileSliceClaims below, for --pod-manifests).
import { link, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePrefix4 } from '../ipv4.js';
import type { NodeObject } from './node-object.js';

export interface SliceClaim {
  /** The slice, e.g. 10.1.3.0/24. */
  slice: string;
  /** The node name that holds it. */
  holder: string;
}

export interface SliceClaims {
  /** Human-readable place, for messages ("Leases in kube-system", "claims dir /x"). */
  readonly where: string;
  list(): Promise<SliceClaim[]>;
  /** Atomically creates the claim; false when the slice is claimed already (by anyone). */
  create(slice: string, holder: NodeObject): Promise<boolean>;
  /** Removes holder's claim of slice (a claim someone else holds is left alone). */
  release(slice: string, holder: string): Promise<void>;
}

export class ClaimError extends Error {
  constructor(message: string) { super(message); this.name = 'ClaimError'; }
}

/** A slice as a name usable in files and Kubernetes object names: 10.1.3.0/24 → 10-1-3-0-24. */
export function sliceName(slice: string): string {
  return slice.replace(/[./]/g, '-');
}

/**
 * Claims as files in a directory every agent of the cluster shares: one file per slice, named
 * after it, holding the holder's name. A claim is written to a temporary file first and then
 * hard-linked to its name: link(2) fails with EEXIST when the name exists, atomically (as
 * O_CREAT|O_EXCL would, but no reader ever sees a claim without its holder).
 */
export class FileSliceClaims implements SliceClaims {
  readonly where: string;
  constructor(readonly dir: string) { this.where = `slice claims dir ${dir}`; }

  private file(slice: string): string { return join(this.dir, `${sliceName(slice)}.json`); }

  async list(): Promise<SliceClaim[]> {
    let names: string[];
    try { names = await readdir(this.dir); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ClaimError(`${this.where}: ${(e as Error).message}`);
    }
    const out: SliceClaim[] = [];
    for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
      let text: string;
      try { text = await readFile(join(this.dir, n), 'utf8'); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw new ClaimError(`${this.where}: ${n}: ${(e as Error).message}`);
      }
      out.push(parseClaim(text, `${this.where}: ${n}`));
    }
    return out;
  }

  async create(slice: string, holder: NodeObject): Promise<boolean> {
    parsePrefix4(slice);
    try { await mkdir(this.dir, { recursive: true }); } catch (e) { throw new ClaimError(`${this.where}: ${(e as Error).message}`); }
    const tmp = join(this.dir, `.${sliceName(slice)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(JSON.stringify({ slice, holder: holder.name, claimedAt: new Date().toISOString() }) + '\n');
      await fh.sync();
    } finally { await fh.close(); }
    try {
      await link(tmp, this.file(slice));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new ClaimError(`${this.where}: claiming ${slice}: ${(e as Error).message}`);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async release(slice: string, holder: string): Promise<void> {
    const f = this.file(slice);
    let text: string;
    try { text = await readFile(f, 'utf8'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ClaimError(`${this.where}: ${(e as Error).message}`);
    }
    if (parseClaim(text, f).holder !== holder) return;
    await rm(f, { force: true });
  }
}

function parseClaim(text: string, where: string): SliceClaim {
  let o: unknown;
  try { o = JSON.parse(text); } catch (e) { throw new ClaimError(`${where}: ${(e as Error).message}`); }
  const c = o as { slice?: unknown; holder?: unknown };
  if (typeof c?.slice !== 'string' || typeof c.holder !== 'string' || c.holder === '') throw new ClaimError(`${where}: expected {"slice", "holder"}`);
  try { parsePrefix4(c.slice); } catch (e) { throw new ClaimError(`${where}: slice ${(e as Error).message}`); }
  return { slice: c.slice, holder: c.holder };
}
