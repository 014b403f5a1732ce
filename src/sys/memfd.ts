// Anonymous shared memory files: memif regions are memfds that travel over the control socket.
import { C, errno, libc } from './libc.js';
import { SysError } from './errors.js';
import { scratch } from './scratch.js';
import { closeFd } from './fd.js';

/** Creates a sealed-against-shrinking memfd of `size` bytes, as libmemif does for its regions. */
export function createMemfd(name: string, size: number): number {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`memfd size must be a positive integer, got ${size}`);
  const fd = libc.memfd_create(name, C.MFD_CLOEXEC | C.MFD_ALLOW_SEALING);
  if (fd < 0) throw new SysError('memfd_create', errno(), name);
  try {
    if (libc.ftruncate(fd, size) !== 0) throw new SysError('ftruncate', errno(), `${name} to ${size} bytes`);
    if (libc.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_SHRINK) !== 0) throw new SysError('fcntl', errno(), `F_ADD_SEALS on ${name}`);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

/** The size in bytes of the file behind `fd` (st_size of fstat). */
export function fdSize(fd: number): number {
  // struct stat on x86-64 and aarch64 (generic) both fit in 144 bytes; st_size is at 48.
  if (libc.fstat(fd, scratch.addr) !== 0) throw new SysError('fstat', errno(), `fd ${fd}`);
  return Number(scratch.dv.getBigInt64(48, true));
}

/** The seals on a memfd (F_SEAL_* bits), -1 when the file does not support sealing. */
export function fdSeals(fd: number): number {
  return libc.fcntl(fd, C.F_GET_SEALS, 0);
}

/** Makes sure the file behind `fd` can never shrink while we map it (a peer truncating a region
 *  under us would turn our next access into SIGBUS). Returns false if it cannot be sealed. */
export function ensureSealedAgainstShrink(fd: number): boolean {
  const seals = libc.fcntl(fd, C.F_GET_SEALS, 0);
  if (seals >= 0 && (seals & C.F_SEAL_SHRINK) !== 0) return true;
  return libc.fcntl(fd, C.F_ADD_SEALS, C.F_SEAL_SHRINK) === 0;
}
