// Pod sandbox latency through a real runtime: Debian's containerd + runc, CRI v1 RunPodSandbox,
// StopPodSandbox and RemovePodSandbox timed from this client, for tsvpp (tsvpp-cni → the agent in
// this process → the VPP emulator with real kernel taps, or a real VPP of its own: the vswitches
// and pod interfaces of latency-vswitch.ts) against Debian's `bridge` plugin (with
// host-local) in the same containerd and the same run: one containerd, tsvpp as the default
// runtime handler's network, bridge as a second handler's (containerd 1.6's per-handler
// cni_conf_dir). Each round starts one pod of every variant in a rotating order, then stops and
// removes them, so drift hits every variant alike. Needs root.
// Usage (alone): node dist/perf/harness/cri-latency.js [PODS] [--vpp PREFIX]
import { spawnSync } from 'node:child_process';
import { describeRcu } from './machine.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { deleteLinkIfExists } from '../../src/cni/linux/ip.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { Containerd, makeCniBinDir, tsvppCniWrapper } from '../peers/containerd.js';
import { grpcDetails, type PodSandboxConfig } from '../peers/cri/client.js';
import { onExitCleanup } from '../peers/procs.js';
import { latencyMs, type LatencyMs } from './cni-latency.js';
import { POD_INTERFACES, startLatencyVswitch, type LatencyVswitch, type StartedVswitch } from './latency-vswitch.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/perf/harness
const CNI_MAIN = resolve(HERE, '../../src/cni/cni-main.cjs');
/** deploy/'s conflist (the package ships deploy/): the capability and keys a node uses. */
const DEPLOY_CONFLIST = [resolve(HERE, '../../../deploy/10-tsvpp.conflist'), resolve(HERE, '../../deploy/10-tsvpp.conflist')].find((p) => existsSync(p)) ?? resolve(HERE, '../../../deploy/10-tsvpp.conflist');

/** The perf issue's goal: RunPodSandbox with tsvpp within this factor of `bridge`. */
export const CRI_RUN_GOAL_RATIO = 1.5;
const BRIDGE_HANDLER = 'bridge';
export const BRIDGE_LABEL = 'bridge (Debian, host-local)';

export interface CriVariant { label: string; handler: '' | typeof BRIDGE_HANDLER; customIf: string }
/** The networks of a run, bridge first (the reference), then tsvpp's eth0-only pod and its pod
 *  with three custom interfaces (the kinds `vswitch` has). */
export function criVariants(vswitch: LatencyVswitch['kind']): CriVariant[] {
  const three = POD_INTERFACES[vswitch].custom[3];
  return [
    { label: BRIDGE_LABEL, handler: BRIDGE_HANDLER, customIf: '' },
    { label: 'tsvpp eth0', handler: '', customIf: '' },
    { label: `tsvpp eth0 + ${three.map((s) => s.split('/')[1]).join(', ')}`, handler: '', customIf: three.join(', ') },
  ];
}

export interface CriLatencyRow { label: string; run: LatencyMs; stop: LatencyMs; remove: LatencyMs; errors: string[] }
export interface CriLatencyReport {
  /** "emulator", or "VPP <version>". */
  vswitch: string;
  pods: number;
  runtime: string;
  /** How the agent wired eth0 (eth0Kind auto on this machine). */
  eth0: string;
  rows: CriLatencyRow[];
  leftovers: Record<string, string[]>;
  /** The temp dirs this run made (its own and containerd's): gone when it returns. */
  tempDirs: string[];
}

/** null when this process can run containerd pods, else why not. */
export function criLatencySkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'the CRI pod latency section needs root (containerd, runc, network namespaces); run as root to include it';
  for (const b of ['/usr/bin/containerd', '/usr/sbin/runc', '/usr/lib/cni/bridge']) {
    if (!existsSync(b)) return `${b} is missing: install Debian's containerd, runc and containernetworking-plugins (bash scripts/system-deps.sh)`;
  }
  return null;
}

/** Ratio of tsvpp's median to bridge's for one operation (NaN when either is missing). */
export function ratioToBridge(r: CriLatencyReport, label: string, op: 'run' | 'stop' | 'remove'): number {
  const b = r.rows.find((x) => x.label === BRIDGE_LABEL)?.[op].p50;
  const t = r.rows.find((x) => x.label === label)?.[op].p50;
  return b && t ? t / b : NaN;
}

class CriRig {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsvpp-perf-cri-'));
  readonly rnd = randomBytes(3).toString('hex');
  readonly bridge = `tsvbr${this.rnd}`;
  readonly config: AgentConfig;
  readonly variants: CriVariant[];
  vs?: StartedVswitch;
  agent?: Agent;
  ctrd?: Containerd;
  private readonly unregisterExit = onExitCleanup(() => {
    this.vs?.stopSync();
    spawnSync('ip', ['link', 'del', this.bridge], { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  });

  constructor(readonly target: LatencyVswitch) {
    this.variants = criVariants(target.kind);
    this.config = {
      ...DEFAULT_CONFIG,
      // memifSocketDir short enough for <dir>/<containerd's 64-character sandbox id>/memif.sock
      // to fit a socket path VPP binds (MEMIF_SOCKET_DIR_MAX_BYTES).
      stateDir: join(this.dir, 'state'), memifSocketDir: join(this.dir, 'm'), cniSocket: join(this.dir, 'cni.sock'),
      vppApiSocket: join(this.dir, 'api.sock'), podManifests: join(this.dir, 'manifests'), nodeName: 'cri-latency-node', maxCustomInterfaces: 4,
      eth0Kind: POD_INTERFACES[target.kind].eth0,
    };
  }

  async start(): Promise<void> {
    mkdirSync(this.config.podManifests!);
    writeFileSync(join(this.config.podManifests!, 'node.yaml'), nodeManifest({ name: this.config.nodeName, internalIp: '192.0.2.8', podCIDR: '10.1.8.0/24' }));
    // The memif count is a resource limit: the pod source has it (annotations come from containerd).
    writeFileSync(join(this.config.podManifests!, 'pods.yaml'), this.variants.map((v, i) => `apiVersion: v1
kind: Pod
metadata: { name: cri-lat-${i} }
spec:
  containers:
    - name: c
      image: x
      resources: { limits: { contivpp.io/memif: 1 } }
`).join('---\n'));
    this.vs = await startLatencyVswitch(this.target, { dir: this.dir, apiSocket: this.config.vppApiSocket, clientName: 'perf-cri-agent' });
    Object.assign(this.config, { vppApiSocket: this.vs.apiSocket, ...(this.vs.apiDir ? { vppApiDir: this.vs.apiDir } : {}) });
    this.agent = await startAgent(this.config, { vswitch: this.vs.vswitch, pods: new ManifestPodSource(this.config.podManifests!), log: () => {}, vhostNet: this.vs.vhostNet });
    const tsvppConf = join(this.dir, 'net.d'), bridgeConf = join(this.dir, 'net.d-bridge');
    mkdirSync(tsvppConf); mkdirSync(bridgeConf);
    const conflist = JSON.parse(readFileSync(DEPLOY_CONFLIST, 'utf8'));
    Object.assign(conflist.plugins[0], { agentSocket: this.config.cniSocket, agentStateDir: this.config.stateDir });
    writeFileSync(join(tsvppConf, '10-tsvpp.conflist'), JSON.stringify(conflist));
    writeFileSync(join(bridgeConf, '10-bridge.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'perf-bridge',
      plugins: [{ type: 'bridge', bridge: this.bridge, isGateway: true, ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: '10.223.0.0/24' }]], dataDir: join(this.dir, 'bridge-ipam') } }],
    }));
    const bin = makeCniBinDir(join(this.dir, 'bin'), ['loopback', 'bridge', 'host-local'], {
      'tsvpp-cni': tsvppCniWrapper(CNI_MAIN, this.config.cniSocket),
    });
    this.ctrd = await Containerd.start({ cniConfDir: tsvppConf, cniBinDir: bin, handlers: { [BRIDGE_HANDLER]: { cniConfDir: bridgeConf } } });
  }

  podConfig(i: number, v: CriVariant, round: number): PodSandboxConfig {
    return {
      metadata: { name: `cri-lat-${i}`, uid: `${this.rnd}-${round}-${i}`, namespace: 'default', attempt: round },
      hostname: `cri-lat-${i}`, log_directory: join(this.dir, 'logs'),
      annotations: v.customIf ? { 'contivpp.io/custom-if': v.customIf } : {},
      linux: { cgroup_parent: this.ctrd!.cgroupParent },
    };
  }

  async leftovers(): Promise<Record<string, string[]>> {
    const ls = (p: string) => { try { return readdirSync(p); } catch { return []; } };
    return {
      sandboxes: (await this.ctrd!.cri.listPodSandbox()).map((s) => `${s.metadata.name} ${s.id}`),
      'VPP pod interfaces': (this.vs ? await this.vs.interfaces() : []).filter((i) => i.tag.startsWith('tsvpp:')).map((i) => `${i.swIfIndex} ${i.tag}`),
      'pod records': ls(join(this.config.stateDir, 'pods')),
      'tsvpp leases': ls(join(this.config.stateDir, 'ipam', 'tsvpp-default')).filter((f) => /^\d/.test(f)),
      'bridge leases': ls(join(this.dir, 'bridge-ipam', 'perf-bridge')).filter((f) => /^\d/.test(f)),
    };
  }

  async close(): Promise<Record<string, string[]>> {
    const left = await this.ctrd?.stop().catch((e: Error) => ({ sandboxes: [`containerd stop failed: ${e.message}`] }));
    try { await this.agent?.close(); } catch { /* closed */ }
    await this.vs?.close();
    await deleteLinkIfExists(this.bridge).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
    this.unregisterExit();
    return Object.fromEntries(Object.entries(left ?? {}).map(([k, v]) => [`containerd ${k}`, v as string[]]));
  }
}

const firstLine = (s: string) => s.trim().split('\n')[0]!.slice(0, 200);
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/**
 * `pods` rounds; each runs one pod of every variant (order rotating), then stops and removes
 * them. A failed call is an error (its time is not a sample); what was started is still removed.
 */
export async function runCriLatency(o: { pods: number; vswitch?: LatencyVswitch; onRound?: (round: number, of: number) => void }): Promise<CriLatencyReport> {
  const why = criLatencySkipReason();
  if (why) throw new Error(why);
  const rig = new CriRig(o.vswitch ?? { kind: 'emulator' });
  const variants = rig.variants;
  const samples = variants.map(() => ({ run: [] as number[], stop: [] as number[], remove: [] as number[], errors: [] as string[] }));
  let left: Record<string, string[]> = {};
  let tempDirs: string[] = [];
  let runtime = '', eth0 = '';
  try {
    await rig.start();
    const cri = rig.ctrd!.cri;
    const v = await cri.version();
    runtime = `${v.runtime_name} ${v.runtime_version}`;
    eth0 = rig.agent!.config.eth0Kind;
    for (let r = 0; r < o.pods; r++) {
      const order = variants.map((_, i) => (i + r) % variants.length);
      const started: Array<{ i: number; id: string }> = [];
      for (const i of order) {
        const t0 = process.hrtime.bigint();
        try {
          const id = await cri.runPodSandbox(rig.podConfig(i, variants[i]!, r), variants[i]!.handler);
          samples[i]!.run.push(ms(t0));
          started.push({ i, id });
        } catch (e) { samples[i]!.errors.push(`RunPodSandbox: ${firstLine(grpcDetails(e))}`); }
      }
      for (const { i, id } of started) {
        for (const op of ['stop', 'remove'] as const) {
          const t0 = process.hrtime.bigint();
          try {
            await (op === 'stop' ? cri.stopPodSandbox(id) : cri.removePodSandbox(id));
            samples[i]![op].push(ms(t0));
          } catch (e) { samples[i]!.errors.push(`${op === 'stop' ? 'StopPodSandbox' : 'RemovePodSandbox'}: ${firstLine(grpcDetails(e))}`); }
        }
      }
      o.onRound?.(r + 1, o.pods);
    }
    left = await rig.leftovers();
  } finally {
    tempDirs = [rig.dir, ...(rig.ctrd ? [rig.ctrd.dir] : [])];
    const more = await rig.close();
    left = { ...left, ...more };
  }
  return {
    vswitch: rig.vs?.name ?? '-', pods: o.pods, runtime, eth0,
    leftovers: left, tempDirs,
    rows: variants.map((v, i) => ({
      label: v.label, run: latencyMs(samples[i]!.run), stop: latencyMs(samples[i]!.stop), remove: latencyMs(samples[i]!.remove),
      errors: [...new Set(samples[i]!.errors)],
    })),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--vpp');
  const prefix = at >= 0 ? args.splice(at, 2)[1] : undefined;
  if (at >= 0 && !prefix) { console.error('--vpp needs a VPP install prefix'); process.exit(2); }
  const n = Number(args[0] ?? 10);
  const why = criLatencySkipReason();
  if (why) { console.log(`skipped: ${why}`); process.exit(0); }
  const r = await runCriLatency({ pods: n, ...(prefix ? { vswitch: { kind: 'vpp', prefix } } : {}), onRound: (i, of) => process.stderr.write(`\rround ${i}/${of}`) });
  process.stderr.write('\n');
  console.log(`${r.vswitch}, eth0 ${r.eth0}, ${r.runtime}, ${r.pods} pods each; ${describeRcu()}`);
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
  for (const row of r.rows) {
    console.log(`${row.label.padEnd(32)} run p50 ${f(row.run.p50)} p99 ${f(row.run.p99)}  stop p50 ${f(row.stop.p50)} p99 ${f(row.stop.p99)}  remove p50 ${f(row.remove.p50)} ms (${row.run.n}/${row.stop.n}/${row.remove.n} ok)${row.errors.length ? `  errors: ${row.errors.join('; ')}` : ''}`);
  }
  const left = Object.entries(r.leftovers).filter(([, v]) => v.length);
  console.log(left.length ? `LEFT BEHIND: ${JSON.stringify(Object.fromEntries(left))}` : 'nothing left behind');
}
