// eventfd: memif's per-ring interrupt line. A kick writes 1; the waiter reads (and so clears) it.
import { C, errno, libc } from './libc.js';
import { EAGAIN, SysError } from './errors.js';
import { allocNative } from './scratch.js';

// Eight bytes for the counter, per thread; kicks happen on the data path, so no allocation.
const counter = allocNative(8);

export function createEventfd(): number {
  const fd = libc.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
  if (fd < 0) throw new SysError('eventfd', errno());
  return fd;
}

/** Adds 1 to the eventfd's counter (wakes its reader). */
export function signalEventfd(fd: number): void {
  counter.dv.setBigUint64(0, 1n, true);
  if (libc.write(fd, counter.addr, 8) !== 8) {
    const e = errno();
    // EAGAIN: the counter is at its maximum, so the reader is signalled already.
    if (e !== EAGAIN) throw new SysError('write', e, `eventfd ${fd}`);
  }
}

/** Reads and clears the counter; returns 0 when nothing was signalled. Never blocks. */
export function drainEventfd(fd: number): number {
  if (libc.read(fd, counter.addr, 8) !== 8) {
    const e = errno();
    if (e === EAGAIN) return 0;
    throw new SysError('read', e, `eventfd ${fd}`);
  }
  return Number(counter.dv.getBigUint64(0, true));
}
