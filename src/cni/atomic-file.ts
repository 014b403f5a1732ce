// Atomic file replacement: temp file, fsync (unless cached), rename; a crash leaves the old or the
// new content, never a torn file. Dependency-free (node: only): tsvpp-cni uses it to record DELs.
import { open, rename } from 'node:fs/promises';
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
