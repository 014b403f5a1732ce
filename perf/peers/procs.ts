// Child processes for system tests: start with a unique name, keep a bounded tail of the
// output, wait for a log line, stop with SIGINT then SIGKILL, and never leave one behind.
//
// Every process started here is put in a registry; when the test process exits (normally,
// on an uncaught error, or on SIGINT/SIGTERM/SIGHUP) everything still running is SIGKILLed, so a
// failing test never leaves dpdk-testpmd or etcd running. A run may take the first SIGINT for
// itself (untilInterrupted) to stop and report before it exits.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StartOptions {
  /** Short label; a counter and the pid of this process are appended to make it unique. */
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Characters of combined stdout+stderr kept (the oldest are dropped). Default 256 KiB. */
  keepChars?: number;
  /** Also copy the output to this process's stderr, each line prefixed with the name. */
  echo?: boolean;
}

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when SIGINT was not enough and SIGKILL was sent. */
  killed: boolean;
}

let counter = 0;
const registry = new Set<Proc>();

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly cmdline: string;
  private buf = '';
  private dropped = 0;
  private readonly keep: number;
  private waiters: Array<() => void> = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  constructor(opts: StartOptions) {
    this.name = `${opts.name}-${process.pid}-${++counter}`;
    this.keep = opts.keepChars ?? 256 * 1024;
    this.cmdline = [opts.cmd, ...opts.args].join(' ');
    const spawnOpts: SpawnOptions = {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      // A process group of its own: a terminal's Ctrl-C reaches only the process that started it,
      // which stops it (at once, or after the step in progress: untilInterrupted), not mid-run.
      detached: true,
    };
    this.child = spawn(opts.cmd, opts.args, spawnOpts);
    this.exited = new Promise<void>((resolve) => {
      this.child.once('error', (e) => {
        this.append(`[procs] ${this.name}: spawn error: ${e.message}\n`);
        this.exitInfo ??= { code: null, signal: null };
        resolve();
      });
      this.child.once('close', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
    this.exited.then(() => { registry.delete(this); this.wake(); });
    if (this.child.pid === undefined) {
      // spawn failed (e.g. ENOENT); the reason arrives through 'error' and lands in output()
      this.pid = -1;
    } else {
      this.pid = this.child.pid;
      registry.add(this);
    }
    const onData = (d: Buffer) => {
      const s = d.toString('utf8');
      this.append(s);
      if (opts.echo) process.stderr.write(s.replace(/^(?=.)/gm, `[${this.name}] `));
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
  }

  private append(s: string): void {
    this.buf += s;
    if (this.buf.length > this.keep) {
      const cut = this.buf.length - this.keep;
      this.buf = this.buf.slice(cut);
      this.dropped += cut;
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The retained output (the last keepChars characters). */
  output(): string { return this.buf; }

  /** Total characters ever received (retained + dropped); a cursor for waitFor({ from }). */
  get outputLength(): number { return this.dropped + this.buf.length; }

  /** The last n lines of retained output, for error messages. */
  tail(n = 30): string {
    const lines = this.buf.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split('\n').filter((l) => l.trim() !== '');
    return lines.slice(-n).join('\n');
  }

  get running(): boolean { return this.exitInfo === null && this.pid > 0; }
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | null { return this.exitInfo; }

  /**
   * Resolves with the match once `re` matches the output (looking only at output after the
   * absolute position `from`, default 0). Rejects on timeout, or if the process exits first;
   * the error names the process, the pattern and shows the last output lines.
   */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${re} in the output of\n  ${this.cmdline}\n--- last output ---\n${this.tail()}`));
      }, timeoutMs);
      const check = (): boolean => {
        const start = Math.max(0, from - this.dropped);
        const m = re.exec(this.buf.slice(start));
        if (m) { done(); resolve(m); return true; }
        if (this.exitInfo) {
          done();
          reject(new Error(`${this.name}: exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal}) before ${re} appeared; command:\n  ${this.cmdline}\n--- last output ---\n${this.tail()}`));
          return true;
        }
        return false;
      };
      const loop = () => { if (!check()) this.waiters.push(loop); };
      let finished = false;
      const done = () => { if (!finished) { finished = true; clearTimeout(deadline); } };
      loop();
    });
  }

  /** Waits for the process to end by itself, at most timeoutMs; false on timeout. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => { t = setTimeout(() => r(false), timeoutMs); });
    const r = await Promise.race([this.exited.then(() => true), timedOut]);
    clearTimeout(t);
    return r;
  }

  /** SIGINT (a clean shutdown for testpmd/etcd), then SIGKILL after graceMs. Idempotent. */
  async stop(graceMs = 10_000): Promise<ExitResult> {
    let killed = false;
    if (this.running) {
      this.child.kill('SIGINT');
      if (!(await this.waitExit(graceMs))) {
        killed = true;
        this.child.kill('SIGKILL');
        await this.waitExit(5_000);
      }
    }
    await this.exited;
    return { code: this.exitInfo?.code ?? null, signal: this.exitInfo?.signal ?? null, killed };
  }
}

export function startProc(opts: StartOptions): Proc {
  return new Proc(opts);
}

/** Processes started by this module that are still running. */
export function liveProcs(): Proc[] {
  return [...registry].filter((p) => p.running);
}

/** Stops every registered process (SIGINT, then SIGKILL after graceMs). */
export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all(liveProcs().map((p) => p.stop(graceMs)));
}

/** A process of this machine (any, not only ours): its argv, and whether it is a zombie (read when asked). */
export interface MachineProcess { pid: number; argv: string[]; zombie(): boolean }

/** Every process /proc lists now; one that goes away meanwhile is left out. */
export function machineProcesses(): MachineProcess[] {
  const out: MachineProcess[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string;
    try { cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8'); } catch { continue; }
    const zombie = () => { try { return /^State:\s*Z/m.test(readFileSync(`/proc/${d}/status`, 'utf8')); } catch { return true; } };
    const argv = cmd.split('\0');
    if (argv[argv.length - 1] === '') argv.pop(); // each argument ends with a NUL
    out.push({ pid: Number(d), argv, zombie });
  }
  return out;
}

const exitHooks = new Set<() => void>();

/**
 * Registers a synchronous cleanup (e.g. removing a runtime dir) to run at process exit after
 * the registered processes have been killed. Returns a function that unregisters it.
 */
export function onExitCleanup(fn: () => void): () => void {
  exitHooks.add(fn);
  return () => { exitHooks.delete(fn); };
}

/**
 * A fresh temp dir (`<tmpdir>/<prefix>XXXXXX`) that goes when remove() is called or, if the
 * process is interrupted first (SIGINT/SIGTERM exit through the handlers below, not through the
 * caller's finally), at exit.
 */
export function tempDirRemovedAtExit(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const rm = () => rmSync(dir, { recursive: true, force: true });
  const forget = onExitCleanup(rm);
  return { dir, remove: () => { rm(); forget(); } };
}

// Last-resort cleanup: at exit only synchronous work is possible, so SIGKILL.
function killAllSync(): void {
  for (const p of registry) {
    if (p.running) {
      try { p.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
  for (const fn of exitHooks) {
    try { fn(); } catch { /* best effort */ }
  }
  exitHooks.clear();
}
let interruptTaker: (() => void) | null = null;

/**
 * Runs fn with a signal that the next SIGINT (a user's Ctrl-C) aborts, after calling onInterrupt,
 * instead of ending the process, so a run can stop and report what it measured; a second SIGINT,
 * SIGTERM and SIGHUP end it as before. SIGINT is given back when fn settles.
 */
export async function untilInterrupted<T>(onInterrupt: () => void, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const taker = () => { onInterrupt(); ac.abort(); };
  interruptTaker = taker;
  try {
    return await fn(ac.signal);
  } finally {
    if (interruptTaker === taker) interruptTaker = null;
  }
}

process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    const taker = sig === 'SIGINT' ? interruptTaker : null;
    if (taker) { interruptTaker = null; taker(); return; }
    killAllSync();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}
