// Fault: kill -9 of the memif peer in the middle of traffic.
//
// - we are master (peer = slave): our side must notice, free the connection (fds and memfd
//   mappings back to what they were before the peer first connected), keep listening, and accept
//   the restarted peer;
// - we are slave (peer = master): our side must notice and reconnect by itself once the peer is
//   back on the same socket path.
// After every reconnect a sequence-checked echo run must show nothing lost, duplicated or corrupted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, memifErrorName, type DisconnectInfo, type MemifConnection } from '../../src/memif/index.js';
import { runEchoTraffic, warmUp } from '../memif/traffic.js';
import { once, sleep, type Log, type SoakReport } from './common.js';
import { primeChildProcess, sample, type Sample } from './measure.js';
import { startEchoPeer, type EchoPeer, type PeerKind } from './peers.js';

export interface KillPeerOptions {
  peer: PeerKind;
  /** Our role(s). Default both. */
  roles?: Array<'master' | 'slave'>;
  /** Kill/restart rounds per role. */
  rounds: number;
  /** Packets in the clean run after each reconnect. */
  packets: number;
  log?: Log;
}

async function cleanRun(conn: MemifConnection, packets: number, what: string, problems: string[]): Promise<number> {
  if (!(await warmUp(conn, 64))) { problems.push(`${what}: the peer echoed nothing after reconnecting`); return 0; }
  const r = await runEchoTraffic(conn, { size: 64, packets, idleTimeoutMs: 5000 });
  if (r.lost || r.corrupted || r.rx !== packets) problems.push(`${what}: sent ${r.tx}, echoed ${r.rx}, lost ${r.lost}, corrupted ${r.corrupted}${r.firstError ? ` (${r.firstError})` : ''}`);
  return r.rx;
}

export async function runKillPeer(o: KillPeerOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const figures: Record<string, number | string> = { peer: o.peer, rounds: o.rounds };
  await primeChildProcess();
  for (const role of o.roles ?? ['master', 'slave'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'tsvpp-soak-kill-'));
    const socket = join(dir, 'memif.sock');
    const peerRole = role === 'master' ? 'slave' : 'master';
    let peer: EchoPeer | null = null;
    let iface: MemifInterface | null = null;
    let checked = 0, killedMidTraffic = 0;
    const reconnectMs: number[] = [];
    try {
      // A master listens first; a slave needs its master first (otherwise it just retries).
      let before: Sample;
      if (role === 'master') {
        iface = new MemifInterface({ socket, role, id: 0, ifName: 'soak-kill' });
        before = await sample();
        peer = await startEchoPeer(o.peer, socket, peerRole);
      } else {
        peer = await startEchoPeer(o.peer, socket, peerRole);
        before = await sample();
        iface = new MemifInterface({ socket, role, id: 0, reconnectMs: 50, ifName: 'soak-kill' });
        iface.on('connect-failed', () => {});
      }
      let conn = await iface.waitConnected(30_000);
      checked += await cleanRun(conn, o.packets, `${role} round 0`, problems);
      for (let round = 1; round <= o.rounds; round++) {
        // Traffic that outlasts the kill; what it reports is not checked (packets in flight die
        // with the peer), only that no packet came back corrupted or twice before the kill.
        const down = once<DisconnectInfo>(iface, 'disconnected', 15_000, `our ${role} noticing the peer's death`);
        const traffic = runEchoTraffic(conn, { size: 64, packets: 1e9, idleTimeoutMs: 20_000 });
        await sleep(150 + Math.floor(Math.random() * 200));
        await peer.kill9();
        const info = await down;
        const mid = await traffic;
        if (mid.tx > 0) killedMidTraffic++;
        if (mid.corrupted) problems.push(`${role} round ${round}: traffic before the kill had ${mid.corrupted} corrupted/duplicated (${mid.firstError})`);
        if (iface.connection) problems.push(`${role} round ${round}: connection still set after the peer died`);
        if (round === 1) figures[`${role}: disconnect code after kill -9`] = `${memifErrorName(info.code)}: ${info.reason}`;
        if (role === 'master') {
          // Freed: fds and mappings as before the peer ever connected.
          await sleep(20);
          const s = await sample();
          if (s.fds !== before.fds || s.memfdMaps !== before.memfdMaps) {
            problems.push(`${role} round ${round}: after the peer died, fds ${before.fds} -> ${s.fds}, memfd mappings ${before.memfdMaps} -> ${s.memfdMaps}`);
          }
        }
        const tRestart = Date.now();
        peer = await startEchoPeer(o.peer, socket, peerRole);
        conn = await iface.waitConnected(30_000);
        reconnectMs.push(Date.now() - tRestart);
        checked += await cleanRun(conn, o.packets, `${role} round ${round}`, problems);
        log(`${o.peer}, we are ${role}: round ${round}/${o.rounds} ok (${mid.tx} sent before the kill)`);
      }
      if (killedMidTraffic !== o.rounds) problems.push(`${role}: only ${killedMidTraffic}/${o.rounds} kills hit running traffic`);
      figures[`${role}: packets checked after reconnects`] = checked;
      figures[`${role}: reconnect ms (peer start to connected), max`] = Math.max(...reconnectMs);
    } catch (e) {
      problems.push(`we are ${role}: ${(e as Error).message}`);
    } finally {
      iface?.close('soak done');
      await peer?.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { scenario: `memif-kill-peer (${o.peer})`, ok: problems.length === 0, figures, problems, seconds: (Date.now() - t0) / 1000 };
}
