// A real VPP for the perf harness, through scripts/vpp-peer.sh (the one place that knows VPP's
// startup.conf): an instance of its own (runtime dir, API socket, api-segment prefix). For the
// client benchmark without poll-sleep-usec (its main loop answers at once) and its threads on the
// peer CPU; for the CNI latency with the script's default poll-sleep-usec, unpinned, as VPP runs
// on a node that does not give it a core. It runs an installed VPP (TSVPP_VPP=PREFIX); the project
// does not build VPP.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { canPin } from '../harness/machine.js';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, HERE.includes('/dist/') ? '../../..' : '../..');
const SCRIPT = resolve(ROOT, 'scripts', 'vpp-peer.sh');

export interface VppPeer {
  name: string;
  prefix: string;
  pid: number;
  version: string;
  apiSocket: string;
  apiDir: string;
  stop(): Promise<void>;
}

export interface VppPeerOptions {
  /** The CPU its threads go to when taskset is there (default 0); false: not pinned. */
  cpu?: number | false;
  /** unix { poll-sleep-usec }: 0 (the default here) spins; 'script default' leaves scripts/vpp-peer.sh's. */
  pollSleepUsec?: number | 'script default';
  /** Worker threads (default 0: the main thread forwards). VPP pins them itself (main on CPU 0, worker i on CPU i), so `cpu` must be false. */
  workers?: number;
}

/** Starts VPP from the install at prefix as instance `name`. */
export async function startVppPeer(prefix: string, name: string, o: VppPeerOptions = {}): Promise<VppPeer> {
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} is missing: it starts and stops VPP instances`);
  const cpu = o.cpu ?? 0, sleep = o.pollSleepUsec ?? 0, workers = o.workers ?? 0;
  if (workers > 0 && cpu !== false) throw new Error('startVppPeer: with workers VPP pins its threads itself; pass cpu: false');
  let info: { pid: number; version: string; apiSocket: string; apiDir: string };
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start', prefix, name, ...(sleep === 'script default' ? [] : ['--poll-sleep-usec', String(sleep)]), ...(workers > 0 ? ['--workers', String(workers)] : [])], { maxBuffer: 1 << 20 });
    info = JSON.parse(stdout.trim().split('\n').pop()!);
  } catch (e) {
    const x = e as { stderr?: string; message: string };
    throw new Error(`starting VPP from ${prefix} failed: ${x.stderr?.trim() || x.message}`);
  }
  const stop = async (): Promise<void> => { await run('bash', [SCRIPT, 'stop', prefix, name]); };
  if (canPin && cpu !== false) {
    try {
      await run('taskset', ['-a', '-p', '-c', String(cpu), String(info.pid)]);
    } catch (e) {
      await stop();
      throw new Error(`pinning VPP (pid ${info.pid}) to CPU ${cpu} failed: ${(e as Error).message}`);
    }
  }
  return { name, prefix, pid: info.pid, version: info.version, apiSocket: info.apiSocket, apiDir: info.apiDir, stop };
}

/** stop() for exit handlers, where only synchronous work is possible. */
export function stopVppPeerSync(p: VppPeer): void {
  spawnSync('bash', [SCRIPT, 'stop', p.prefix, p.name], { stdio: 'ignore' });
}
