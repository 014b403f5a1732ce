// Debian's containerd (scripts/system-deps.sh installs it, with runc) for tests and the perf CRI section:
// its own config, root, state and sockets in a temp dir, the CRI plugin required, runc with
// `restrict_oom_score_adj` (this VM's root cannot lower oom_score_adj), a sandbox image built here
// (an OCI image-layout tar whose one layer holds Debian's busybox-static) and imported with ctr.
// stop() removes what is left — sandboxes through CRI (so CNI DEL runs), tasks and containers
// through ctr — stops containerd, kills shims that outlived it, unmounts what is mounted under the
// dir and deletes it, and reports everything it had to clean up, so tests can assert it was nothing.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineProcesses, startProc, type Proc } from './procs.js';
import { CriClient } from './cri/client.js';
import { writeOciImage } from './oci-image.js';
import { tsvppCniShim } from '../../src/cni/invocation.js';
export const SANDBOX_IMAGE = 'localhost/tsvpp-test-sandbox:1';
const BUSYBOX = '/bin/busybox';
/** Debian's reference CNI plugins. */
export const DEBIAN_CNI_DIR = '/usr/lib/cni';

export interface RuntimeHandler { cniConfDir: string }

export interface ContainerdOptions {
  /** CNI configuration dir of the default runtime handler (runc). */
  cniConfDir: string;
  /** The CNI bin dir (loopback must be in it: containerd sets up lo with it). */
  cniBinDir: string;
  /** More runc handlers with their own CNI configuration dir (RunPodSandbox runtime_handler). */
  handlers?: Record<string, RuntimeHandler>;
  /** Pin pod netns under containerd's state dir (~88-byte CNI_NETNS paths) instead of /var/run/netns. */
  netnsUnderStateDir?: boolean;
  /** Seconds to wait for containerd and its CNI config (default 30). */
  startTimeoutS?: number;
  /** false: start() does not wait for a CNI config (something installs it later; see networkReady()). */
  awaitNetwork?: boolean;
}

export interface Leftovers { sandboxes: string[]; tasks: string[]; processes: string[]; mounts: string[]; netns: string[]; cgroups: string[] }

function run(file: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((res, rej) => execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
    if (err) rej(new Error(`\`${file} ${args.join(' ')}\` failed: ${stderr.trim() || err.message}`)); else res(stdout);
  }));
}

/** A CNI bin dir holding Debian's plugins by name plus `extra` executables (name → script text). */
export function makeCniBinDir(dir: string, debianPlugins: string[], extra: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  for (const p of debianPlugins) {
    const src = join(DEBIAN_CNI_DIR, p);
    if (!existsSync(src)) throw new Error(`${src} missing: install Debian's containernetworking-plugins (scripts/system-deps.sh)`);
    symlinkSync(src, join(dir, p));
  }
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text, { mode: 0o755 });
  return dir;
}

/**
 * tsvpp-cni as a CNI bin dir holds it: the shim deploy/daemonset.yaml's init container writes on
 * hosts (`tsvpp agent shim`), for the agent on `cniSocket`, with this checkout's node and build.
 */
export function tsvppCniWrapper(cniMain: string, cniSocket: string): string {
  return tsvppCniShim({ cniSocket, node: process.execPath, cniMain });
}

/** The test sandbox ("pause") image: busybox-static, running `sleep inf`. */
export async function buildSandboxImage(out: string): Promise<void> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} missing: install Debian's busybox-static (scripts/system-deps.sh)`);
  const rootfs = mkdtempSync(join(tmpdir(), 'tsvpp-sandbox-rootfs-'));
  try {
    mkdirSync(join(rootfs, 'bin'));
    copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
    for (const a of ['sh', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', a));
    await writeOciImage({ rootfs, name: SANDBOX_IMAGE, out, entrypoint: ['/bin/sleep', 'inf'] });
  } finally { rmSync(rootfs, { recursive: true, force: true }); }
}

function toml(s: string): string { return JSON.stringify(s); }

export class Containerd {
  readonly socket: string;
  readonly root: string;
  readonly state: string;
  readonly cri: CriClient;
  private proc?: Proc;
  private readonly netnsSeen = new Set<string>();

  /**
   * The cgroup everything of this containerd goes under (PodSandboxConfig.linux.cgroup_parent,
   * `ctr run --cgroup`), removed by stop(): runc's default parents would stay behind.
   */
  readonly cgroupParent = `/tsvpp-ctrd-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  private constructor(readonly dir: string, readonly o: ContainerdOptions) {
    this.socket = join(dir, 'containerd.sock');
    this.root = join(dir, 'root');
    this.state = join(dir, 'state');
    this.cri = new CriClient(this.socket);
  }

  /** Where pod netns are pinned (CNI_NETNS is a file in here). */
  get netnsDir(): string { return this.o.netnsUnderStateDir ? join(this.state, 'io.containerd.grpc.v1.cri/netns') : '/var/run/netns'; }

  static async start(o: ContainerdOptions): Promise<Containerd> {
    for (const bin of ['containerd', 'ctr', 'runc', 'containerd-shim-runc-v2']) {
      try { execFileSync('which', [bin], { stdio: 'ignore' }); } catch { throw new Error(`${bin} not found: install Debian's containerd and runc (scripts/system-deps.sh)`); }
    }
    const c = new Containerd(mkdtempSync(join(tmpdir(), 'tsvpp-ctrd-')), o);
    try {
      await c.boot();
      return c;
    } catch (e) {
      await c.stop().catch(() => undefined);
      throw e;
    }
  }

  private config(): string {
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const handlers = Object.entries(this.o.handlers ?? {}).map(([name, h]) => `
[${cri}.containerd.runtimes.${name}]
  runtime_type = "io.containerd.runc.v2"
  cni_conf_dir = ${toml(h.cniConfDir)}
  cni_max_conf_num = 1`).join('\n');
    return `version = 2
root = ${toml(this.root)}
state = ${toml(this.state)}
required_plugins = ["io.containerd.grpc.v1.cri"]
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.internal.v1.restart", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = ${toml(this.socket)}
[ttrpc]
  address = ${toml(`${this.socket}.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${toml(join(this.dir, 'opt'))}

[${cri}]
  sandbox_image = ${toml(SANDBOX_IMAGE)}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = ${this.o.netnsUnderStateDir ? 'true' : 'false'}
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[${cri}.cni]
  bin_dir = ${toml(this.o.cniBinDir)}
  conf_dir = ${toml(this.o.cniConfDir)}
  max_conf_num = 1
[${cri}.containerd]
  default_runtime_name = "runc"
[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
${handlers}
`;
  }

  private async boot(): Promise<void> {
    writeFileSync(join(this.dir, 'config.toml'), this.config());
    // The environment of a service (systemd gives containerd little more than PATH): CNI plugins
    // inherit containerd's, and this shell's (NODE_EXTRA_CA_CERTS, ...) is not what a node has.
    this.proc = startProc({ name: 'containerd', cmd: 'containerd', args: ['--config', join(this.dir, 'config.toml'), '--log-level', 'info'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    const timeout = (this.o.startTimeoutS ?? 30) * 1000;
    await this.proc.waitFor(/containerd successfully booted/, timeout);
    const image = join(this.dir, 'sandbox-image.tar');
    await buildSandboxImage(image);
    await this.ctr(['images', 'import', image]);
    if (this.o.awaitNetwork !== false) await this.networkReady();
  }

  /** Waits for NetworkReady: containerd has loaded a CNI configuration (it watches the conf dir). */
  async networkReady(timeoutMs = (this.o.startTimeoutS ?? 30) * 1000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.cri.status().catch((e: Error) => ({ error: { status: false, reason: 'Status failed', message: e.message } }));
      const net = (st as Record<string, { status: boolean; reason: string; message: string }>)['NetworkReady'];
      if (net?.status) return;
      if (Date.now() > deadline) throw new Error(`containerd: network not ready within ${timeoutMs} ms: ${JSON.stringify(st)}\n${this.log(20)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Runs ctr against this containerd (namespace k8s.io, the CRI's). */
  ctr(args: string[], namespace = 'k8s.io'): Promise<string> {
    return run('ctr', ['--address', this.socket, '--namespace', namespace, ...args]);
  }

  /** containerd's log so far (the CNI errors it logs, for failure messages). */
  log(lines = 40): string { return this.proc?.tail(lines) ?? ''; }

  /** The netns path containerd gave a sandbox (from the verbose status), remembered for stop(). */
  async netnsOf(sandboxId: string): Promise<string> {
    const st = await this.cri.podSandboxStatus(sandboxId, true);
    const info = JSON.parse(st.info['info'] ?? '{}') as { runtimeSpec?: { linux?: { namespaces?: Array<{ type: string; path?: string }> } } };
    const path = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
    if (!path) throw new Error(`sandbox ${sandboxId}: no network namespace path in its status`);
    this.netnsSeen.add(path);
    return path;
  }

  /** The CNI result containerd keeps for a sandbox (verbose status), as the plugins returned it. */
  async cniResultOf(sandboxId: string): Promise<{ Interfaces?: Record<string, { IPConfigs?: Array<{ IP: string; Gateway: string }> }> } | undefined> {
    const st = await this.cri.podSandboxStatus(sandboxId, true);
    return (JSON.parse(st.info['info'] ?? '{}') as { cniResult?: never }).cniResult;
  }

  private shims(): string[] {
    return machineProcesses().filter((p) => { const cmd = p.argv.join(' '); return cmd.includes('containerd-shim') && cmd.includes(this.socket); }).map((p) => String(p.pid));
  }

  /** Removes the cgroup parent in every hierarchy; returns the child cgroups that were still there. */
  private removeCgroups(): string[] {
    const left: string[] = [];
    const rmTree = (d: string, top: boolean) => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(d, e.name), false);
      if (!top) left.push(d);
      try { rmdirSync(d); } catch { /* busy: reported */ }
    };
    for (const h of readdirSync('/sys/fs/cgroup')) {
      const d = join('/sys/fs/cgroup', h, this.cgroupParent);
      if (existsSync(d)) rmTree(d, true);
    }
    return left;
  }

  private mounts(): string[] {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(this.dir + '/'));
  }

  /** Removes what is left, stops containerd, deletes its dir; returns what had to be cleaned up. */
  async stop(): Promise<Leftovers> {
    const left: Leftovers = { sandboxes: [], tasks: [], processes: [], mounts: [], netns: [], cgroups: [] };
    if (this.proc?.running) {
      for (const s of await this.cri.listPodSandbox().catch(() => [])) {
        left.sandboxes.push(`${s.metadata.namespace}/${s.metadata.name} ${s.id}`);
        await this.netnsOf(s.id).catch(() => undefined);
        await this.cri.stopPodSandbox(s.id).catch(() => undefined);
        await this.cri.removePodSandbox(s.id).catch(() => undefined);
      }
      for (const ns of ['k8s.io', 'default']) {
        const tasks = (await this.ctr(['tasks', 'list', '--quiet'], ns).catch(() => '')).split('\n').filter(Boolean);
        for (const t of tasks) {
          left.tasks.push(`${ns}/${t}`);
          await this.ctr(['tasks', 'kill', '--signal', 'SIGKILL', t], ns).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 200));
          await this.ctr(['tasks', 'delete', '--force', t], ns).catch(() => undefined);
        }
        for (const c of (await this.ctr(['containers', 'list', '--quiet'], ns).catch(() => '')).split('\n').filter(Boolean)) {
          await this.ctr(['containers', 'delete', c], ns).catch(() => undefined);
        }
      }
    }
    this.cri.close();
    await this.proc?.stop(10_000);
    for (const pid of this.shims()) {
      left.processes.push(`shim ${pid}`);
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    for (const m of this.mounts().reverse()) {
      left.mounts.push(m);
      try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    for (const ns of this.netnsSeen) {
      if (!existsSync(ns)) continue;
      left.netns.push(ns);
      try { execFileSync('umount', ['-l', ns], { stdio: 'ignore' }); } catch { /* not mounted */ }
      rmSync(ns, { force: true });
    }
    left.cgroups = this.removeCgroups();
    rmSync(this.dir, { recursive: true, force: true });
    return left;
  }
}
