// A node for the CNI soak scenarios, all on this host (root): the VPP emulator (test double) with
// real kernel taps (which the agent moves into the pod netns), the agent (startAgent) talking to it over the
// vppapi client, the real tsvpp-cni executable, real netns, veths and host-local IPAM.
// close() removes everything it created, also after a failure.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { listedPoolNames, unlistedPoolLinks } from '../../src/cni/agent/veth-pool.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { deleteLinkIfExists, deleteNetns, listLinks } from '../../src/cni/linux/ip.js';
import { E, startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { ipL2Handlers } from '../../src/testing/vpp-emulator/handlers/ip-l2.js';
import { startProc, type Proc } from '../peers/procs.js';
import { Etcd3 } from 'etcd3';
import { KubeletStandin } from '../../src/testing/kubelet-standin.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { startEtcd, type EtcdServer } from '../peers/etcd.js';
import { TSVPP_MAIN } from './common.js';
import { runCni, type CniResult } from './cni-call.js';

export type { CniResult } from './cni-call.js';

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

/** Pods of the memif node (device plugin + kubelet stand-in): one memif each, a microservice label each. */
export const vnfPod = (name: string, label: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  annotations:
    contivpp.io/custom-if: memif1/memif
    contivpp.io/microservice-label: ${label}
spec:
  containers:
    - name: vnf
      image: x
      resources:
        limits:
          contivpp.io/memif: 1
`;
export const VNF_PODS = ['soak-vnf', 'soak-vnf2'] as const;


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
  /** With `agentProcess`: the agent runs as `tsvpp agent` in this child (SIGKILL-able). */
  agentProc: Proc | null = null;
  /** Called (and awaited) by the emulator before VPP creates a tap, af_packet, memif or route: a place to inject faults. */
  beforeVppCreate: ((kind: 'tap' | 'afpacket' | 'memif' | 'route') => void | Promise<void>) | null = null;

  private constructor() {
    if (process.getuid?.() !== 0) throw new Error('the CNI soak scenarios need root (network namespaces, veths, taps)');
    this.dir = mkdtempSync(join(tmpdir(), 'tsvpp-soak-cni-'));
    this.registry = ApiRegistry.fromDir(shippedApiDir());
    this.config = {
      ...DEFAULT_CONFIG,
      stateDir: join(this.dir, 'state'), memifSocketDir: join(this.dir, 'memif'), cniSocket: join(this.dir, 'cni.sock'),
      vppApiSocket: join(this.dir, 'api.sock'), podManifests: join(this.dir, 'manifests'), nodeName: 'soak-node', maxCustomInterfaces: 4, eth0Kind: 'tap',
    };
  }

  /** With `memifNode`: kubelet's side (device plugin registration, PodResources) as a stand-in. */
  kubelet: KubeletStandin | null = null;
  /** With `memifNode.etcd`: a real etcd the agent is configured with (--etcd). */
  etcd: EtcdServer | null = null;
  private etcdRaw: Etcd3 | null = null;

  /**
   * memifNode: the agent also runs the device plugin (4 devices), asks the kubelet stand-in's
   * PodResources at ADD and, with etcd, writes the pods' memif config there: the wiring
   * startAgent builds from the config (--memif-devices, --pod-resources-socket, --etcd).
   */
  static async start(o: { reconnect?: boolean; agentProcess?: boolean; memifNode?: { etcd?: boolean }; config?: Partial<AgentConfig> } = {}): Promise<CniRig> {
    const rig = new CniRig();
    Object.assign(rig.config, o.config);
    try {
      mkdirSync(rig.config.podManifests!);
      writeFileSync(join(rig.config.podManifests!, 'node.yaml'), nodeManifest({ name: rig.config.nodeName, internalIp: '192.0.2.7', podCIDR: '10.1.7.0/24' }));
      writeFileSync(join(rig.config.podManifests!, 'pods.yaml'), [MANIFEST, vnfPod(VNF_PODS[0], 'vnf1'), vnfPod(VNF_PODS[1], 'vnf2')].join('---\n'));
      if (o.memifNode) {
        const dpDir = join(rig.dir, 'device-plugins');
        mkdirSync(dpDir);
        rig.kubelet = new KubeletStandin(dpDir, join(rig.dir, 'pod-resources.sock'));
        await rig.kubelet.start();
        Object.assign(rig.config, { memifDevices: 4, devicePluginDir: dpDir, podResourcesSocket: rig.kubelet.podResourcesSocket });
        if (o.memifNode.etcd) {
          rig.etcd = await startEtcd();
          rig.etcdRaw = new Etcd3({ hosts: rig.etcd.url });
          rig.config.etcdEndpoints = [rig.etcd.url];
        }
      }
      rig.emu = await startVppEmulator({
        socketPath: rig.config.vppApiSocket, registry: rig.registry, runtimeDir: rig.dir, vhostNet: true,
        handlers: {
          ip_route_add_del: async (req, ctx) => { if (req.is_add) await rig.beforeVppCreate?.('route'); return ipL2Handlers.ip_route_add_del!(req, ctx); },
        },
        hooks: {
          onTapCreate: async () => { await rig.beforeVppCreate?.('tap'); },
          onMemifCreate: async () => { await rig.beforeVppCreate?.('memif'); },
          onAfPacketCreate: async (r) => {
            await rig.beforeVppCreate?.('afpacket');
            // What the emulator checks without this hook (VPP needs the host interface).
            if (!existsSync(`/sys/class/net/${r.hostIfName}`)) throw Object.assign(new Error(`host interface ${r.hostIfName} does not exist`), { retval: E('INVALID_INTERFACE') });
          },
        },
        kernelTaps: true,
      });
      if (o.agentProcess) { await rig.startAgentProcess(); return rig; }
      rig.client = await VppClient.connect({
        socket: rig.config.vppApiSocket, registry: rig.registry, name: 'soak-agent',
        reconnect: o.reconnect ? { initialDelayMs: 20, maxDelayMs: 200 } : false,
      });
      rig.agent = await startAgent(rig.config, { vswitch: new VppVswitch(rig.client), pods: new ManifestPodSource(rig.config.podManifests!), log: (m) => rig.log.push(m), vhostNet: true /* the emulator's kernel taps need none */ });
    } catch (e) {
      await rig.close();
      throw e;
    }
    return rig;
  }

  /** Starts `tsvpp agent` with this rig's config as a child process; resolves once it listens. */
  async startAgentProcess(): Promise<void> {
    const c = this.config;
    const flags: Record<string, string | number> = {
      '--vpp-api-socket': c.vppApiSocket, '--vpp-api-dir': shippedApiDir(), '--state-dir': c.stateDir, '--memif-socket-dir': c.memifSocketDir,
      '--cni-socket': c.cniSocket, '--pod-manifests': c.podManifests!, '--node-name': c.nodeName, '--max-custom-interfaces': c.maxCustomInterfaces,
      // A separate process cannot be told that the emulator's taps need no /dev/vhost-net: eth0 is a veth here.
      '--eth0-kind': 'veth-afpacket', '--veth-pool-size': c.vethPoolSize, '--veth-pool-idle-seconds': c.vethPoolIdleSeconds,
    };
    const p = startProc({ name: 'soak-agent', cmd: process.execPath, args: [TSVPP_MAIN, 'agent', ...Object.entries(flags).flatMap(([k, v]) => [k, String(v)])] });
    this.agentProc = p;
    try { await p.waitFor(/listening on /, 15_000); } catch (e) {
      throw new Error(`tsvpp agent did not start: ${(e as Error).message}; output: ${p.tail(10)}`);
    }
  }

  /** SIGKILL of the agent process; resolves when it is gone. */
  async killAgentProcess(): Promise<void> {
    const p = this.agentProc;
    if (!p?.running) return;
    process.kill(p.pid, 'SIGKILL');
    // The kill lands when the process leaves the kernel; on a loaded machine (netns and rtnl work
    // of other jobs) that took more than 5 s.
    await p.waitExit(30_000);
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

  /** Every key in etcd: pod-side config and label owner records (none without etcd). */
  async etcdKeys(): Promise<string[]> {
    return this.etcdRaw ? (await this.etcdRaw.getAll().keys()).sort() : [];
  }

  cni(command: 'ADD' | 'DEL' | 'CHECK', containerId: string, netns: string, extraConf: Record<string, unknown> = {}, pod: string = POD): Promise<CniResult> {
    this.containerIds.add(containerId);
    return runCni({ command, containerId, netns, pod, agentSocket: this.config.cniSocket, extraConf });
  }

  /** Everything a pod could leave behind, as lists of names (all empty on a clean node). */
  async leftovers(o: { etcd?: boolean } = {}): Promise<Record<string, string[]>> {
    const ls = (p: string) => (existsSync(p) && statSync(p).isDirectory() ? readdirSync(p) : []);
    const pool = await listedPoolNames(this.config.stateDir);
    return {
      'VPP pod interfaces': [...this.emu.state.interfaces.values()].filter((i) => i.tag.startsWith('tsvpp:')).map((i) => `${i.swIfIndex} ${i.tag}`),
      // memif and af_packet get their tag in a second call: one created just before a crash has none.
      // (An af_packet the veth pool is making is untagged for a moment: created, then tagged.)
      'VPP untagged interfaces': [...this.emu.state.interfaces.values()].filter((i) => i.tag === '' && i.name !== 'local0' && !pool.has(i.name.slice('host-'.length))).map((i) => `${i.swIfIndex} ${i.name}`),
      'VPP routes': [...this.emu.state.routes.keys()],
      'VPP memif sockets': [...this.emu.state.memifSockets.values()].filter((s) => s.socketId !== 0).map((s) => `${s.socketId} ${s.filename}`),
      'host veths': await this.ourVeths(),
      'memif socket dir': ls(this.config.memifSocketDir),
      'IPAM leases': ls(join(this.config.stateDir, 'ipam')).flatMap((net) => ls(join(this.config.stateDir, 'ipam', net)).filter((f) => /^\d/.test(f)).map((f) => `${net}/${f}`)),
      'pod records': ls(join(this.config.stateDir, 'pods')),
      'etcd keys': o.etcd === false ? [] : await this.etcdKeys(), // false: etcd is frozen on purpose
      'netns': ls('/var/run/netns').filter((n) => n.startsWith(`tsvpp-soak-${this.rnd}`)),
    };
  }

  private async ourVeths(): Promise<string[]> {
    const ours = new Set([...this.containerIds].flatMap((id) => [vethHostName(id, 'veth1'), vethHostName(id, 'eth0')]));
    const links = (await listLinks()).map((l) => l.ifname);
    return [...links.filter((n) => ours.has(n)), ...await unlistedPoolLinks(this.config.stateDir, links)];
  }

  async close(): Promise<void> {
    try { await this.agent?.close(); } catch { /* already closed */ }
    await this.agentProc?.stop(3_000).catch(() => undefined);
    try { await this.client?.close(); } catch { /* already closed */ }
    try { await this.emu?.close(); } catch { /* already closed */ }
    if (this.etcd) { try { process.kill(this.etcd.proc.pid!, 'SIGCONT'); } catch { /* exited */ } }
    this.etcdRaw?.close();
    await this.etcd?.stop().catch(() => undefined);
    await this.kubelet?.stop(true).catch(() => undefined);
    for (const v of await this.ourVeths().catch(() => [])) await deleteLinkIfExists(v).catch(() => undefined);
    for (const ns of [...this.netnsCreated]) await deleteNetns(ns).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A failed CNI call's code, message and details, for problem lines. */
export const cniError = (r: CniResult): string => `${r.out?.code} ${r.out?.msg}: ${r.out?.details ?? ''}`;

/** CNI calls must answer well before a runtime gives up (the agent's etcd deadline is 5 s + 1 s). */
export const ANSWER_WITHIN_MS = 15_000;
