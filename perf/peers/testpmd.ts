// DPDK testpmd with the memif PMD (net_memif, DPDK 22.11 on Debian bookworm) as a real memif
// peer for system tests. See docs/peers.md for what was measured and why each flag is here.
//
//   const srv = await startTestpmd({ role: 'server', socket: '/tmp/x/memif.sock', forwardMode: 'macswap' });
//   const cli = await startTestpmd({ role: 'client', socket: '/tmp/x/memif.sock', forwardMode: 'txonly' });
//   await srv.waitStats((s) => s.maxRxPackets > 0, 20_000);
//   await cli.stop(); await srv.stop();
//
// If dpdk-testpmd or the memif PMD is missing, startTestpmd throws an error that names the
// Debian packages to install: system tests fail loudly, they never skip.
import { existsSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { machineProcesses, startProc, onExitCleanup, type Proc, type ExitResult } from './procs.js';

export type ForwardMode = 'io' | 'macswap' | 'rxonly' | 'txonly';

export interface TestpmdOptions {
  role: 'server' | 'client';
  /** Filesystem path of the memif control socket (socket-abstract=no is always passed). */
  socket: string;
  /** memif interface id (vdev `id=`), default 0. */
  id?: number;
  /** memif secret (vdev `secret=`, at most 24 bytes). */
  secret?: string;
  forwardMode: ForwardMode;
  /** txonly packet size, or segment sizes (multi-segment mbufs). */
  txpkts?: number | number[];
  /** packets per burst (testpmd default 32). */
  burst?: number;
  /** log2 of the ring size (vdev `rsize=`; only the client's value matters, see docs/peers.md). */
  rsize?: number;
  /** memif buffer size (vdev `bsize=`; only the client's value matters). */
  bsize?: number;
  /** rx and tx queue count (memif rings each way). A client must not ask for more than the server has. */
  queues?: number;
  /** EAL --lcores; default '0@0,1@0' for the server and '0@1,1@1' for the client. */
  lcores?: string;
  /** vdev `zero-copy=yes` (client only); adds --single-file-segments, which it needs. */
  zeroCopy?: boolean;
  /** Appended verbatim to the vdev string, e.g. 'mac=02:00:00:00:00:01'. */
  extraVdevArgs?: string;
  /** testpmd --mbuf-size (data room incl. 128 B headroom). Default: big enough for txpkts. */
  mbufSize?: number;
  /** Extra EAL arguments (before `--`) and testpmd arguments (after it). */
  extraEalArgs?: string[];
  extraArgs?: string[];
  /** How long to wait for readiness (server: forwarding started; client: connected). Default 90 s:
   *  EAL init with --no-huge takes 2-10 s on a loaded 2-CPU machine. */
  readyTimeoutMs?: number;
  /** Copy testpmd's output to stderr as it arrives. */
  echo?: boolean;
}

/** One periodic "NIC statistics for port 0" block plus running maxima. */
export interface TestpmdStats {
  /** Number of periodic stats blocks parsed so far. */
  samples: number;
  rxPackets: number; rxBytes: number; rxMissed: number; rxErrors: number; rxNombuf: number;
  txPackets: number; txBytes: number; txErrors: number;
  rxPps: number; rxBps: number; txPps: number; txBps: number;
  /** Every Rx-pps/Tx-pps sample, oldest first (the first one is a partial interval). */
  rxPpsSeries: number[]; txPpsSeries: number[];
  /** The memif PMD's counters drop back to 0 when the link goes down: use the maxima. */
  maxRxPackets: number; maxTxPackets: number;
}

/** The "Accumulated forward statistics for all ports" block printed at shutdown. */
export interface ForwardStats {
  rxPackets: number; rxDropped: number; txPackets: number; txDropped: number;
}

export interface TestpmdResult {
  exit: ExitResult;
  stats: TestpmdStats;
  forward: ForwardStats | null;
  /** The retained log (without the terminal clear-screen escapes). */
  log: string;
}

export interface Testpmd {
  proc: Proc;
  /** The EAL --file-prefix; also the name of the runtime dir under /var/run/dpdk. */
  prefix: string;
  args: string[];
  stats(): TestpmdStats;
  /** Waits until pred(stats) holds (checked at every new stats block). */
  waitStats(pred: (s: TestpmdStats) => boolean, timeoutMs: number): Promise<TestpmdStats>;
  /** Waits for the next "Remote interface <name> connected." after `from` (an output cursor); returns <name>. */
  waitConnected(timeoutMs: number, from?: number): Promise<string>;
  /** Waits for the next disconnect after `from` (requires the memif debug log, which is on). */
  waitDisconnected(timeoutMs: number, from?: number): Promise<string>;
  /** SIGINT, SIGKILL after graceMs; removes /var/run/dpdk/<prefix>. Idempotent. */
  stop(graceMs?: number): Promise<TestpmdResult>;
}

const INSTALL_HINT =
  'install the Debian packages dpdk-dev (ships dpdk-testpmd on bookworm), dpdk and librte-net-memif23: ' +
  'run `bash scripts/system-deps.sh` as root, or `apt-get update && DEBIAN_FRONTEND=noninteractive ' +
  'apt-get install -y --no-install-recommends dpdk-dev dpdk librte-net-memif23`';

export const RUNTIME_DIR = '/var/run/dpdk';

/** Absolute path of dpdk-testpmd, or throws saying what to install. */
export function findTestpmd(): string {
  for (const dir of (process.env.PATH ?? '/usr/bin').split(delimiter)) {
    const p = join(dir, 'dpdk-testpmd');
    try { if (statSync(p).isFile()) return p; } catch { /* not here */ }
  }
  if (existsSync('/usr/bin/dpdk-testpmd')) return '/usr/bin/dpdk-testpmd';
  throw new Error(`dpdk-testpmd not found in PATH: ${INSTALL_HINT}`);
}

/** Path of the memif PMD that EAL auto-loads from its plugin dir, or throws. */
export function findMemifPmd(): string {
  for (const lib of ['/usr/lib', '/usr/lib64']) {
    let archs: string[] = [];
    try { archs = readdirSync(lib); } catch { continue; }
    for (const arch of ['', ...archs]) {
      const dpdk = join(lib, arch, 'dpdk');
      let pmds: string[] = [];
      try { pmds = readdirSync(dpdk).filter((d) => d.startsWith('pmds-')); } catch { continue; }
      for (const d of pmds) {
        const hit = readdirSync(join(dpdk, d)).find((f) => f.startsWith('librte_net_memif.so'));
        if (hit) return join(dpdk, d, hit);
      }
    }
  }
  throw new Error(`the DPDK memif PMD (librte_net_memif.so) is not installed: ${INSTALL_HINT}`);
}

let seq = 0;

/** Builds the argument vector (exported so docs and tests can show the exact command line). */
export function testpmdArgs(o: TestpmdOptions, prefix: string): string[] {
  const vdev = [
    'net_memif0',
    `role=${o.role}`,
    `socket=${o.socket}`,
    'socket-abstract=no', // 22.11 defaults to an abstract socket; we want a file in a temp dir
  ];
  if (o.id !== undefined) vdev.push(`id=${o.id}`);
  if (o.secret !== undefined) vdev.push(`secret=${o.secret}`);
  if (o.rsize !== undefined) vdev.push(`rsize=${o.rsize}`);
  if (o.bsize !== undefined) vdev.push(`bsize=${o.bsize}`);
  if (o.zeroCopy) vdev.push('zero-copy=yes');
  if (o.extraVdevArgs) vdev.push(o.extraVdevArgs);

  const twoCpus = availableParallelism() >= 2;
  const lcores = o.lcores ?? (o.role === 'client' && twoCpus ? '0@1,1@1' : '0@0,1@0');
  const eal = [
    '--lcores', lcores,       // main lcore 0 + forwarding lcore 1, both pinned to one CPU
    '--no-huge', '-m', '1024', // no hugepages on CI machines; 1 GiB of anonymous memory
    '--no-pci',               // never probe real NICs
    '--file-prefix', prefix,  // own runtime dir + shared config; --no-shconf/--in-memory break the memif probe
    '--log-level=pmd.net.memif:debug', // connect/disconnect lines (control path only, no per-packet logs)
  ];
  if (o.zeroCopy) eal.push('--single-file-segments'); // zero-copy refuses multi-file segments
  eal.push(...(o.extraEalArgs ?? []), `--vdev=${vdev.join(',')}`);

  const app = [
    `--forward-mode=${o.forwardMode}`,
    '--total-num-mbufs=32768', // the default pool (n=155456) does not fit in -m 1024
    '--stats-period', '1',      // non-interactive and keeps running with stdin at EOF; prints stats
  ];
  const segs = o.txpkts === undefined ? [] : Array.isArray(o.txpkts) ? o.txpkts : [o.txpkts];
  const needRoom = segs.length ? Math.max(...segs) + 128 : 0;
  const mbufSize = o.mbufSize ?? (needRoom > 2176 ? needRoom : undefined);
  // --mbuf-size must come before --txpkts: testpmd checks txpkts against the size known so far.
  if (mbufSize !== undefined) app.push(`--mbuf-size=${mbufSize}`);
  if (segs.length) app.push(`--txpkts=${segs.join(',')}`);
  if (o.burst !== undefined) app.push(`--burst=${o.burst}`);
  if (o.queues !== undefined) app.push(`--rxq=${o.queues}`, `--txq=${o.queues}`);
  app.push(...(o.extraArgs ?? []));
  return [...eal, '--', ...app];
}

const num = (s: string | undefined): number => (s === undefined ? 0 : Number(s));

export function parseStats(log: string): TestpmdStats {
  const st: TestpmdStats = {
    samples: 0, rxPackets: 0, rxBytes: 0, rxMissed: 0, rxErrors: 0, rxNombuf: 0,
    txPackets: 0, txBytes: 0, txErrors: 0, rxPps: 0, rxBps: 0, txPps: 0, txBps: 0,
    rxPpsSeries: [], txPpsSeries: [], maxRxPackets: 0, maxTxPackets: 0,
  };
  const block = /NIC statistics for port \d+\s*#+\s*\n\s*RX-packets:\s*(\d+)\s+RX-missed:\s*(\d+)\s+RX-bytes:\s*(\d+)\s*\n\s*RX-errors:\s*(\d+)\s*\n\s*RX-nombuf:\s*(\d+)\s*\n\s*TX-packets:\s*(\d+)\s+TX-errors:\s*(\d+)\s+TX-bytes:\s*(\d+)\s*\n\s*Throughput \(since last show\)\s*\n\s*Rx-pps:\s*(\d+)\s+Rx-bps:\s*(\d+)\s*\n\s*Tx-pps:\s*(\d+)\s+Tx-bps:\s*(\d+)/g;
  for (const m of log.matchAll(block)) {
    st.samples++;
    [st.rxPackets, st.rxMissed, st.rxBytes, st.rxErrors, st.rxNombuf, st.txPackets, st.txErrors,
      st.txBytes, st.rxPps, st.rxBps, st.txPps, st.txBps] = m.slice(1, 13).map(num);
    st.rxPpsSeries.push(st.rxPps);
    st.txPpsSeries.push(st.txPps);
    st.maxRxPackets = Math.max(st.maxRxPackets, st.rxPackets);
    st.maxTxPackets = Math.max(st.maxTxPackets, st.txPackets);
  }
  return st;
}

export function parseForwardStats(log: string): ForwardStats | null {
  const m = /Accumulated forward statistics for all ports\+*\s*\n\s*RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)\s+RX-total:\s*\d+\s*\n\s*TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)/.exec(log);
  return m ? { rxPackets: num(m[1]), rxDropped: num(m[2]), txPackets: num(m[3]), txDropped: num(m[4]) } : null;
}

const clean = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** Pids of running dpdk-testpmd processes, optionally only those with an argument containing `needle` (e.g. this process's pid, part of every --file-prefix it gives). */
export function testpmdPids(needle?: string): number[] {
  return machineProcesses()
    .filter((p) => p.argv[0]?.endsWith('dpdk-testpmd') && (needle === undefined || p.argv.some((a) => a.includes(needle))) && !p.zombie())
    .map((p) => p.pid);
}

export async function startTestpmd(o: TestpmdOptions): Promise<Testpmd> {
  const bin = findTestpmd();
  findMemifPmd();
  if (o.role === 'server') {
    // A socket file left by a killed server makes bind() fail; tests use private temp dirs.
    try { if (statSync(o.socket).isSocket()) unlinkSync(o.socket); } catch { /* absent */ }
  }
  const prefix = `tsvpp-${o.role}-${process.pid}-${++seq}`;
  const args = testpmdArgs(o, prefix);
  // testpmd's stdout is a pipe here: force line buffering so log lines arrive as they happen.
  const useStdbuf = existsSync('/usr/bin/stdbuf');
  const proc = startProc({
    name: `testpmd-${o.role}`,
    cmd: useStdbuf ? '/usr/bin/stdbuf' : bin,
    args: useStdbuf ? ['-oL', '-eL', bin, ...args] : args,
    echo: o.echo,
  });
  const runtimeDir = join(RUNTIME_DIR, prefix);
  const removeRuntimeDir = () => rmSync(runtimeDir, { recursive: true, force: true });
  const unhook = onExitCleanup(removeRuntimeDir); // also on a crashed test
  let result: TestpmdResult | null = null;

  const tp: Testpmd = {
    proc,
    prefix,
    args: [bin, ...args],
    stats: () => parseStats(clean(proc.output())),
    async waitStats(pred, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = tp.stats();
        if (pred(s)) return s;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${proc.name}: stats condition not met within ${timeoutMs} ms; last stats ${JSON.stringify({ ...s, rxPpsSeries: s.rxPpsSeries.slice(-5), txPpsSeries: s.txPpsSeries.slice(-5) })}\n--- last output ---\n${proc.tail()}`);
        const from = proc.outputLength;
        await proc.waitFor(/Tx-pps:[^\n]*\n/, left, from).catch(() => undefined);
        if (!proc.running) { const s2 = tp.stats(); if (pred(s2)) return s2; throw new Error(`${proc.name}: exited before the stats condition held\n--- last output ---\n${proc.tail()}`); }
      }
    },
    async waitConnected(timeoutMs, from = 0) {
      const m = await proc.waitFor(/Remote interface (\S+) connected\.|Disconnect received: ([^\n]*)|Failed to connect socket[^\n]*/, timeoutMs, from);
      if (m[1] === undefined) throw new Error(`${proc.name}: memif did not connect: ${m[0]}\n--- last output ---\n${proc.tail()}`);
      return m[1];
    },
    async waitDisconnected(timeoutMs, from = 0) {
      const m = await proc.waitFor(/Disconnected, id: \d+, role: \w+\./, timeoutMs, from);
      return m[0];
    },
    async stop(graceMs = 15_000) {
      if (result) return result;
      const exit = await proc.stop(graceMs);
      // testpmd leaves its runtime dir (config, mp_socket, fbarray files) behind even on a clean exit.
      removeRuntimeDir();
      unhook();
      const log = clean(proc.output());
      result = { exit, stats: parseStats(log), forward: parseForwardStats(log), log };
      return result;
    },
  };

  const readyMs = o.readyTimeoutMs ?? 90_000;
  try {
    if (o.role === 'client') {
      // The client connects once, at port start, and never retries: a failure is final, yet
      // testpmd keeps running with the link down. So wait for the connect outcome first.
      await tp.waitConnected(readyMs);
    }
    await proc.waitFor(/start packet forwarding/, readyMs);
    // EAL failures print "Cause: ..." and exit; waitFor reports those with the output tail.
  } catch (e) {
    await tp.stop(2_000);
    throw new Error(`dpdk-testpmd (${o.role}, ${o.forwardMode}) did not become ready: ${(e as Error).message}\ncommand: ${tp.args.join(' ')}`);
  }
  return tp;
}
