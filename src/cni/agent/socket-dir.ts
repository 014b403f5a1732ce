// The per-pod memif socket directory: created with a message that says why it could not be. Node's
// recursive mkdir reports a read-only mount as ENOENT, so the reason is found by walking up to the
// nearest existing path: not a directory, a read-only file system, or not writable.
import { access, mkdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname } from 'node:path';

export class SocketDirError extends Error {
  constructor(readonly dir: string, readonly reason: string) {
    super(`memif socket directory ${dir} cannot be created: ${reason}`);
    this.name = 'SocketDirError';
  }
}

export async function makeSocketDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new SocketDirError(dir, await whyNot(dir, e as NodeJS.ErrnoException));
  }
}

async function whyNot(dir: string, err: NodeJS.ErrnoException): Promise<string> {
  for (let p = dir; ; p = dirname(p)) {
    const st = await stat(p).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) return `${p} is not a directory`;
      try { await access(p, constants.W_OK); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return code === 'EROFS' ? `${p} is on a read-only file system` : `${p} is not writable (${code})`;
      }
      return err.message;
    }
    if (dirname(p) === p) return err.message;
  }
}

/** An rm error meaning nothing is there: a path below a non-directory cannot exist (ENOTDIR). */
export function isGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
