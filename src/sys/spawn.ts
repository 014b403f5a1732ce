// Short-lived processes without copying this one. Node's spawn forks (libuv): the page tables of
// the whole process are copied, on the event loop, before the child can exec — 10-20 ms of a
// blocked loop in a 150 MB agent, per process. glibc's posix_spawn clones with CLONE_VM |
// CLONE_VFORK instead: the child runs in the parent's memory until it execs, so starting it costs
// the same in any process. It runs as a koffi async call (off the event loop); the child's stdin is
// written and its stdout and stderr read through non-blocking pipes, and its exit is seen on a
// pidfd, all watched by the Reactor. Signal dispositions and mask are reset in the child (Node
// ignores SIGPIPE; a child must not inherit that).
import { isAbsolute } from 'node:path';
import { C, addressOf, errno, libc, viewOf } from './libc.js';
import { EAGAIN, EINTR, SysError } from './errors.js';
import { closeAll, closeFd, setNonBlocking } from './fd.js';
import { Reactor } from './reactor.js';
import type { Scratch } from './scratch.js';

export interface ProcessResult {
  /** The exit status, or null when a signal ended it. */
  code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  /** Killed (SIGKILL) because it outlived timeoutMs. */
  timedOut: boolean;
}

export interface ProcessOptions {
  /** The child's whole environment (nothing of this process's is passed on). */
  env: Readonly<Record<string, string>>;
  stdin?: string;
  timeoutMs: number;
}

// Native layout of one call's block: glibc's posix_spawn_file_actions_t (80 bytes) and
// posix_spawnattr_t (336 bytes) with room to spare, a sigset_t, the pid, the pipe fds, then the
// argv and envp pointer tables and their strings.
const FA = 0, ATTR = 128, SIGSET = 640, PID = 768, FDS = 776, PTRS = 832;
const READ_CHUNK = 64 * 1024;

function block(size: number): Scratch {
  const ptr = libc.malloc(size);
  if (ptr === null) throw new Error(`malloc(${size}) failed`);
  const ab = viewOf(ptr, size);
  return { addr: addressOf(ptr), size, dv: new DataView(ab), u8: new Uint8Array(ab) };
}

/** Lays out argv and envp (NULL-terminated tables of pointers to NUL-terminated strings) at PTRS. */
function layOut(args: readonly string[], env: readonly string[]): { size: number; write(b: Scratch): { argv: bigint; envp: bigint } } {
  const strs = [...args, ...env].map((s) => {
    const u = Buffer.from(s, 'utf8');
    if (u.includes(0)) throw new RangeError(`process argument or environment entry ${JSON.stringify(s)} contains a NUL byte`);
    return u;
  });
  const tables = 8 * (args.length + 1 + env.length + 1);
  const size = PTRS + tables + strs.reduce((n, u) => n + u.length + 1, 0);
  return {
    size,
    write(b) {
      let s = PTRS + tables, p = PTRS;
      const put = (i: number) => { b.u8.set(strs[i]!, s); b.u8[s + strs[i]!.length] = 0; b.dv.setBigUint64(p, b.addr + BigInt(s), true); s += strs[i]!.length + 1; p += 8; };
      for (let i = 0; i < args.length; i++) put(i);
      b.dv.setBigUint64(p, 0n, true); p += 8;
      const envp = b.addr + BigInt(p);
      for (let i = 0; i < env.length; i++) put(args.length + i);
      b.dv.setBigUint64(p, 0n, true);
      return { argv: b.addr + BigInt(PTRS), envp };
    },
  };
}

function check(call: string, r: number, what: string): void {
  if (r !== 0) throw new SysError(call, r, what); // the posix_spawn family returns the errno
}

/** Runs `path` (absolute) with `args` (argv[0] is `path`), feeding `stdin`, until it exits. */
export async function runProcess(path: string, args: readonly string[], o: ProcessOptions): Promise<ProcessResult> {
  if (!isAbsolute(path)) throw new RangeError(`runProcess: ${JSON.stringify(path)} is not an absolute path`);
  const env = Object.entries(o.env).map(([k, v]) => `${k}=${v}`);
  const plan = layOut([path, ...args], env);
  const b = block(plan.size);
  const fds: number[] = [];
  try {
    // Three pipes, close-on-exec (dup2 onto 0, 1, 2 clears it for the child's copies); only this
    // side's ends non-blocking (the child's ends are other file descriptions, left blocking).
    for (let i = 0; i < 3; i++) {
      if (libc.pipe2(b.addr + BigInt(FDS + 8 * i), C.O_CLOEXEC) !== 0) throw new SysError('pipe2', errno(), `for ${path}`);
      fds.push(b.dv.getInt32(FDS + 8 * i, true), b.dv.getInt32(FDS + 8 * i + 4, true));
    }
    const [inR, inW, outR, outW, errR, errW] = fds as [number, number, number, number, number, number];
    for (const fd of [inW, outR, errR]) setNonBlocking(fd);
    const fa = b.addr + BigInt(FA), attr = b.addr + BigInt(ATTR), sigs = b.addr + BigInt(SIGSET);
    check('posix_spawn_file_actions_init', libc.posix_spawn_file_actions_init(fa), path);
    check('posix_spawnattr_init', libc.posix_spawnattr_init(attr), path);
    try {
      check('posix_spawn_file_actions_adddup2', libc.posix_spawn_file_actions_adddup2(fa, inR, 0), path);
      check('posix_spawn_file_actions_adddup2', libc.posix_spawn_file_actions_adddup2(fa, outW, 1), path);
      check('posix_spawn_file_actions_adddup2', libc.posix_spawn_file_actions_adddup2(fa, errW, 2), path);
      // Nothing else of this process reaches the child, close-on-exec or not.
      if (libc.posix_spawn_file_actions_addclosefrom_np) check('posix_spawn_file_actions_addclosefrom_np', libc.posix_spawn_file_actions_addclosefrom_np(fa, 3), path);
      libc.sigfillset(sigs);
      libc.sigdelset(sigs, C.SIGKILL);
      libc.sigdelset(sigs, C.SIGSTOP);
      check('posix_spawnattr_setsigdefault', libc.posix_spawnattr_setsigdefault(attr, sigs), path);
      libc.sigemptyset(sigs);
      check('posix_spawnattr_setsigmask', libc.posix_spawnattr_setsigmask(attr, sigs), path);
      check('posix_spawnattr_setflags', libc.posix_spawnattr_setflags(attr, C.POSIX_SPAWN_SETSIGDEF | C.POSIX_SPAWN_SETSIGMASK), path);
      const { argv, envp } = plan.write(b);
      const file = b.dv.getBigUint64(PTRS, true); // argv[0], the path, in the block (alive until the call returns)
      const r = await new Promise<number>((resolve, reject) => {
        libc.posix_spawn.async(b.addr + BigInt(PID), file, fa, attr, argv, envp, (err: unknown, n: number) => (err ? reject(err) : resolve(n)));
      });
      check('posix_spawn', r, path);
    } finally {
      libc.posix_spawn_file_actions_destroy(fa);
      libc.posix_spawnattr_destroy(attr);
    }
    const pid = b.dv.getInt32(PID, true);
    closeAll([inR, outW, errW]);
    fds.length = 0; // supervise owns the parent's ends now
    return await supervise(pid, inW, outR, errR, o, path);
  } finally {
    closeAll(fds);
    libc.free(b.addr);
  }
}

/** Feeds, drains and reaps a started child; closes the three pipe ends when done with each. */
function supervise(pid: number, inW: number, outR: number, errR: number, o: ProcessOptions, path: string): Promise<ProcessResult> {
  const reactor = Reactor.get();
  const pidfd = libc.pidfd_open(pid, 0);
  if (pidfd < 0) {
    const e = errno();
    closeAll([inW, outR, errR]);
    libc.kill(pid, C.SIGKILL);
    libc.waitpid(pid, 0n, 0); // at once: a SIGKILLed child exits without running
    return Promise.reject(new SysError('pidfd_open', e, `${path} (pid ${pid})`));
  }
  const buf = block(READ_CHUNK);
  const input = Buffer.from(o.stdin ?? '', 'utf8');
  return new Promise<ProcessResult>((resolve, reject) => {
    const out: Buffer[] = [], err: Buffer[] = [];
    let open = 3, status: number | undefined, timedOut = false, sent = 0, failure: Error | undefined;
    const done = () => {
      if (open > 0 || status === undefined) return;
      clearTimeout(timer);
      libc.free(buf.addr);
      if (failure) return reject(failure);
      const signaled = (status & 0x7f) !== 0;
      resolve({
        code: signaled ? null : (status >> 8) & 0xff, signal: signaled ? status & 0x7f : null,
        stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut,
      });
    };
    const finish = (fd: number) => { reactor.unwatch(fd); closeFd(fd); open--; done(); };
    const drain = (fd: number, into: Buffer[]) => () => {
      for (;;) {
        const n = Number(libc.read(fd, buf.addr, READ_CHUNK));
        if (n > 0) { into.push(Buffer.from(buf.u8.subarray(0, n))); continue; }
        if (n === 0) return finish(fd);
        const e = errno();
        if (e === EAGAIN) return;
        if (e === EINTR) continue;
        failure ??= new SysError('read', e, `${path} (pid ${pid}) output`);
        return finish(fd);
      }
    };
    const feed = () => {
      while (sent < input.length) {
        const chunk = input.subarray(sent, sent + READ_CHUNK);
        buf.u8.set(chunk);
        const n = Number(libc.write(inW, buf.addr, chunk.length));
        if (n >= 0) { sent += n; continue; }
        const e = errno();
        if (e === EAGAIN) return; // called again when the pipe has room
        if (e !== EINTR) break; // EPIPE: the child does not read its stdin; nothing to do about it
      }
      finish(inW);
    };
    const reap = () => {
      const st = block(8);
      const r = libc.waitpid(pid, st.addr, C.WNOHANG);
      const e = errno();
      const s = st.dv.getInt32(0, true);
      libc.free(st.addr);
      if (r === 0) return; // not yet (a spurious wake-up)
      reactor.unwatch(pidfd);
      closeFd(pidfd);
      if (r < 0) { failure ??= new SysError('waitpid', e, `${path} (pid ${pid})`); status = 0; } else status = s;
      done();
    };
    const timer = setTimeout(() => { timedOut = true; libc.kill(pid, C.SIGKILL); }, o.timeoutMs);
    reactor.watch(outR, drain(outR, out));
    reactor.watch(errR, drain(errR, err));
    reactor.watch(inW, feed, C.EPOLLOUT);
    reactor.watch(pidfd, reap);
  });
}

