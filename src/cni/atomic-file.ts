// Atomic file replacement: temp file, fsync (unless cached), rename; a crash leaves the old or the
// new content, never a torn file. Dependency-free (node: only): tsvpp-cni uses it to record DELs.
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Suffix of temp files; readers skip names containing it, and a crash may leave some behind. */
export const TMP_MARK = '.tmp-';

/**
 * With `durable`, the directory is fsynced too, so the rename itself survives a power loss. With
 * `cached`, nothing is fsynced: the new content survives a crash of the writer (the page cache
 * outlives it), not of the node.
 */
export async function writeFileAtomic(path: string, data: string, o: { durable?: boolean; cached?: boolean } = {}): Promise<void> {
  if (o.durable && o.cached) throw new Error(`writeFileAtomic ${path}: durable and cached exclude each other`);
  const tmp = `${path}${TMP_MARK}${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    if (!o.cached) await fh.sync();
  } finally { await fh.close(); }
  await rename(tmp, path);
  if (o.durable) {
    const d = await open(dirname(path), 'r');
    try { await d.sync(); } finally { await d.close(); }
  }
}

/**
 * The writes of each file in the order they were asked for. Writes asked for while one is being
 * written are coalesced into the next, which carries the newest content (`null`: the file is
 * removed) and is durable if any of them asked for it: one write, not one per step. Otherwise
 * cached (writeFileAtomic). For a file several steps of one process write side by side.
 */
export class OrderedWrites {
  readonly #writes = new Map<string, Promise<void>>();
  readonly #queued = new Map<string, { data: string | null; durable: boolean; done: Promise<void> }>();

  write(path: string, data: string | null, o: { durable?: boolean } = {}): Promise<void> {
    const queued = this.#queued.get(path);
    if (queued) {
      queued.data = data;
      queued.durable ||= o.durable === true;
      return queued.done;
    }
    const next: { data: string | null; durable: boolean; done: Promise<void> } = { data, durable: o.durable === true, done: Promise.resolve() };
    this.#queued.set(path, next);
    const p = (this.#writes.get(path) ?? Promise.resolve()).then(() => {
      this.#queued.delete(path);
      return next.data === null ? rm(path, { force: true }) : writeFileAtomic(path, next.data, next.durable ? { durable: true } : { cached: true });
    });
    next.done = p;
    const tail = p.catch(() => undefined);
    this.#writes.set(path, tail);
    void tail.then(() => { if (this.#writes.get(path) === tail) this.#writes.delete(path); });
    return p;
  }
}
