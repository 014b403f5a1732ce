// Network namespaces, for the main thread: what must run inside one is done by one worker thread
// (netns-worker.ts) that enters it and comes back. A NETLINK_ROUTE socket opened there keeps
// talking to that namespace from here. Requests to the thread are answered in order; it is started
// on first use and does not keep the process alive while idle.
import { Worker } from 'node:worker_threads';
import { open } from 'node:fs/promises';
import { C, errno, libc } from './libc.js';
import { SysError } from './errors.js';
import { NetlinkSocket } from './netlink/socket.js';

export type NetnsRequest =
  | { op: 'netlink'; path: string }
  | { op: 'create'; path: string }
  | { op: 'delete'; path: string }
  | { op: 'tap'; name: string; path?: string };

export type NetnsReply = { id: number; fd?: number; error?: { message: string; call?: string; errno?: number } };

class NetnsThread {
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (fd: number | undefined) => void; reject: (e: Error) => void }>();

  run(r: NetnsRequest): Promise<number | undefined> {
    const w = this.#start();
    const id = this.#next++;
    if (this.#pending.size === 0) w.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      w.postMessage({ id, ...r });
    });
  }

  /** Starts the thread now (its start-up is then not paid by the first request). */
  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./netns-worker.js', import.meta.url));
    w.unref();
    w.on('message', (m: NetnsReply) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) w.unref();
      if (!m.error) return p.resolve(m.fd);
      const e = m.error.call !== undefined && m.error.errno !== undefined ? Object.assign(new SysError(m.error.call, m.error.errno), { message: m.error.message }) : new Error(m.error.message);
      p.reject(e);
    });
    const fail = (e: Error) => {
      if (this.#worker === w) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    w.on('error', (e) => fail(new Error(`netns thread failed: ${e.message}`)));
    w.on('exit', (code) => fail(new Error(`netns thread exited (code ${code})`)));
    this.#worker = w;
    return w;
  }

  warm(): void { this.#start(); }
}

const thread = new NetnsThread();

/** Starts the namespace thread ahead of the first request (an agent does it at start). */
export function warmNetnsThread(): void { thread.warm(); }

/** A NETLINK_ROUTE socket in the namespace at `path` (/var/run/netns/NAME, /proc/PID/ns/net, ...). */
export async function openNetlinkIn(path: string): Promise<NetlinkSocket> {
  const fd = await thread.run({ op: 'netlink', path });
  return new NetlinkSocket(fd!, `netns ${path}`);
}

/** Creates a namespace bound at `path` (`ip netns add`): EEXIST when the path exists. */
export async function createNetns(path: string): Promise<void> { await thread.run({ op: 'create', path }); }

/** Unbinds and removes `path` (`ip netns delete`); the namespace goes when nothing else holds it. */
export async function deleteNetns(path: string): Promise<void> { await thread.run({ op: 'delete', path }); }

/**
 * `deleteNetns` for exit handlers, where no event loop is left to keep free: unbinds and removes
 * `path` on this thread, at once. Links whose other end is in the namespace go with it.
 */
export function deleteNetnsSync(path: string): void {
  if (libc.umount2(path, C.MNT_DETACH) !== 0) throw new SysError('umount2', errno(), `netns ${path}`);
  if (libc.unlink(path) !== 0) throw new SysError('unlink', errno(), `netns ${path}`);
}

/** A persistent tap `name` (`ip tuntap add mode tap`) in the namespace at `path`, or in this one. */
export async function createPersistentTap(name: string, path?: string): Promise<void> {
  await thread.run({ op: 'tap', name, ...(path !== undefined ? { path } : {}) });
}

/** Runs `fn` with an fd of the namespace at `path` (IFLA_NET_NS_FD takes one), closed afterwards. */
export async function withNetnsFd<T>(path: string, fn: (fd: number) => Promise<T>): Promise<T> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => { throw new SysError('open', -(e.errno ?? -2), `netns ${path}`); });
  try { return await fn(fh.fd); } finally { await fh.close(); }
}
