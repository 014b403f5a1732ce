// A node for the CNI soak scenarios, all on this host (root): the VPP emulator (test double) whose
// tap hook creates real tap devices in the pod netns, the agent (startAgent) talking to it over the
// vppapi client, the real tsvpp-cni executable, real netns, veths and host-local IPAM.
// close() removes everything it created, also after a failure.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient } from '../../src/vppapi/client/index.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { vethHostName } from '../../src/cni/agent/pipeline.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { createTapDevice, deleteLinkIfExists, deleteNetns, listLinks } from '../../src/cni/linux/ip.js';
import { startVppEmulator, type VppEmulator } from '../../test/support/vpp-emulator/index.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/perf/soak
const CNI_MAIN = resolve(HERE, '../../src/cni/cni-main.js');
const API_DIR = [resolve(HERE, '../../../test/fixtures/vppapi/api-json'), resolve(HERE, '../../test/fixtures/vppapi/api-json')].find((p) => existsSync(p));

export const POD = 'soak-pod';
/** tap, veth and memif custom interfaces (plus eth0, a tap). */
const MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  name: ${POD}
  annotations:
    contivpp.io/custom-if: tap1/tap, veth1/veth, memif1/memif
spec:
  containers:
    - name: c
      image: x
      resources:
        limits:
          contivpp.io/memif: 1
`;

export interface CniResult { code: number; out: any; stderr: string }

export class CniRig {
  readonly dir: string;
  readonly config: AgentConfig;
  readonly registry: ApiRegistry;
  emu!: VppEmulator;
  agent!: Agent;
  client!: VppClient;
  readonly rnd = randomBytes(3).toString('hex');
  readonly netnsCreated = new Set<string>();
  /** Container ids used, for finding their veth host ends (other tests may have tsv* veths too). */
  readonly containerIds = new Set<string>();
  log: string[] = [];

  private constructor() {
    if (!API_DIR) throw new Error('VPP .api.json fixtures not found (test/fixtures/vppapi/api-json)');
    if (process.getuid?.() !== 0) throw new Error('the CNI soak scenarios need root (network namespaces, veths, taps)');
    this.dir = mkdtempSync(join(tmpdir(), 'tsvpp-soak-cni-'));
    this.registry = ApiRegistry.fromDir(API_DIR);
    this.config = {
      ...DEFAULT_CONFIG,
      stateDir: join(this.dir, 'state'), memifSocketDir: join(this.dir, 'memif'), cniSocket: join(this.dir, 'cni.sock'),
      vppApiSocket: join(this.dir, 'api.sock'), podManifests: join(this.dir, 'manifests'), nodeId: 7, maxCustomInterfaces: 4,
    };
  }

  static async start(o: { reconnect?: boolean } = {}): Promise<CniRig> {
    const rig = new CniRig();
    try {
      mkdirSync(rig.config.podManifests!);
      writeFileSync(join(rig.config.podManifests!, 'pods.yaml'), MANIFEST);
      rig.emu = await startVppEmulator({
        socketPath: rig.config.vppApiSocket, registry: rig.registry, runtimeDir: rig.dir,
        hooks: {
          onTapCreate: (r) => createTapDevice(r.hostIfName, r.hostNamespace || undefined),
          onTapDelete: async (i) => { await deleteLinkIfExists(i.tap!.hostIfName, i.tap!.hostNamespace || undefined); },
        },
      });
      rig.client = await VppClient.connect({
        socket: rig.config.vppApiSocket, registry: rig.registry, name: 'soak-agent',
        reconnect: o.reconnect ? { initialDelayMs: 20, maxDelayMs: 200 } : false,
      });
      rig.agent = await startAgent(rig.config, { vswitch: new VppVswitch(rig.client), pods: new ManifestPodSource(rig.config.podManifests!), log: (m) => rig.log.push(m) });
    } catch (e) {
      await rig.close();
      throw e;
    }
    return rig;
  }

  /** A pod sandbox netns, as the container runtime would create it. */
  async newNetns(): Promise<string> {
    const name = `tsvpp-soak-${this.rnd}-${this.netnsCreated.size}`;
    const { addNetns } = await import('../../src/cni/linux/ip.js');
    await addNetns(name);
    this.netnsCreated.add(name);
    return name;
  }

  async dropNetns(name: string): Promise<void> {
    await deleteNetns(name);
    this.netnsCreated.delete(name);
  }

  cni(command: 'ADD' | 'DEL' | 'CHECK', containerId: string, netns: string, extraConf: Record<string, unknown> = {}): Promise<CniResult> {
    this.containerIds.add(containerId);
    return new Promise((res) => {
      const child = spawn(process.execPath, [CNI_MAIN], {
        env: {
          PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: `/var/run/netns/${netns}`, CNI_IFNAME: 'eth0',
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${POD};K8S_POD_INFRA_CONTAINER_ID=${containerId}`, CNI_PATH: '/usr/lib/cni',
        },
      });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('close', (code) => {
        let out: unknown;
        try { out = stdout.trim() ? JSON.parse(stdout) : undefined; } catch { out = stdout; }
        res({ code: code ?? -1, out, stderr });
      });
      child.stdin.end(JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: this.config.cniSocket, ...extraConf }));
    });
  }

  /** Everything a pod could leave behind, as lists of names (all empty on a clean node). */
  async leftovers(): Promise<Record<string, string[]>> {
    const ls = (p: string) => (existsSync(p) ? readdirSync(p) : []);
    return {
      'VPP pod interfaces': [...this.emu.state.interfaces.values()].filter((i) => i.tag.startsWith('tsvpp:')).map((i) => `${i.swIfIndex} ${i.tag}`),
      'VPP memif sockets': [...this.emu.state.memifSockets.values()].filter((s) => s.socketId !== 0).map((s) => `${s.socketId} ${s.filename}`),
      'host veths': await this.ourVeths(),
      'memif socket dir': ls(this.config.memifSocketDir),
      'IPAM leases': ls(join(this.config.stateDir, 'ipam')).flatMap((net) => ls(join(this.config.stateDir, 'ipam', net)).filter((f) => /^\d/.test(f)).map((f) => `${net}/${f}`)),
      'pod records': ls(join(this.config.stateDir, 'pods')),
      'netns': ls('/var/run/netns').filter((n) => n.startsWith(`tsvpp-soak-${this.rnd}`)),
    };
  }

  private async ourVeths(): Promise<string[]> {
    const ours = new Set([...this.containerIds].map((id) => vethHostName(id, 'veth1')));
    return (await listLinks()).map((l) => l.ifname).filter((n) => ours.has(n));
  }

  async close(): Promise<void> {
    try { await this.agent?.close(); } catch { /* already closed */ }
    try { await this.client?.close(); } catch { /* already closed */ }
    try { await this.emu?.close(); } catch { /* already closed */ }
    for (const v of await this.ourVeths().catch(() => [])) await deleteLinkIfExists(v).catch(() => undefined);
    for (const ns of [...this.netnsCreated]) await deleteNetns(ns).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
