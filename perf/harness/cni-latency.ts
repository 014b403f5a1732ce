// CNI ADD and DEL latency: the real tsvpp-cni executable (process start included) → the agent
// (startAgent, in this process) → VppVswitch → the VPP emulator, whose kernel taps the agent moves
// into real pod netns; real veths and host-local. Pods with 0, 1 and 3 custom interfaces
// (0: eth0 only; 1: memif1/memif; 3: tap1/tap, veth1/veth, memif1/memif — the soak rig's pod).
// Each round adds one pod of every size, then deletes them, the size order rotating per round, so
// drift hits every size alike and the node holds at most one pod per size. Timed: the ADD or DEL
// child from spawn to exit; the netns creation/deletion around it is not. Needs root.
// Usage (alone): node dist/perf/harness/cni-latency.js [PODS_PER_SIZE]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { podTag } from '../../src/cni/agent/vswitch.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { addNetns, deleteLinkIfExists, deleteNetns, listLinks } from '../../src/cni/linux/ip.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { IP } from '../../src/cni/linux/ip.js';
import { onExitCleanup } from '../peers/procs.js';
import { percentile } from './scenarios.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/perf/harness
const CNI_MAIN = resolve(HERE, '../../src/cni/cni-main.js');

export const CNI_LATENCY_SIZES = [0, 1, 3] as const;
export type CustomIfCount = (typeof CNI_LATENCY_SIZES)[number];
const CUSTOM_IFS: Record<CustomIfCount, string[]> = { 0: [], 1: ['memif1/memif'], 3: ['tap1/tap', 'veth1/veth', 'memif1/memif'] };

/** p50/p99 (nearest rank) and min/max of one command's wall times, ms. */
export interface LatencyMs { p50: number; p99: number; min: number; max: number; n: number }
export interface CniLatencyRow {
  customIfs: CustomIfCount;
  kinds: string[];
  add: LatencyMs;
  del: LatencyMs;
  /** VPP interfaces tagged for the pod right after each successful ADD (eth0 + custom): evidence the sizes differ. */
  vppIfsPerPod: number[];
  errors: string[];
}
export interface CniLatencyReport { podsPerSize: number; eth0: string; rows: CniLatencyRow[]; leftovers: Record<string, string[]> }

export function latencyMs(xs: readonly number[]): LatencyMs {
  const a = [...xs].sort((x, y) => x - y);
  return { p50: percentile(a, 50, true), p99: percentile(a, 99, true), min: a[0] ?? NaN, max: a[a.length - 1] ?? NaN, n: a.length };
}

/** null when this process may create network namespaces, else why not. */
export function cniLatencySkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'the CNI ADD/DEL latency section needs root (network namespaces, veths, taps); run as root to include it';
  return null;
}

/** The order of one round's pods: the sizes rotated by the round number. */
export function roundOrder(round: number): CustomIfCount[] {
  const s = [...CNI_LATENCY_SIZES];
  const k = round % s.length;
  return [...s.slice(k), ...s.slice(0, k)];
}

const podName = (n: CustomIfCount) => `lat-${n}if`;
function manifest(n: CustomIfCount): string {
  const ifs = CUSTOM_IFS[n];
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${podName(n)}
${ifs.length ? `  annotations:\n    contivpp.io/custom-if: ${ifs.join(', ')}\n` : ''}spec:
  containers:
    - name: c
      image: x
${ifs.some((i) => i.endsWith('/memif')) ? '      resources:\n        limits:\n          contivpp.io/memif: 1\n' : ''}`;
}

interface CniRun { code: number; ms: number; stderr: string }

class LatencyRig {
  readonly dir: string;
  readonly config: AgentConfig;
  readonly netns = new Set<string>();
  readonly containerIds = new Set<string>();
  emu?: VppEmulator;
  client?: VppClient;
  agent?: Agent;
  /** Interrupted (SIGINT/SIGTERM) before close(): only synchronous removal is possible then. */
  private readonly unregisterExit = onExitCleanup(() => {
    for (const id of this.containerIds) spawnSync(IP, ['link', 'del', vethHostName(id, 'veth1')], { stdio: 'ignore' });
    for (const ns of this.netns) spawnSync(IP, ['netns', 'delete', ns], { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  });

  /** `rnd` names this run's netns, container ids and temp dir (hex; random by default). */
  constructor(readonly rnd = randomBytes(3).toString('hex')) {
    this.dir = mkdtempSync(join(tmpdir(), `tsvpp-perf-cni-${rnd}-`));
    this.config = {
      ...DEFAULT_CONFIG,
      stateDir: join(this.dir, 'state'), memifSocketDir: join(this.dir, 'memif'), cniSocket: join(this.dir, 'cni.sock'),
      vppApiSocket: join(this.dir, 'api.sock'), podManifests: join(this.dir, 'manifests'), nodeName: 'latency-node', maxCustomInterfaces: 4, eth0Kind: 'tap',
    };
  }

  async start(): Promise<void> {
    const registry = ApiRegistry.fromDir(shippedApiDir());
    mkdirSync(this.config.podManifests!);
    writeFileSync(join(this.config.podManifests!, 'node.yaml'), nodeManifest({ name: this.config.nodeName, internalIp: '192.0.2.9', podCIDR: '10.1.9.0/24' }));
    writeFileSync(join(this.config.podManifests!, 'pods.yaml'), CNI_LATENCY_SIZES.map(manifest).join('---\n'));
    this.emu = await startVppEmulator({
      socketPath: this.config.vppApiSocket, registry, runtimeDir: this.dir, vhostNet: true,
      kernelTaps: true, // what real VPP does for tap_create_v2
    });
    this.client = await VppClient.connect({ socket: this.config.vppApiSocket, registry, name: 'perf-cni-latency', reconnect: false });
    this.agent = await startAgent(this.config, { vswitch: new VppVswitch(this.client), pods: new ManifestPodSource(this.config.podManifests!), log: () => {}, vhostNet: true /* the emulator's kernel taps need none */ });
  }

  async newNetns(): Promise<string> {
    const name = `tsvpp-perf-${this.rnd}-${this.netns.size}-${Date.now() % 100000}`;
    await addNetns(name);
    this.netns.add(name);
    return name;
  }

  async dropNetns(name: string): Promise<void> {
    await deleteNetns(name);
    this.netns.delete(name);
  }

  cni(command: 'ADD' | 'DEL', containerId: string, netns: string, pod: string): Promise<CniRun> {
    this.containerIds.add(containerId);
    return new Promise((res) => {
      const t0 = process.hrtime.bigint();
      const child = spawn(process.execPath, [CNI_MAIN], {
        env: {
          PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: `/var/run/netns/${netns}`, CNI_IFNAME: 'eth0',
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${containerId}`, CNI_PATH: '/usr/lib/cni',
        },
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d) => { stderr += d; });
      child.on('error', (e) => { stderr += String(e); });
      child.on('close', (code) => res({ code: code ?? -1, ms: Number(process.hrtime.bigint() - t0) / 1e6, stderr }));
      child.stdin!.end(JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: this.config.cniSocket }));
    });
  }

  /** VPP interfaces whose tag names this container. */
  podIfs(containerId: string): string[] {
    const prefix = podTag(containerId, '');
    return [...(this.emu?.state.interfaces.values() ?? [])].filter((i) => i.tag.startsWith(prefix)).map((i) => i.tag.slice(prefix.length));
  }

  private async ourVeths(): Promise<string[]> {
    const ours = new Set([...this.containerIds].map((id) => vethHostName(id, 'veth1')));
    return (await listLinks()).map((l) => l.ifname).filter((n) => ours.has(n));
  }

  /** What pods could leave behind, as lists of names (all empty on a clean node). */
  async leftovers(): Promise<Record<string, string[]>> {
    const ls = (p: string) => { try { return readdirSync(p); } catch { return []; } };
    const ifs = [...(this.emu?.state.interfaces.values() ?? [])];
    return {
      'VPP pod interfaces': ifs.filter((i) => i.tag.startsWith('tsvpp:')).map((i) => `${i.swIfIndex} ${i.tag}`),
      'VPP untagged interfaces': ifs.filter((i) => i.tag === '' && i.name !== 'local0').map((i) => `${i.swIfIndex} ${i.name}`),
      'host veths': await this.ourVeths(),
      'pod records': ls(join(this.config.stateDir, 'pods')),
      'netns': ls('/var/run/netns').filter((n) => n.startsWith(`tsvpp-perf-${this.rnd}`)),
    };
  }

  async close(): Promise<void> {
    this.unregisterExit();
    try { await this.agent?.close(); } catch { /* already closed */ }
    try { await this.client?.close(); } catch { /* already closed */ }
    try { await this.emu?.close(); } catch { /* already closed */ }
    for (const v of await this.ourVeths().catch(() => [])) await deleteLinkIfExists(v).catch(() => undefined);
    for (const ns of [...this.netns]) await deleteNetns(ns).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const firstLine = (s: string) => s.trim().split('\n')[0]!.slice(0, 200);

/**
 * Runs `podsPerSize` rounds; each round ADDs one pod per size, then DELs them. A failed ADD is
 * counted as an error (its time is not a sample) and still DELed. Leftovers are taken after the
 * last DEL, before the rig closes; close() removes everything either way.
 */
export async function runCniLatency(o: { podsPerSize: number; onRound?: (round: number, of: number) => void; runId?: string }): Promise<CniLatencyReport> {
  const why = cniLatencySkipReason();
  if (why) throw new Error(why);
  const rig = new LatencyRig(o.runId);
  const add = new Map<CustomIfCount, number[]>(CNI_LATENCY_SIZES.map((n) => [n, []]));
  const del = new Map<CustomIfCount, number[]>(CNI_LATENCY_SIZES.map((n) => [n, []]));
  const errors = new Map<CustomIfCount, string[]>(CNI_LATENCY_SIZES.map((n) => [n, []]));
  const vppIfs = new Map<CustomIfCount, number[]>(CNI_LATENCY_SIZES.map((n) => [n, []]));
  try {
    await rig.start();
    for (let r = 0; r < o.podsPerSize; r++) {
      const pods: { n: CustomIfCount; id: string; ns: string }[] = [];
      for (const n of roundOrder(r)) {
        const id = `perf${rig.rnd}${r}x${n}`, ns = await rig.newNetns();
        pods.push({ n, id, ns });
        const x = await rig.cni('ADD', id, ns, podName(n));
        if (x.code === 0) { add.get(n)!.push(x.ms); vppIfs.get(n)!.push(rig.podIfs(id).length); } else errors.get(n)!.push(`ADD exited ${x.code}: ${firstLine(x.stderr)}`);
      }
      for (const p of pods) {
        const x = await rig.cni('DEL', p.id, p.ns, podName(p.n));
        if (x.code === 0) del.get(p.n)!.push(x.ms);
        else errors.get(p.n)!.push(`DEL exited ${x.code}: ${firstLine(x.stderr)}`);
        await rig.dropNetns(p.ns);
      }
      o.onRound?.(r + 1, o.podsPerSize);
    }
    const leftovers = await rig.leftovers();
    return {
      podsPerSize: o.podsPerSize, eth0: rig.config.eth0Kind, leftovers,
      rows: CNI_LATENCY_SIZES.map((n) => ({
        customIfs: n, kinds: CUSTOM_IFS[n].map((s) => s.split('/')[1]!), add: latencyMs(add.get(n)!), del: latencyMs(del.get(n)!),
        vppIfsPerPod: vppIfs.get(n)!, errors: [...new Set(errors.get(n)!)],
      })),
    };
  } finally {
    await rig.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const n = Number(process.argv[2] ?? 20);
  const why = cniLatencySkipReason();
  if (why) { console.log(`skipped: ${why}`); process.exit(0); }
  const r = await runCniLatency({ podsPerSize: n, onRound: (i, of) => process.stderr.write(`\rround ${i}/${of}`) });
  process.stderr.write('\n');
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  for (const row of r.rows) {
    console.log(`${row.customIfs} custom (${row.kinds.join(',') || 'eth0 only'}): ADD p50 ${f(row.add.p50)} p99 ${f(row.add.p99)} ms  ` +
      `DEL p50 ${f(row.del.p50)} p99 ${f(row.del.p99)} ms  (${row.add.n}/${row.del.n} ok)${row.errors.length ? `  errors: ${row.errors.join('; ')}` : ''}`);
  }
  const left = Object.entries(r.leftovers).filter(([, v]) => v.length);
  console.log(left.length ? `LEFT BEHIND: ${JSON.stringify(Object.fromEntries(left))}` : 'nothing left behind');
}
