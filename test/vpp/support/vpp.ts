// Real VPP instances for the test:vpp suite, started and stopped through scripts/vpp-peer.sh (the
// one place that knows VPP's startup.conf). TSVPP_VPP is the install prefix; without it every test
// file fails at once. Instances are named t<pid>x<n> so the runner can stop what a crashed test
// process left behind; this process also stops its instances when it exits.
import { execFile, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiRegistry } from '../../../src/vppapi/codec/index.js';
import { VppClient, type VppClientOptions } from '../../../src/vppapi/client/index.js';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url)); // dist/test/vpp/support
export const REPO = resolve(HERE, '../../../..');
const SCRIPT = resolve(REPO, 'scripts/vpp-peer.sh');

export function vppPrefix(): string {
  const p = process.env.TSVPP_VPP;
  if (!p) throw new Error('TSVPP_VPP is not set: the real-VPP tests need a VPP install prefix (npm run test:vpp says how to get one)');
  return p;
}

export interface VppInfo {
  name: string;
  pid: number;
  version: string;
  runtimeDir: string;
  apiSocket: string;
  cliSocket: string;
  statsSocket: string;
  memifSocket: string;
  log: string;
  netns: string;
  apiDir: string;
}

export interface VppStartOptions {
  /** Run VPP inside this network namespace (af_packet attaches to its links). */
  netns?: string;
  pollSleepUsec?: number;
}

let counter = 0;
const running = new Set<Vpp>();

function stopSync(name: string): void {
  spawnSync('bash', [SCRIPT, 'stop', vppPrefix(), name], { stdio: 'ignore' });
}
process.on('exit', () => { for (const v of running) stopSync(v.name); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => { for (const v of running) stopSync(v.name); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
}

const registries = new Map<string, ApiRegistry>();

export class Vpp {
  readonly name = `t${process.pid}x${++counter}`;
  info!: VppInfo;
  private constructor(readonly opts: VppStartOptions) {}

  static async start(opts: VppStartOptions = {}): Promise<Vpp> {
    const v = new Vpp(opts);
    await v.launch();
    return v;
  }

  private async launch(): Promise<void> {
    const args = [SCRIPT, 'start', vppPrefix(), this.name];
    if (this.opts.netns) args.push('--netns', this.opts.netns);
    if (this.opts.pollSleepUsec !== undefined) args.push('--poll-sleep-usec', String(this.opts.pollSleepUsec));
    running.add(this);
    try {
      const { stdout } = await run('bash', args, { maxBuffer: 1 << 20 });
      this.info = JSON.parse(stdout.trim().split('\n').pop()!) as VppInfo;
    } catch (e) {
      running.delete(this);
      const x = e as { stderr?: string; message: string };
      throw new Error(`starting VPP ${this.name} failed: ${x.stderr?.trim() || x.message}`);
    }
  }

  get apiSocket(): string { return this.info.apiSocket; }
  get memifSocket(): string { return this.info.memifSocket; }

  /** The .api.json definitions this VPP installed. */
  registry(): ApiRegistry {
    let r = registries.get(this.info.apiDir);
    if (!r) { r = ApiRegistry.fromDir(this.info.apiDir); registries.set(this.info.apiDir, r); }
    return r;
  }

  connect(o: Partial<VppClientOptions> = {}): Promise<VppClient> {
    return VppClient.connect({ socket: this.apiSocket, registry: this.registry(), name: 'tsvpp-test', reconnect: false, ...o });
  }

  /** A CLI command through vppctl; throws when VPP's answer is a CLI error. */
  async cli(command: string): Promise<string> {
    try {
      const { stdout } = await run('bash', [SCRIPT, 'cli', vppPrefix(), this.name, ...command.split(/\s+/)], { maxBuffer: 16 << 20 });
      return stdout;
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`vppctl ${command}: ${(x.stdout ?? '') + (x.stderr ?? '') || x.message}`.trim());
    }
  }

  /** SIGTERM and removal of everything the instance had (runtime dir, /dev/shm files). */
  async stop(): Promise<void> {
    if (!running.has(this)) return;
    await run('bash', [SCRIPT, 'stop', vppPrefix(), this.name]);
    running.delete(this);
  }

  /** Stop and start again with the same name, sockets and namespace: a VPP restart (`whileDown` runs in between). */
  async restart(whileDown?: () => Promise<void>): Promise<void> {
    await this.stop();
    await whileDown?.();
    await this.launch();
  }
}
