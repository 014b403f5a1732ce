// tsvpp perf: the memif sender/checker. It connects a tsvpp memif endpoint to an echoing peer —
// a second tsvpp process (`self`), DPDK's testpmd in macswap mode (`dpdk`), or anything already
// listening/connecting on --socket (`external`) — sends numbered packets, checks each echo and
// prints a table (or one JSON object). Exit status 1 when anything was lost or corrupted.
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemifInterface, type DisconnectInfo } from '../memif/index.js';
import { runEchoTraffic, warmUp, type TrafficResult } from '../../perf/memif/traffic.js';
import { WARMUP_MS } from '../../perf/memif/window.js';
import { startProc, tempDirRemovedAtExit, untilInterrupted, type Proc } from '../../perf/peers/procs.js';
import { parseFlags, UsageError } from '../flags.js';
import { SECTIONS, section } from '../../perf/harness/sections.js';

const help = (): string => `usage: tsvpp perf [flags]

With no flags: a quick tsvpp <-> tsvpp run (two processes, 64-byte packets): 0.5 s of traffic
untimed while V8 compiles the hot loops (checked all the same), then 2 s timed.

  --peer P          self (a second tsvpp process running 'memif echo'), dpdk (starts testpmd
                    in macswap mode), external (an echoing peer on --socket) (default self)
  --role R          this end's role: master | slave (default slave; the peer takes the other)
  --size BYTES      frame size, 20..65535; larger than the buffer size means chained buffers (default 64)
  --duration-ms MS  timed part of the run, after the warm-up (default 2000)
  --packets N       send exactly N packets instead, all of them timed (no warm-up)
  --socket PATH     control socket (default: a fresh one in a temp dir; required for external)
  --id N            memif interface id (default 0)
  --secret S        memif secret
  --queues Q        queues each way (default 1)
  --burst N         packets per burst (default 32)
  --mode M          polling | interrupt (default polling)
  --timeout S       give up connecting after S seconds (default 30)
  --json            print one JSON object instead of the table
  --allow-unsealed-regions
                    the master end accepts a slave whose memory cannot be sealed against
                    shrinking (DPDK zero-copy clients); a slave that then truncates it crashes it
  Ctrl-C stops sending, waits for the packets in flight and prints what was measured ("interrupted",
  exit 130); a second Ctrl-C quits at once.

tsvpp perf --all [--full | --goals] [--repeats N] [--duration-ms MS] [--sizes 64,1500] [--skip LIST]
                 [--json FILE] [--svg FILE] [--ping-count N] [--verbose]
  Every section in one run, memif pairs alternated (tsvpp processes pinned to different cores),
  with repeats (median, min, max):
${SECTIONS.map((s) => `    ${s.name.padEnd(10)}${s.what}`).join('\n')}
  The default is a subset (sizes 64, 1500, 9000 at burst 32, polling, 1 queue, plus burst 256,
  interrupt mode and 2 queues at 64 B; ~10 min on 2 vCPUs); --full runs sizes 64/256/1500/9000 x
  bursts 32/64/256 x polling/interrupt x 1/2 queues. Without testpmd the tsvpp-only scenarios run.
  --goals           only the memif goal scenarios: tsvpp->tsvpp and testpmd->testpmd one-way and the
                    tsvpp<->tsvpp echo at 64 and 1500 B (default 6 repeats), and the goal ratios
  --repeats N       runs per scenario (default 3; 6 with --goals)
  --duration-ms MS  measured time per throughput run (default 2000)
  --sizes LIST      override the packet sizes
  --skip LIST       leave out sections: ${SECTIONS.map((s) => s.name).join(',')}
  --json FILE       write every figure as JSON (here --json takes a file)
  --svg FILE        write the throughput chart (Mpps and Gbit/s per size, one series per pair)
  Ctrl-C finishes the step in progress and prints (and writes) the report of what ran, marked
  INTERRUPTED (exit 130); a second Ctrl-C quits at once without one.`;

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--all')) return allMain(argv);
  return singleMain(argv);
}

async function allMain(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    all: { type: 'bool' }, full: { type: 'bool' }, goals: { type: 'bool' },
    repeats: { type: 'int' }, 'duration-ms': { type: 'int', default: 2000 },
    sizes: { type: 'string' }, skip: { type: 'string' }, json: { type: 'string' }, svg: { type: 'string' },
    'ping-count': { type: 'int', default: 20000 }, verbose: { type: 'bool' }, help: { type: 'bool' },
  });
  if (flags.help) { console.log(help()); return 0; }
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const sizes = flags.sizes?.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 20 || n > 65535) throw new UsageError(`--sizes: each size must be an integer 20..65535, got '${x}'`);
    return n;
  });
  const skip = flags.skip ? flags.skip.split(',') : [];
  for (const k of skip) if (!section(k)) throw new UsageError(`--skip: unknown section '${k}' (${SECTIONS.map((s) => s.name).join(', ')})`);
  const repeats = flags.repeats ?? (flags.goals ? 6 : 3);
  if (repeats < 1) throw new UsageError(`--repeats must be at least 1, got ${repeats}`);
  if (flags.goals && flags.full) throw new UsageError('--goals and --full exclude each other');
  if (flags['duration-ms']! < 100) throw new UsageError(`--duration-ms must be at least 100, got ${flags['duration-ms']}`);
  if (flags['ping-count']! < 1) throw new UsageError(`--ping-count must be at least 1, got ${flags['ping-count']}`);
  // Checked before a run of many minutes, not after it.
  if (flags.json) writableFile('--json', flags.json);
  if (flags.svg) writableFile('--svg', flags.svg);
  const { runAll } = await import('../../perf/harness/all.js');
  const { formatReport } = await import('../../perf/report/table.js');
  // Ctrl-C: the step in progress finishes, then the report of what ran; a second one quits at once.
  const report = await untilInterrupted(
    () => console.error('\ninterrupted: finishing the step in progress, then the report of what ran (Ctrl-C again to quit at once, without one)'),
    (signal) => runAll({
      full: flags.full, goals: flags.goals, repeats, durationMs: flags['duration-ms']!, pingCount: flags['ping-count']!,
      sizes, skip, verbose: flags.verbose, signal,
    }));
  console.log(formatReport(report));
  if (flags.json) {
    writeFileSync(flags.json, JSON.stringify(report, null, 2) + '\n');
    console.log(`\nwrote ${flags.json}`);
  }
  if (flags.svg) {
    const { renderSvg } = await import('../../perf/report/svg.js');
    writeFileSync(flags.svg, renderSvg(report));
    console.log(`wrote ${flags.svg}`);
  }
  if (report.interrupted) return 130;
  const failed = report.memif.filter((r) => r.mpps.n === 0).length + report.latency.filter((r) => r.p50.n === 0).length;
  return failed ? 1 : 0;
}

/** A file perf can write: not a directory, in a directory that exists and is writable. */
function writableFile(flag: string, path: string): void {
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new Error('is a directory');
    accessSync(dirname(resolve(path)), constants.W_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `directory ${dirname(resolve(path))} does not exist` : (e as Error).message;
    throw new UsageError(`${flag} ${path}: cannot write there (${why})`);
  }
}

async function singleMain(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    peer: { type: 'string', choices: ['self', 'dpdk', 'external'], default: 'self' },
    role: { type: 'string', choices: ['master', 'slave'], default: 'slave' },
    size: { type: 'int', default: 64 },
    packets: { type: 'int' },
    'duration-ms': { type: 'int' },
    socket: { type: 'string' },
    id: { type: 'int', default: 0 },
    secret: { type: 'string' },
    queues: { type: 'int', default: 1 },
    burst: { type: 'int', default: 32 },
    mode: { type: 'string', choices: ['polling', 'interrupt'], default: 'polling' },
    timeout: { type: 'number', default: 30 },
    json: { type: 'bool' },
    'allow-unsealed-regions': { type: 'bool' },
    help: { type: 'bool' },
  });
  if (flags.help) { console.log(help()); return 0; }
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (flags.size! < 20 || flags.size! > 65535) throw new UsageError(`--size must be 20..65535, got ${flags.size}`);
  if (flags.packets !== undefined && flags.packets < 1) throw new UsageError(`--packets must be at least 1, got ${flags.packets}`);
  if (flags.packets !== undefined && flags['duration-ms'] !== undefined) throw new UsageError('--packets and --duration-ms: give one (a count, or a time)');
  if (flags['duration-ms'] !== undefined && flags['duration-ms'] < 100) throw new UsageError(`--duration-ms must be at least 100, got ${flags['duration-ms']}`);
  // A count is sent and timed whole, as asked; a time run leaves V8's compile out of the rate.
  const run: Run = flags.packets !== undefined
    ? { packets: flags.packets, warmupMs: 0 }
    : { durationMs: flags['duration-ms'] ?? 2000, warmupMs: WARMUP_MS };
  if (flags.peer === 'external' && !flags.socket) throw new UsageError('--peer external needs --socket');
  const role = flags.role as 'master' | 'slave';
  const peerRole = role === 'master' ? 'slave' : 'master';
  // Removed at exit too: an interrupted run (SIGINT) exits from procs.ts's handler, not through finally.
  const tmp = flags.socket ? null : tempDirRemovedAtExit('tsvpp-perf-');
  const socket = flags.socket ?? join(tmp!.dir, 'memif.sock');
  const say = (s: string) => { if (!flags.json) console.log(s); else console.error(s); };
  const progress = process.stderr.isTTY && !flags.json;

  let peer: { stop(): Promise<unknown>; describe: string } | null = null;
  let iface: MemifInterface | null = null;
  try {
    // A master must listen before its slave connects; start whichever side is the master first.
    const startPeer = async () => {
      if (flags.peer === 'self') peer = await startSelfPeer(socket, peerRole, flags);
      else if (flags.peer === 'dpdk') peer = await startDpdkPeer(socket, peerRole, flags);
    };
    const openOurs = () => {
      iface = new MemifInterface({
        socket, role, id: flags.id, secret: flags.secret, queues: flags.queues, ifName: 'tsvpp-perf',
        reconnectMs: 100, allowUnsealedRegions: flags['allow-unsealed-regions'],
      });
      iface.on('disconnected', (d: DisconnectInfo) => say(`memif disconnected: ${d.reason}`));
      iface.on('rejected', (d: { reason: string }) => say(`refused a slave: ${d.reason}`));
    };
    if (role === 'master') { openOurs(); await startPeer(); } else { await startPeer(); openOurs(); }
    const conn = await iface!.waitConnected(flags.timeout! * 1000);
    const peerName = flags.peer === 'external' ? `external (${conn.peerName})` : peer!.describe;
    say(`connected to ${peerName}: ${conn.rx.length} queue(s), ring ${conn.tx[0]!.queue.size}, ${flags.size}-byte frames, ${describeRun(run)}, ${flags.mode}`);
    if (!(await warmUp(conn, flags.size!))) throw new Error(`${peerName} echoed nothing within 10 s: is it forwarding?`);
    // Ctrl-C stops the traffic and prints what was measured; a second one quits at once.
    const t0 = performance.now();
    const r = await untilInterrupted(
      () => console.error(`${progress ? '\n' : ''}interrupted: waiting for the packets in flight (Ctrl-C again to quit at once)`),
      (signal) => runEchoTraffic(conn, {
        size: flags.size!, ...run, burst: flags.burst, mode: flags.mode as 'polling', signal,
        onProgress: progress ? ({ rx }) => process.stderr.write(`\r  ${progressBar(run, rx, performance.now() - t0)}`) : undefined,
      }));
    if (progress) process.stderr.write('\n');
    if (flags.json) {
      console.log(JSON.stringify({
        peer: flags.peer, role, size: flags.size, queues: conn.rx.length, mode: flags.mode,
        tx: r.tx, rx: r.rx, lost: r.lost, corrupted: r.corrupted, warmupMs: run.warmupMs, seconds: round(r.seconds, 6),
        mpps: round(r.mpps, 4), gbps: round(r.gbps, 4), ...(r.firstError ? { error: r.firstError } : {}),
        ...(r.interrupted ? { interrupted: true } : {}),
      }));
    } else {
      printTable(peerName, role, flags.size!, run, r);
    }
    // Interrupted: the figures are printed, the exit status is a shell's for SIGINT.
    if (r.interrupted) return 130;
    return r.lost || r.corrupted || r.rx === 0 ? 1 : 0;
  } finally {
    (iface as MemifInterface | null)?.close('perf run finished');
    await (peer as { stop(): Promise<unknown> } | null)?.stop();
    tmp?.remove();
  }
}

async function startSelfPeer(socket: string, role: 'master' | 'slave', f: { id?: number; secret?: string; queues?: number; mode?: string; 'allow-unsealed-regions'?: boolean }) {
  const mainJs = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
  const args = [mainJs, 'memif', 'echo', '--socket', socket, '--role', role, '--id', String(f.id ?? 0),
    '--queues', String(f.queues ?? 1), '--rx-mode', f.mode ?? 'polling', '--stats-interval', '0'];
  if (f.secret) args.push('--secret', f.secret);
  if (f['allow-unsealed-regions']) args.push('--allow-unsealed-regions');
  const proc: Proc = startProc({ name: 'tsvpp-echo', cmd: process.execPath, args });
  await proc.waitFor(role === 'master' ? /listening:/ : /connecting:/, 15_000);
  return { describe: `tsvpp memif echo (${role}, pid ${proc.pid})`, stop: () => proc.stop() };
}

async function startDpdkPeer(socket: string, role: 'master' | 'slave', f: { id?: number; secret?: string; queues?: number; size?: number; burst?: number }) {
  const { startTestpmd } = await import('../../perf/peers/testpmd.js');
  const pmd = await startTestpmd({
    role: role === 'master' ? 'server' : 'client', socket, id: f.id, secret: f.secret, forwardMode: 'macswap',
    queues: f.queues, burst: f.burst, mbufSize: f.size! > 1900 ? f.size! + 256 : undefined,
    // A client is "ready" once connected, which needs our master listening already.
  });
  return { describe: `DPDK testpmd macswap (${role === 'master' ? 'server' : 'client'})`, stop: () => pmd.stop() };
}

/** How far the run is: packets echoed of the count, or time of warm-up + timed part. */
const progressBar = (run: Run, rx: number, ms: number): string => run.packets !== undefined
  ? `${bar(rx / run.packets)} ${rx}/${run.packets}`
  : `${bar(ms / (run.warmupMs + run.durationMs))} ${rx}`;

function bar(frac: number): string {
  const w = 30;
  const n = Math.max(0, Math.min(w, Math.round(frac * w)));
  return `[${'#'.repeat(n)}${'.'.repeat(w - n)}]`;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** What ends a run: a packet count (all timed), or a time after an untimed warm-up. */
type Run = { packets: number; warmupMs: 0; durationMs?: undefined } | { packets?: undefined; warmupMs: number; durationMs: number };

const describeRun = (run: Run): string => run.packets !== undefined
  ? `${run.packets} packets`
  : `${run.warmupMs / 1000} s warm-up, then ${run.durationMs / 1000} s timed`;

function printTable(peer: string, role: string, size: number, run: Run, r: TrafficResult): void {
  const sent = !r.interrupted ? String(r.tx) : run.packets !== undefined ? `${r.tx} of ${run.packets} (interrupted)` : `${r.tx} (interrupted)`;
  const rows: [string, string][] = [
    ['peer', peer], ['this end', role], ['frame size', `${size} B`],
    ['sent', sent], ['echoed', String(r.rx)], ['lost', String(r.lost)], ['corrupted', String(r.corrupted)],
    ['time', run.warmupMs > 0 ? `${r.seconds.toFixed(3)} s timed (after ${run.warmupMs / 1000} s of warm-up, checked but not timed)` : `${r.seconds.toFixed(3)} s`],
    ['rate', `${r.mpps.toFixed(3)} Mpps`], ['throughput', `${r.gbps.toFixed(3)} Gbit/s`],
  ];
  if (r.firstError) rows.push(['first error', r.firstError]);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}
