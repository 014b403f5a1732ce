// The thread that enters network namespaces for the main thread. setns(2) moves only the calling
// thread, so it happens here, never on the event loop: open a NETLINK_ROUTE socket inside a
// namespace (the socket stays bound to it wherever it is used from), create and delete named
// namespaces the way `ip netns add/delete` does, and create a persistent tap inside one. Each
// operation enters the namespace and comes back before it answers; if coming back ever failed,
// the thread exits instead of running anything else in the wrong namespace.
import { parentPort, type MessagePort } from 'node:worker_threads';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { C, errno, libc } from './libc.js';
import { SysError } from './errors.js';
import { closeFd } from './fd.js';
import { openTap } from './tun.js';
import { deleteNetnsSync, type NetnsReply, type NetnsRequest } from './netns.js';

function openPath(path: string, flags: number, what: string): number {
  const fd = libc.openat(C.AT_FDCWD, path, flags | C.O_CLOEXEC, 0);
  if (fd < 0) throw new SysError('open', errno(), what);
  return fd;
}

/** This thread's own namespace, to come back to (opened when the thread starts serving). */
let home = -1;

function comeBack(): void {
  if (libc.setns(home, C.CLONE_NEWNET) !== 0) {
    process.stderr.write(`tsvpp netns thread: setns back to its own namespace failed (errno ${errno()}); the thread stops\n`);
    process.exit(70); // in a worker: ends this thread only
  }
}

function inNetns<T>(path: string, fn: () => T): T {
  const ns = openPath(path, C.O_RDONLY, `netns ${path}`);
  try {
    if (libc.setns(ns, C.CLONE_NEWNET) !== 0) throw new SysError('setns', errno(), `netns ${path}`);
    try { return fn(); } finally { comeBack(); }
  } finally { closeFd(ns); }
}

function netlinkSocket(): number {
  const fd = libc.socket(C.AF_NETLINK, C.SOCK_RAW | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, C.NETLINK_ROUTE);
  if (fd < 0) throw new SysError('socket', errno(), 'AF_NETLINK NETLINK_ROUTE');
  return fd;
}

const sharedDirs = new Set<string>();

/**
 * As `ip netns add` does: the namespace directory becomes a shared mount point, so that a
 * namespace unmounted in one mount namespace is unmounted in all and can be freed.
 */
function makeShared(dir: string): void {
  if (sharedDirs.has(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (libc.mount('none', dir, 'none', C.MS_SHARED | C.MS_REC, 0n) !== 0) {
    const e = errno();
    if (e !== 22 /* EINVAL: not a mount point yet */) throw new SysError('mount', e, `make ${dir} shared`);
    if (libc.mount(dir, dir, 'none', C.MS_BIND | C.MS_REC, 0n) !== 0) throw new SysError('mount', errno(), `bind ${dir} onto itself`);
    if (libc.mount('none', dir, 'none', C.MS_SHARED | C.MS_REC, 0n) !== 0) throw new SysError('mount', errno(), `make ${dir} shared`);
  }
  sharedDirs.add(dir);
}

function createNetns(path: string): void {
  makeShared(dirname(path));
  closeFd(openPath(path, C.O_RDONLY | C.O_CREAT | C.O_EXCL, `netns ${path}`)); // EEXIST: taken
  try {
    if (libc.unshare(C.CLONE_NEWNET) !== 0) throw new SysError('unshare', errno(), `new netns for ${path}`);
    try {
      // thread-self: /proc/self would name the main thread's namespace.
      if (libc.mount('/proc/thread-self/ns/net', path, 'none', C.MS_BIND, 0n) !== 0) throw new SysError('mount', errno(), `bind the new netns to ${path}`);
    } finally { comeBack(); }
  } catch (e) {
    libc.unlink(path);
    throw e;
  }
}

/** `ip tuntap add dev NAME mode tap`: a tap that outlives its fd. */
function createTap(name: string): void {
  const fd = openTap(name);
  try {
    if (libc.ioctl(fd, C.TUNSETPERSIST, 1n) !== 0) throw new SysError('ioctl', errno(), `TUNSETPERSIST tap ${name}`);
  } finally { closeFd(fd); }
}

function run(r: NetnsRequest): number | undefined {
  switch (r.op) {
    case 'netlink': return inNetns(r.path, netlinkSocket);
    case 'create': createNetns(r.path); return undefined;
    case 'delete': deleteNetnsSync(r.path); return undefined;
    case 'tap': {
      if (r.path === undefined) createTap(r.name);
      else inNetns(r.path, () => createTap(r.name));
      return undefined;
    }
    default: { const never: never = r; throw new Error(`unknown netns operation ${JSON.stringify(never)}`); }
  }
}

/** Serves the main thread's requests, in order, on this thread. */
function serve(port: MessagePort): void {
  home = openPath('/proc/thread-self/ns/net', C.O_RDONLY, 'this thread\'s network namespace');
  port.on('message', (r: NetnsRequest & { id: number }) => {
    let reply: NetnsReply;
    try {
      const fd = run(r);
      reply = { id: r.id, ...(fd !== undefined ? { fd } : {}) };
    } catch (e) {
      reply = e instanceof SysError
        ? { id: r.id, error: { message: e.message, call: e.call, errno: e.errno } }
        : { id: r.id, error: { message: (e as Error).message } };
    }
    port.postMessage(reply);
  });
}

// Started by src/sys/netns.ts as a worker; imported anywhere else, it does nothing.
if (parentPort) serve(parentPort);
