// File descriptors: close, the non-blocking flag, and a count of what this process holds open
// (leak tests compare it before and after).
import { readdirSync } from 'node:fs';
import { C, errno, libc } from './libc.js';
import { EINTR, SysError } from './errors.js';

export function closeFd(fd: number): void {
  if (fd < 0) return;
  // close() must not be retried on EINTR on Linux: the fd is gone either way.
  if (libc.close(fd) !== 0) {
    const e = errno();
    if (e !== EINTR) throw new SysError('close', e, `fd ${fd}`);
  }
}

/**
 * closeFd on a libuv threadpool thread. The last close of a tap fd (its device goes away) or of a
 * packet socket waits in the kernel for an RCU grace period (synchronize_net: 10-25 ms here), which
 * must not stall the event loop.
 */
export async function closeFdAsync(fd: number): Promise<void> {
  if (fd < 0) return;
  // A threadpool call's errno cannot be read on this thread: an fd that is not open (EBADF, the
  // one close error a caller can act on) is refused here first. Linux releases the fd whatever
  // else close() reports (EINTR, EIO), as closeFd treats EINTR.
  if (libc.fcntl(fd, C.F_GETFL, 0) < 0) throw new SysError('close', errno(), `fd ${fd}`);
  await new Promise<void>((resolve, reject) => {
    libc.close.async(fd, (err: unknown) => (err ? reject(err) : resolve()));
  });
}

/** Closes every fd in the list, ignoring errors (cleanup paths). */
export function closeAll(fds: Iterable<number>): void {
  for (const fd of fds) {
    try { closeFd(fd); } catch { /* already closed */ }
  }
}

export function setNonBlocking(fd: number): void {
  const flags = libc.fcntl(fd, C.F_GETFL, 0);
  if (flags < 0) throw new SysError('fcntl', errno(), `F_GETFL fd ${fd}`);
  if (libc.fcntl(fd, C.F_SETFL, flags | C.O_NONBLOCK) < 0) throw new SysError('fcntl', errno(), `F_SETFL fd ${fd}`);
}

/** How many fds this process has open now (from /proc/self/fd). */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length - 1; // minus the fd readdir itself used
}
