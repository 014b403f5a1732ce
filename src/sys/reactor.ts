// Readiness of raw fds (memif control sockets, interrupt eventfds) without blocking the event loop.
//
// One epoll set per thread. While any fd is watched, exactly one epoll_wait runs as a koffi async
// call on a background thread; when it returns, the callbacks run on this thread (where they do
// their non-blocking reads) and the wait is issued again. With nothing watched no wait is pending,
// so the process can exit. Level-triggered: a callback that leaves data unread is called again.
// process.exit() while a wait is pending (a signal handler's exit, an error path) would never end:
// Node joins its thread pool on the way out, and epoll_wait(-1) on a pool thread does not return
// by itself. So the thread's 'exit' wakes the wait.
import { C, errno, libc } from './libc.js';
import { SysError } from './errors.js';
import { allocNative } from './scratch.js';
import { closeFd } from './fd.js';
import { createEventfd, drainEventfd, signalEventfd } from './eventfd.js';

export type ReadyCallback = (events: number) => void;

const EVENT_SIZE = 12; // struct epoll_event is packed on x86-64: u32 events, u64 data
const MAX_EVENTS = 64;

export class Reactor {
  static #instance: Reactor | undefined;

  /** This thread's reactor. */
  static get(): Reactor {
    return (Reactor.#instance ??= new Reactor());
  }

  readonly #epfd: number;
  readonly #wakeFd: number;
  readonly #watchers = new Map<number, ReadyCallback>();
  readonly #events = allocNative(EVENT_SIZE * MAX_EVENTS);
  readonly #ctl = allocNative(EVENT_SIZE);
  #waiting = false;
  #dispatching = false;
  readonly #onExit = (): void => { if (this.#waiting) signalEventfd(this.#wakeFd); };

  private constructor() {
    this.#epfd = libc.epoll_create1(C.EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw new SysError('epoll_create1', errno());
    this.#wakeFd = createEventfd();
    this.#control(C.EPOLL_CTL_ADD, this.#wakeFd, C.EPOLLIN);
    process.once('exit', this.#onExit);
  }

  #control(op: number, fd: number, events: number): void {
    this.#ctl.dv.setUint32(0, events, true);
    this.#ctl.dv.setBigUint64(4, BigInt(fd), true);
    if (libc.epoll_ctl(this.#epfd, op, fd, this.#ctl.addr) !== 0) {
      throw new SysError('epoll_ctl', errno(), `${op === C.EPOLL_CTL_ADD ? 'add' : op === C.EPOLL_CTL_DEL ? 'del' : 'mod'} fd ${fd}`);
    }
  }

  /** Calls `cb` whenever `fd` is ready for `events` (EPOLLIN by default; errors and hang-ups always). */
  watch(fd: number, cb: ReadyCallback, events: number = C.EPOLLIN): void {
    if (this.#watchers.has(fd)) {
      this.#control(C.EPOLL_CTL_MOD, fd, events);
    } else {
      this.#control(C.EPOLL_CTL_ADD, fd, events);
    }
    this.#watchers.set(fd, cb);
    this.#arm();
  }

  /** Stops watching `fd`. Call it before closing the fd. */
  unwatch(fd: number): void {
    if (!this.#watchers.delete(fd)) return;
    try { this.#control(C.EPOLL_CTL_DEL, fd, 0); } catch { /* fd already closed: epoll dropped it */ }
    if (this.#watchers.size === 0 && this.#waiting) signalEventfd(this.#wakeFd);
  }

  get watching(): number {
    return this.#watchers.size;
  }

  #arm(): void {
    if (this.#waiting || this.#dispatching || this.#watchers.size === 0) return;
    this.#waiting = true;
    libc.epoll_wait.async(this.#epfd, this.#events.addr, MAX_EVENTS, -1, (err: unknown, n: number) => this.#dispatch(err, n));
  }

  #dispatch(err: unknown, n: number): void {
    this.#waiting = false;
    if (err) throw err;
    if (n < 0) {
      const e = errno();
      if (e !== 4 /* EINTR */) throw new SysError('epoll_wait', e);
    }
    // The events buffer is read in place: callbacks that watch new fds do not start the next wait
    // (which would write into it) until this loop is done.
    const dv = this.#events.dv;
    this.#dispatching = true;
    for (let i = 0; i < n; i++) {
      const fd = Number(dv.getBigUint64(i * EVENT_SIZE + 4, true));
      const events = dv.getUint32(i * EVENT_SIZE, true);
      if (fd === this.#wakeFd) { drainEventfd(fd); continue; }
      const cb = this.#watchers.get(fd);
      if (!cb) continue; // unwatched while the wait was pending
      try {
        cb(events);
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
    this.#dispatching = false;
    this.#arm();
  }

  /** For tests: closes the epoll set when nothing is watched. */
  dispose(): void {
    if (this.#watchers.size) throw new Error(`reactor still watches ${this.#watchers.size} fds`);
    process.off('exit', this.#onExit);
    closeFd(this.#wakeFd);
    closeFd(this.#epfd);
    Reactor.#instance = undefined;
  }
}
