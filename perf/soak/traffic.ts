// Long run: N sequence-checked packets through memif to an echoing peer (tsvpp memif echo in
// another process, or DPDK testpmd macswap); zero lost, zero corrupted, nothing duplicated.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface } from '../../src/memif/index.js';
import { runEchoTraffic, warmUp } from '../memif/traffic.js';
import type { Log, SoakReport } from './common.js';
import { compare, sample } from './measure.js';
import { startEchoPeer, type EchoPeer, type PeerKind } from './peers.js';

export interface LongTrafficOptions {
  peer: PeerKind;
  packets: number;
  size?: number;
  role?: 'master' | 'slave';
  log?: Log;
}

export async function runLongTraffic(o: LongTrafficOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const role = o.role ?? 'slave';
  const size = o.size ?? 64;
  const figures: Record<string, number | string> = { peer: o.peer, role, size, packets: o.packets };
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-soak-traffic-'));
  const socket = join(dir, 'memif.sock');
  let peer: EchoPeer | null = null;
  let iface: MemifInterface | null = null;
  try {
    if (role === 'master') iface = new MemifInterface({ socket, role, id: 0, ifName: 'soak-traffic' });
    peer = await startEchoPeer(o.peer, socket, role === 'master' ? 'slave' : 'master');
    iface ??= new MemifInterface({ socket, role, id: 0, ifName: 'soak-traffic' });
    const conn = await iface.waitConnected(30_000);
    if (!(await warmUp(conn, size))) throw new Error(`${peer.describe} echoed nothing within 10 s`);
    // A first slice touches every shared buffer and warms the JIT; RSS is compared from its end
    // to the end of the run, so growth means something accumulates per packet.
    const first = Math.min(Math.floor(o.packets / 10), 1_000_000);
    let lastLog = 0;
    const progress = (done: number) => ({ tx, rx }: { tx: number; rx: number }) => {
      if (Date.now() - lastLog > 10_000) { lastLog = Date.now(); log(`memif-traffic: ${done + rx}/${o.packets} echoed (${done + tx} sent)`); }
    };
    const r1 = first > 0 ? await runEchoTraffic(conn, { size, packets: first, idleTimeoutMs: 5000, onProgress: progress(0) }) : null;
    const before = await sample();
    const r2 = await runEchoTraffic(conn, { size, packets: o.packets - first, idleTimeoutMs: 5000, onProgress: progress(first) });
    const after = await sample();
    const r = r1 ? {
      tx: r1.tx + r2.tx, rx: r1.rx + r2.rx, lost: r1.lost + r2.lost, corrupted: r1.corrupted + r2.corrupted,
      seconds: r1.seconds + r2.seconds, firstError: r1.firstError ?? r2.firstError, mpps: 0,
    } : { ...r2 };
    r.mpps = r.rx / r.seconds / 1e6;
    Object.assign(figures, { sent: r.tx, echoed: r.rx, lost: r.lost, corrupted: r.corrupted, mpps: Number(r.mpps.toFixed(3)), 'run seconds': Number(r.seconds.toFixed(1)) });
    if (r.lost || r.corrupted || r.rx !== o.packets) problems.push(`sent ${r.tx}, echoed ${r.rx} of ${o.packets}, lost ${r.lost}, corrupted ${r.corrupted}${r.firstError ? `: ${r.firstError}` : ''}`);
    const c = compare(before, after);
    figures['fd delta'] = c.fdDelta;
    figures['RSS delta MiB'] = Number(c.rssDeltaMiB.toFixed(2));
    problems.push(...c.problems);
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    iface?.close('soak done');
    await peer?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return { scenario: `memif-traffic (${o.peer})`, ok: problems.length === 0, figures, problems, seconds: (Date.now() - t0) / 1000 };
}
