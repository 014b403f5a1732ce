// AF_UNIX SOCK_SEQPACKET sockets with file descriptors passed as SCM_RIGHTS: memif's control
// channel. All sockets are non-blocking; readiness comes from the Reactor.
//
// A socket path beginning with '@' names an abstract socket (Linux), as libmemif and DPDK write it.
import { unlinkSync } from 'node:fs';
import { C, errno, libc } from './libc.js';
import { EAGAIN, SysError } from './errors.js';
import { closeAll, closeFd } from './fd.js';
import { allocNative } from './scratch.js';

const SUN_PATH_MAX = 108;
export const MAX_FDS_PER_MESSAGE = 16;
const DATA_MAX = 4096;

// Layout of this thread's message scratch block.
const MSGHDR = 0;          // struct msghdr, 56 bytes
const IOVEC = 64;          // struct iovec, 16 bytes
const ADDR = 128;          // struct sockaddr_un, 110 bytes
const CMSG = 256;          // control buffer, CMSG_SPACE(4 * MAX_FDS_PER_MESSAGE) = 16 + 64
const CMSG_MAX = 16 + 4 * MAX_FDS_PER_MESSAGE;
const DATA = 512;
const mem = allocNative(DATA + DATA_MAX);

function sockaddr(path: string): number {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path, 'utf8');
  if (name.length === 0) throw new Error('socket path is empty');
  if (name.length > SUN_PATH_MAX - 1) throw new Error(`socket path '${path}' is ${name.length} bytes; the limit is ${SUN_PATH_MAX - 1}`);
  if (!abstract && name.includes(0)) throw new Error(`socket path '${path}' contains a NUL byte`);
  mem.u8.fill(0, ADDR, ADDR + 2 + SUN_PATH_MAX);
  mem.dv.setUint16(ADDR, C.AF_UNIX, true);
  mem.u8.set(name, ADDR + 2 + (abstract ? 1 : 0));
  return abstract ? 2 + 1 + name.length : 2 + name.length + 1;
}

function newSocket(type: number): number {
  const fd = libc.socket(C.AF_UNIX, type | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError('socket', errno(), 'AF_UNIX');
  return fd;
}

/** Creates a listening SOCK_SEQPACKET socket at `path` (a stale socket file is replaced). */
export function listenSeqpacket(path: string, backlog = 16): number {
  const fd = newSocket(C.SOCK_SEQPACKET);
  try {
    if (!path.startsWith('@')) {
      try { unlinkSync(path); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
    }
    const len = sockaddr(path);
    if (libc.bind(fd, mem.addr + BigInt(ADDR), len) !== 0) throw new SysError('bind', errno(), path);
    if (libc.listen(fd, backlog) !== 0) throw new SysError('listen', errno(), path);
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/** Accepts one pending connection; null when none is waiting. */
export function acceptSeqpacket(listenFd: number): number | null {
  const fd = libc.accept4(listenFd, 0n, 0n, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
  if (fd < 0) {
    const e = errno();
    if (e === EAGAIN) return null;
    throw new SysError('accept4', e);
  }
  return fd;
}

/** Connects to a SOCK_SEQPACKET listener (or SOCK_STREAM with `type`). Throws SysError with
 *  ENOENT / ECONNREFUSED when nobody listens, EAGAIN when its backlog is full. */
export function connectUnix(path: string, type: number = C.SOCK_SEQPACKET): number {
  const fd = newSocket(type);
  try {
    const len = sockaddr(path);
    if (libc.connect(fd, mem.addr + BigInt(ADDR), len) !== 0) throw new SysError('connect', errno(), path);
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

function setupMsg(dataLen: number, controlLen: number): void {
  const dv = mem.dv;
  dv.setBigUint64(MSGHDR + 0, 0n, true);          // msg_name
  dv.setUint32(MSGHDR + 8, 0, true);              // msg_namelen
  dv.setBigUint64(MSGHDR + 16, mem.addr + BigInt(IOVEC), true); // msg_iov
  dv.setBigUint64(MSGHDR + 24, 1n, true);         // msg_iovlen
  dv.setBigUint64(MSGHDR + 32, controlLen ? mem.addr + BigInt(CMSG) : 0n, true); // msg_control
  dv.setBigUint64(MSGHDR + 40, BigInt(controlLen), true); // msg_controllen
  dv.setUint32(MSGHDR + 48, 0, true);             // msg_flags
  dv.setBigUint64(IOVEC + 0, mem.addr + BigInt(DATA), true);
  dv.setBigUint64(IOVEC + 8, BigInt(dataLen), true);
}

/** Sends one message with up to MAX_FDS_PER_MESSAGE fds. Returns false if the socket buffer is
 *  full (EAGAIN); throws on any other error (EPIPE/ECONNRESET when the peer is gone). */
export function sendMessage(fd: number, data: Uint8Array, fds: readonly number[] = []): boolean {
  if (data.length > DATA_MAX) throw new RangeError(`message of ${data.length} bytes exceeds ${DATA_MAX}`);
  if (fds.length > MAX_FDS_PER_MESSAGE) throw new RangeError(`${fds.length} fds exceed ${MAX_FDS_PER_MESSAGE} per message`);
  const controlLen = fds.length ? 16 + ((4 * fds.length + 7) & ~7) : 0;
  setupMsg(data.length, controlLen);
  mem.u8.set(data, DATA);
  if (fds.length) {
    mem.u8.fill(0, CMSG, CMSG + controlLen);
    mem.dv.setBigUint64(CMSG, BigInt(16 + 4 * fds.length), true); // cmsg_len = CMSG_LEN
    mem.dv.setInt32(CMSG + 8, C.SOL_SOCKET, true);
    mem.dv.setInt32(CMSG + 12, C.SCM_RIGHTS, true);
    fds.forEach((f, i) => mem.dv.setInt32(CMSG + 16 + 4 * i, f, true));
  }
  const n = libc.sendmsg(fd, mem.addr + BigInt(MSGHDR), C.MSG_NOSIGNAL | C.MSG_DONTWAIT);
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN) return false;
    throw new SysError('sendmsg', e, `fd ${fd}`);
  }
  if (n !== data.length) throw new Error(`sendmsg sent ${n} of ${data.length} bytes`);
  return true;
}

export interface ReceivedMessage {
  /** The message bytes (a copy), cut at `maxLen`. */
  data: Uint8Array;
  /** The datagram's real length; more than data.length when it was truncated. */
  length: number;
  /** Fds that came with it (the caller owns them and must close them). */
  fds: number[];
  /** The kernel dropped fds because they did not fit (MSG_CTRUNC). */
  fdsTruncated: boolean;
}

/** Receives one message. 'again' when none is waiting, 'eof' when the peer closed. */
export function receiveMessage(fd: number, maxLen = 256): ReceivedMessage | 'again' | 'eof' {
  const cap = Math.min(maxLen, DATA_MAX);
  setupMsg(cap, CMSG_MAX);
  mem.u8.fill(0, CMSG, CMSG + CMSG_MAX);
  const n = Number(libc.recvmsg(fd, mem.addr + BigInt(MSGHDR), C.MSG_CMSG_CLOEXEC | C.MSG_TRUNC | C.MSG_DONTWAIT));
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN) return 'again';
    throw new SysError('recvmsg', e, `fd ${fd}`);
  }
  const flags = mem.dv.getUint32(MSGHDR + 48, true);
  const controlLen = Number(mem.dv.getBigUint64(MSGHDR + 40, true));
  const fds: number[] = [];
  let off = 0;
  while (off + 16 <= controlLen) {
    const len = Number(mem.dv.getBigUint64(CMSG + off, true));
    if (len < 16 || off + len > CMSG_MAX) break;
    const level = mem.dv.getInt32(CMSG + off + 8, true);
    const type = mem.dv.getInt32(CMSG + off + 12, true);
    if (level === C.SOL_SOCKET && type === C.SCM_RIGHTS) {
      for (let p = 16; p + 4 <= len; p += 4) fds.push(mem.dv.getInt32(CMSG + off + p, true));
    }
    off += (len + 7) & ~7;
  }
  if (n === 0 && fds.length === 0) {
    // On SOCK_SEQPACKET, 0 bytes is either the peer's EOF or an empty datagram: the socket says
    // which (POLLRDHUP: the peer has shut down; an empty datagram it sent just before is lost).
    mem.dv.setInt32(CMSG, fd, true);
    mem.dv.setInt16(CMSG + 4, C.POLLRDHUP, true);
    mem.dv.setInt16(CMSG + 6, 0, true);
    const ready = libc.poll(mem.addr + BigInt(CMSG), 1, 0);
    if (ready !== 0 && (mem.dv.getInt16(CMSG + 6, true) & (C.POLLRDHUP | C.POLLHUP)) !== 0) return 'eof';
    return { data: new Uint8Array(0), length: 0, fds, fdsTruncated: false };
  }
  const data = mem.u8.slice(DATA, DATA + Math.min(n, cap));
  return { data, length: n, fds, fdsTruncated: (flags & C.MSG_CTRUNC) !== 0 };
}

/** Closes the fds of a message that will not be used. */
export function discardFds(msg: ReceivedMessage): void {
  closeAll(msg.fds);
  msg.fds.length = 0;
}

export interface PeerCredentials { pid: number; uid: number; gid: number }

/** The credentials of the process at the other end of a unix socket (SO_PEERCRED). */
export function peerCredentials(fd: number): PeerCredentials {
  mem.dv.setUint32(CMSG, 12, true);
  if (libc.getsockopt(fd, C.SOL_SOCKET, C.SO_PEERCRED, mem.addr + BigInt(DATA), mem.addr + BigInt(CMSG)) !== 0) {
    throw new SysError('getsockopt', errno(), `SO_PEERCRED fd ${fd}`);
  }
  return { pid: mem.dv.getInt32(DATA, true), uid: mem.dv.getUint32(DATA + 4, true), gid: mem.dv.getUint32(DATA + 8, true) };
}
