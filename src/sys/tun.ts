// A kernel tap device that lives as long as its /dev/net/tun fd, the way VPP's tap v2 holds one:
// not persistent, so closing the fd removes the device in whatever network namespace it has
// been moved to since. Used by the VPP emulator to do what VPP does to the host.
import { C, errno, libc } from './libc.js';
import { SysError } from './errors.js';
import { scratch } from './scratch.js';

const IFREQ_SIZE = 40; // struct ifreq: char ifr_name[IFNAMSIZ]; union { short ifr_flags; ... } (24 bytes)

/** Creates tap `name` (1..15 bytes) in this thread's network namespace; returns its fd. */
export function openTap(name: string): number {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0 || bytes.length >= C.IFNAMSIZ) throw new Error(`tap name ${JSON.stringify(name)}: must be 1 to ${C.IFNAMSIZ - 1} bytes`);
  const fd = libc.open('/dev/net/tun', C.O_RDWR | C.O_CLOEXEC);
  if (fd < 0) throw new SysError('open', errno(), '/dev/net/tun');
  scratch.u8.fill(0, 0, IFREQ_SIZE);
  scratch.u8.set(bytes, 0);
  scratch.dv.setInt16(C.IFNAMSIZ, C.IFF_TAP | C.IFF_NO_PI, true);
  if (libc.ioctl(fd, C.TUNSETIFF, scratch.addr) < 0) {
    const e = errno();
    libc.close(fd);
    throw new SysError('ioctl', e, `TUNSETIFF tap ${name}`);
  }
  return fd;
}
