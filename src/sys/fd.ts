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
