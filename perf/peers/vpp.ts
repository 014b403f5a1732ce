// A real VPP for the perf harness, through scripts/vpp-peer.sh (the one place that knows VPP's
// startup.conf): an instance of its own (runtime dir, API socket, api-segment prefix), without
// poll-sleep-usec (so its main loop answers at once), its threads on the peer CPU of the client
// benchmark. It runs an installed VPP (TSVPP_VPP=PREFIX); the project does not build VPP.
import { execFile } from 'node:child_process';
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
  pid: number;
  version: string;
  apiSocket: string;
  apiDir: string;
  stop(): Promise<void>;
}

/** Starts VPP from the install at prefix as instance `name`; its threads go to `cpu` when taskset is there. */
export async function startVppPeer(prefix: string, name: string, cpu = 0): Promise<VppPeer> {
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} is missing: it starts and stops VPP instances`);
  let info: { pid: number; version: string; apiSocket: string; apiDir: string };
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start', prefix, name, '--poll-sleep-usec', '0'], { maxBuffer: 1 << 20 });
    info = JSON.parse(stdout.trim().split('\n').pop()!);
  } catch (e) {
    const x = e as { stderr?: string; message: string };
    throw new Error(`starting VPP from ${prefix} failed: ${x.stderr?.trim() || x.message}`);
  }
  const stop = async (): Promise<void> => { await run('bash', [SCRIPT, 'stop', prefix, name]); };
  if (canPin) {
    try {
      await run('taskset', ['-a', '-p', '-c', String(cpu), String(info.pid)]);
    } catch (e) {
      await stop();
      throw new Error(`pinning VPP (pid ${info.pid}) to CPU ${cpu} failed: ${(e as Error).message}`);
    }
  }
  return { name, pid: info.pid, version: info.version, apiSocket: info.apiSocket, apiDir: info.apiDir, stop };
}
