// memif connect/disconnect cycles: each cycle connects, passes one packet, and disconnects, in
// every combination of (our role) × (which end initiates) × (peer in this process or in another
// one). Afterwards open fds and memfd mappings must be back where they were and RSS within a
// tolerance — in both processes.
//
// Variants (names used in figures): in-process: both endpoints here, `slave-initiates` /
// `master-initiates`; cross-process: `we-master/we-initiate`, `we-master/peer-initiates`,
// `we-slave/we-initiate`, `we-slave/peer-initiates`, the peer being perf/soak/cycle-peer.js.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, type MemifConnection } from '../../src/memif/index.js';
import { MemifEcho } from '../../src/memif/echo.js';
import { startProc, type Proc } from '../peers/procs.js';
import { CYCLE_PEER, once, type Log, type SoakReport, soakReport } from './common.js';
import { compare, primeChildProcess, sample, RSS_TOLERANCE, type Sample } from './measure.js';
import { pingOnce } from './ping.js';

export interface CycleOptions {
  cycles: number;
  /** Which variants to run (default all six). */
  variants?: string[];
  log?: Log;
  rssToleranceBytes?: number;
}

export const CYCLE_VARIANTS = [
  'in-process/slave-initiates', 'in-process/master-initiates',
  'we-master/we-initiate', 'we-master/peer-initiates', 'we-slave/we-initiate', 'we-slave/peer-initiates',
] as const;

interface Variant {
  /** The interface in this process that we ping from and watch. */
  ours: MemifInterface;
  /** Makes the chosen end disconnect. */
  initiate(): void;
  /** Samples the peer process (cross-process variants). */
  peerSample?(): Promise<Sample>;
  close(): Promise<void>;
}

async function peerSample(p: Proc): Promise<Sample> {
  const from = p.outputLength;
  process.kill(p.pid, 'SIGUSR2');
  const m = await p.waitFor(/SAMPLE (\{[^\n]*\})\n/, 5000, from);
  return JSON.parse(m[1]!) as Sample;
}

async function setUp(name: string, socket: string): Promise<Variant> {
  if (name.startsWith('in-process/')) {
    const master = new MemifInterface({ socket, role: 'master', id: 0, ifName: 'cyc-master' });
    const slave = new MemifInterface({ socket, role: 'slave', id: 0, reconnectMs: 1, ifName: 'cyc-slave' });
    slave.on('connect-failed', () => {});
    const echo = new MemifEcho(master, { mode: 'interrupt' });
    const initiator = name.endsWith('slave-initiates') ? slave : master;
    return {
      ours: slave,
      initiate: () => initiator.disconnect('cycle'),
      async close() { echo.close(); slave.close(); master.close(); },
    };
  }
  const weMaster = name.startsWith('we-master');
  const peer = startProc({ name: 'cycle-peer', cmd: process.execPath, args: ['--expose-gc', CYCLE_PEER, '--socket', socket, '--role', weMaster ? 'slave' : 'master', '--reconnect-ms', '1'] });
  await peer.waitFor(/READY/, 15_000);
  const ours = new MemifInterface({ socket, role: weMaster ? 'master' : 'slave', id: 0, reconnectMs: 1, ifName: 'cyc-ours' });
  ours.on('connect-failed', () => {});
  const weInitiate = name.endsWith('we-initiate');
  return {
    ours,
    initiate: () => { if (weInitiate) ours.disconnect('cycle'); else process.kill(peer.pid, 'SIGUSR1'); },
    peerSample: () => peerSample(peer),
    async close() {
      ours.close();
      const r = await peer.stop(5000);
      if (r.killed) throw new Error(`cycle peer did not exit on SIGINT:\n${peer.tail()}`);
    },
  };
}

export async function runCycles(o: CycleOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const figures: Record<string, number | string> = { cycles: o.cycles };
  const problems: string[] = [];
  const tol = o.rssToleranceBytes ?? RSS_TOLERANCE;
  const warm = Math.min(20, Math.max(1, Math.floor(o.cycles / 10)));
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-soak-cycles-'));
  // Lazily created singletons (the epoll reactor and its eventfd, the child-process signal pipe)
  // appear with the first variant; the all-closed check starts after the first one.
  let startAll: Sample | null = null;
  await primeChildProcess();
  try {
    for (const name of o.variants ?? CYCLE_VARIANTS) {
      const socket = join(dir, `${name.replace(/\W/g, '-')}.sock`);
      const v = await setUp(name, socket);
      const vt0 = Date.now();
      let base: Sample | null = null, peerBase: Sample | null = null;
      let ok = false;
      try {
        let conn: MemifConnection;
        for (let i = 0; i <= o.cycles + warm; i++) {
          conn = await v.ours.waitConnected(10_000);
          await pingOnce(conn, i);
          if (i === warm) { base = await sample(); peerBase = await v.peerSample?.() ?? null; }
          if (i === o.cycles + warm) break; // stay connected for the last sample
          const down = once(v.ours, 'disconnected', 10_000, `disconnect in cycle ${i}`);
          v.initiate();
          await down;
          if (i % 100 === 0) log(`${name}: cycle ${i}/${o.cycles + warm}`);
        }
        const after = await sample();
        const c = compare(base!, after, tol, `${name} (this process)`);
        problems.push(...c.problems);
        figures[`${name} fd delta`] = c.fdDelta;
        figures[`${name} RSS delta MiB`] = Number(c.rssDeltaMiB.toFixed(2));
        if (v.peerSample) {
          const pc = compare(peerBase!, await v.peerSample(), tol, `${name} (peer process)`);
          problems.push(...pc.problems);
          figures[`${name} peer fd delta`] = pc.fdDelta;
          figures[`${name} peer RSS delta MiB`] = Number(pc.rssDeltaMiB.toFixed(2));
        }
        figures[`${name} cycles/s`] = Number((o.cycles / ((Date.now() - vt0) / 1000)).toFixed(1));
        ok = true;
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message}`);
      } finally {
        await v.close().catch((e: Error) => problems.push(`${name}: close: ${e.message}`));
      }
      log(`${name}: ${ok ? 'done' : 'FAILED'}`);
      startAll ??= await sample();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Everything closed: fds back to what they were before any variant ran.
  await new Promise((r) => setTimeout(r, 50));
  const endAll = await sample();
  startAll ??= endAll;
  if (endAll.fds !== startAll.fds) problems.push(`after all variants closed: open fds ${startAll.fds} -> ${endAll.fds}`);
  if (endAll.memfdMaps !== startAll.memfdMaps) problems.push(`after all variants closed: memfd mappings ${startAll.memfdMaps} -> ${endAll.memfdMaps}`);
  figures['fds before/after all'] = `${startAll.fds}/${endAll.fds}`;
  return soakReport('memif-cycles', t0, figures, problems);
}
