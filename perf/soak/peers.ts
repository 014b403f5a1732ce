// Echoing memif peers for the soak and fault scenarios: `tsvpp memif echo` in a child process, or
// DPDK testpmd in macswap mode. Both are killable with SIGKILL mid-traffic and restartable on the
// same socket. startTestpmd throws (naming the packages to install) when testpmd cannot start.
import { startProc, type Proc } from '../peers/procs.js';
import { TSVPP_MAIN } from './common.js';

export type PeerKind = 'self' | 'dpdk';

export interface EchoPeer {
  kind: PeerKind;
  /** The peer's memif role. */
  role: 'master' | 'slave';
  pid: number;
  describe: string;
  /** SIGKILL; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** A clean stop (SIGINT, then SIGKILL). */
  stop(): Promise<void>;
  /** Output cursor + wait for the peer to report a connection after it. */
  outputLength(): number;
  waitConnected(timeoutMs: number, from?: number): Promise<void>;
}

async function killAndWait(p: Proc): Promise<void> {
  if (!p.running) return;
  process.kill(p.pid, 'SIGKILL');
  if (!(await p.waitExit(10_000))) throw new Error(`${p.name} (pid ${p.pid}) still running 10 s after SIGKILL`);
}

export async function startEchoPeer(kind: PeerKind, socket: string, role: 'master' | 'slave', queues = 1): Promise<EchoPeer> {
  if (kind === 'self') {
    const proc = startProc({
      name: 'tsvpp-echo', cmd: process.execPath,
      args: [TSVPP_MAIN, 'memif', 'echo', '--socket', socket, '--role', role, '--queues', String(queues), '--stats-interval', '0'],
    });
    await proc.waitFor(role === 'master' ? /listening:/ : /connecting:/, 15_000);
    return {
      kind, role, pid: proc.pid, describe: `tsvpp memif echo (${role}, pid ${proc.pid})`,
      kill9: () => killAndWait(proc),
      stop: async () => { await proc.stop(5000); },
      outputLength: () => proc.outputLength,
      waitConnected: async (ms, from = 0) => { await proc.waitFor(/connected: peer/, ms, from); },
    };
  }
  const { startTestpmd } = await import('../peers/testpmd.js');
  const pmd = await startTestpmd({ role: role === 'master' ? 'server' : 'client', socket, forwardMode: 'macswap', queues });
  return {
    kind, role, pid: pmd.proc.pid, describe: `dpdk-testpmd macswap (${role === 'master' ? 'server' : 'client'}, pid ${pmd.proc.pid})`,
    kill9: async () => { await killAndWait(pmd.proc); await pmd.stop(1000); /* removes its runtime dir */ },
    stop: async () => { await pmd.stop(); },
    outputLength: () => pmd.proc.outputLength,
    waitConnected: async (ms, from = 0) => { await pmd.waitConnected(ms, from); },
  };
}
