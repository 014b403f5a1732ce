// A node for the CNI tests on real VPP, all on this host (root): a VPP instance, the agent
// (startAgent from its config, so its own VPP API client, device plugin and PodResources lookup
// are the production wiring), kubelet's side as a stand-in, the real tsvpp-cni executable, real
// netns, veths and host-local IPAM. close() removes everything it created, also after a failure.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAgent, type Agent } from '../../../src/cni/agent/agent.js';
import { vethHostName } from '../../../src/cni/agent/kinds/veth.js';
import { listedPoolNames, unlistedPoolLinks } from '../../../src/cni/agent/veth-pool.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../../src/cni/agent/config.js';
import { addNetns, deleteLinkIfExists, deleteNetns, listLinks } from '../../../src/cni/linux/ip.js';
import type { VppClient } from '../../../src/vppapi/client/index.js';
import { KubeletStandin } from '../../../src/testing/kubelet-standin.js';
import { nodeManifest } from '../../../src/testing/node-manifest.js';
import { runCni, type CniResult } from '../../../perf/soak/cni-call.js';
import { Vpp } from './vpp.js';

const run = promisify(execFile);
const NO_INDEX = 0xffffffff;
/** The node's slice of the pod subnet (its Node's spec.podCIDR). */
export const NODE_POD_CIDR = '10.1.9.0/24';
/** Pod interface names the tests use: the host ends of their veths are tsv + hash(container id, name). */
const POD_IFNAMES = ['eth0', 'veth1', 'v2', 'v3', 'vs', 'tap1'];

export class CniNode {
  readonly rnd = randomBytes(3).toString('hex');
  readonly dir = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-cni-'));
  readonly config: AgentConfig;
  vpp!: Vpp;
  agent: Agent | undefined;
  kubelet!: KubeletStandin;
  /** The test's own API connection to VPP (the agent has its own). */
  api!: VppClient;
  readonly agentLog: string[] = [];
  private readonly netnsCreated = new Set<string>();
  /** netns name -> the long path it is also mounted at (newLongNetns). */
  private readonly pinned = new Map<string, string>();
  readonly containerIds = new Set<string>();

  private constructor(readonly manifests: string) {
    this.config = {
      ...DEFAULT_CONFIG,
      stateDir: join(this.dir, 'state'), memifSocketDir: join(this.dir, 'memif'), cniSocket: join(this.dir, 'cni.sock'),
      podManifests: join(this.dir, 'manifests'), nodeName: `vpp-node-${this.rnd}`, maxCustomInterfaces: 8,
      memifDevices: 4, devicePluginDir: join(this.dir, 'device-plugins'), podResourcesSocket: join(this.dir, 'pod-resources.sock'),
    };
  }

  /** VPP, kubelet stand-in and the agent; `manifests` are the pods and CustomNetworks (YAML); `config` what differs from the node's defaults (etcd). */
  static async start(manifests: string, config: Partial<AgentConfig> = {}): Promise<CniNode> {
    if (process.getuid?.() !== 0) throw new Error('the CNI tests on real VPP need root (network namespaces, veths, VPP)');
    const n = new CniNode(manifests);
    Object.assign(n.config, config);
    try {
      mkdirSync(n.config.podManifests!);
      mkdirSync(n.config.devicePluginDir);
      writeFileSync(join(n.config.podManifests!, 'pods.yaml'), manifests);
      writeFileSync(join(n.config.podManifests!, 'node.yaml'), nodeManifest({ name: n.config.nodeName, internalIp: '192.0.2.9', podCIDR: NODE_POD_CIDR }));
      n.vpp = await Vpp.start();
      Object.assign(n.config, { vppApiSocket: n.vpp.apiSocket, vppApiDir: n.vpp.info.apiDir });
      n.api = await n.vpp.connect({ reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
      n.kubelet = new KubeletStandin(n.config.devicePluginDir, n.config.podResourcesSocket);
      await n.kubelet.start();
      await n.startAgent();
      await n.kubelet.waitFor(() => (n.kubelet.plugins.get('contivpp.io/memif')?.devices.length ?? 0) === 4, 10_000, 'the agent\'s memif devices');
    } catch (e) {
      await n.close();
      throw e;
    }
    return n;
  }

  async startAgent(config: AgentConfig = this.config): Promise<Agent> {
    this.agent = await startAgent(config, { log: (m) => this.agentLog.push(m) });
    return this.agent;
  }

  async stopAgent(): Promise<void> {
    const a = this.agent;
    this.agent = undefined;
    await a?.close();
  }

  /** A pod sandbox netns, as the container runtime would create it. */
  async newNetns(): Promise<string> {
    const name = `tsvpp-vpp-${this.rnd}-${this.netnsCreated.size}`;
    await addNetns(name);
    this.netnsCreated.add(name);
    return name;
  }

  async dropNetns(name: string): Promise<void> {
    await this.unpin(name);
    await deleteNetns(name);
    this.netnsCreated.delete(name);
  }

  /**
   * A pod netns pinned where containerd pins it with netns_mounts_under_state_dir: a file under its
   * state dir, longer than tap_create_v2's 64-byte host_namespace. `name` is the same netns under
   * /var/run/netns (for `ip netns exec`); dropNetns(name) unpins and removes it.
   */
  async newLongNetns(): Promise<{ name: string; path: string }> {
    const name = await this.newNetns();
    const dir = join(this.dir, 'containerd-state', 'io.containerd.grpc.v1.cri', 'netns');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `cni-${randomUUID()}`);
    writeFileSync(path, '');
    await run('mount', ['--bind', `/var/run/netns/${name}`, path]);
    this.pinned.set(name, path);
    return { name, path };
  }

  private async unpin(name: string): Promise<void> {
    const path = this.pinned.get(name);
    if (!path) return;
    await run('umount', [path]);
    rmSync(path, { force: true });
    this.pinned.delete(name);
  }

  cni(command: 'ADD' | 'DEL' | 'CHECK', pod: string, containerId: string, netns: string, extraConf: Record<string, unknown> = {}): Promise<CniResult> {
    this.containerIds.add(containerId);
    return runCni({ command, containerId, netns, pod, agentSocket: this.config.cniSocket, extraConf });
  }

  /** ADD that must succeed; the failure message carries the agent's log. */
  async add(pod: string, containerId: string, netns: string): Promise<any> {
    const r = await this.cni('ADD', pod, containerId, netns);
    if (r.code !== 0) throw new Error(`ADD ${pod} failed: ${JSON.stringify(r.out)} ${r.stderr}\nagent log:\n${this.agentLog.slice(-20).join('\n')}`);
    return r.out;
  }

  /** A command inside a netns; resolves with its output, rejects with it. */
  async inNetns(netns: string, cmd: string[]): Promise<string> {
    try {
      const { stdout } = await run('ip', ['netns', 'exec', netns, ...cmd], { timeout: 30_000 });
      return stdout;
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`ip netns exec ${netns} ${cmd.join(' ')}: ${x.stderr?.trim() || x.stdout?.trim() || x.message}`);
    }
  }

  /**
   * Exactly `count` ICMP echo requests from a pod to `target`; returns how many replies came back.
   * ping exits 1 when some are lost: that is a result here, not an error.
   */
  async ping(netns: string, target: string, o: { count?: number; dev?: string } = {}): Promise<{ sent: number; received: number; output: string }> {
    const args = ['ping', '-n', '-c', String(o.count ?? 1), '-W', '2', ...(o.dev ? ['-I', o.dev] : []), target];
    let output: string;
    try { output = (await run('ip', ['netns', 'exec', netns, ...args], { timeout: 30_000 })).stdout; } catch (e) {
      output = (e as { stdout?: string }).stdout ?? '';
      if (!/packets transmitted/.test(output)) throw new Error(`ping in ${netns}: ${(e as Error).message}`);
    }
    const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
    return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), output };
  }

  /** One ICMP echo from VPP itself (its ping plugin); true when the reply came back. */
  async vppPing(target: string, tableId = 0): Promise<boolean> {
    const out = await this.vpp.cli(`ping ${target}${tableId ? ` table-id ${tableId}` : ''} repeat 1`);
    const m = /(\d+) sent, (\d+) received/.exec(out);
    if (!m) throw new Error(`VPP ping ${target}: unexpected output ${out}`);
    return m[2] === '1';
  }

  /** VPP's interfaces, by sw_if_index. */
  async vppInterfaces(): Promise<Map<number, { name: string; tag: string; up: boolean; mac: string }>> {
    const d = await this.api.dump<Record<string, any>>('sw_interface_dump', { sw_if_index: NO_INDEX, name_filter_valid: false, name_filter: '' });
    return new Map(d.map((x) => [x.sw_if_index as number, {
      name: String(x.interface_name), tag: String(x.tag), up: (x.flags & 1) !== 0,
      mac: [...(x.l2_address as Uint8Array)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
    }]));
  }

  /** IPv4 neighbours VPP has, as "ip mac flags sw_if_index". */
  async vppNeighbors(): Promise<Array<{ ip: string; mac: string; static: boolean; swIfIndex: number }>> {
    const d = await this.api.dump<Record<string, any>>('ip_neighbor_dump', { sw_if_index: NO_INDEX, af: 0 });
    return d.map((x) => ({
      ip: [...(x.neighbor.ip_address.un.ip4 as Uint8Array)].join('.'),
      mac: [...(x.neighbor.mac_address as Uint8Array)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
      static: (x.neighbor.flags & 1) !== 0, swIfIndex: x.neighbor.sw_if_index,
    }));
  }

  /** IPv4 routes of one VRF as "prefix/len". */
  async vppRoutes(tableId: number): Promise<string[]> {
    const d = await this.api.dump<Record<string, any>>('ip_route_dump', { table: { table_id: tableId, is_ip6: false, name: '' } });
    return d.map((x) => `${[...(x.route.prefix.address.un.ip4 as Uint8Array)].join('.')}/${x.route.prefix.len}`);
  }

  /** VPP's service translations (cnat), as "vip:port/proto -> backend:port, ...". */
  async serviceTranslations(): Promise<Map<string, string[]>> {
    const d = await this.api.dump<Record<string, any>>('cnat_translation_dump', {});
    const proto: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
    const ep = (e: any) => `${[...(e.addr.un.ip4 as Uint8Array)].join('.')}:${e.port}`;
    return new Map(d.map((x) => [`${ep(x.translation.vip)}/${proto[x.translation.ip_proto] ?? x.translation.ip_proto}`, x.translation.paths.map((p: any) => ep(p.dst_ep)).sort()]));
  }

  /** VRF 0 routes that refuse (ICMP prohibited): the agent's ClusterIP reject routes. A cnat
   *  translation's own FIB entry for a VIP outlives it while sessions through it last (VPP's
   *  session timeout), so VIPs in the FIB are not leftovers; these routes are. */
  async rejectRoutes(): Promise<string[]> {
    const d = await this.api.dump<Record<string, any>>('ip_route_dump', { table: { table_id: 0, is_ip6: false, name: '' } });
    return d.filter((x) => x.route.paths.length > 0 && x.route.paths.every((p: any) => p.type === 6))
      .map((x) => `${[...(x.route.prefix.address.un.ip4 as Uint8Array)].join('.')}/${x.route.prefix.len}`);
  }

  /** A manifest in the agent's manifests dir (Services, EndpointSlices), as kubectl apply would add it. */
  writeManifest(file: string, yaml: string): void {
    writeFileSync(join(this.config.podManifests!, `${file}.tmp`), yaml);
    renameSync(join(this.config.podManifests!, `${file}.tmp`), join(this.config.podManifests!, file));
  }

  removeManifest(file: string): void {
    rmSync(join(this.config.podManifests!, file), { force: true });
  }

  /** Polls `f` until it returns a value that is not undefined; fails naming `what` after timeoutMs. */
  async waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    let last: unknown;
    for (const end = Date.now() + timeoutMs; Date.now() < end;) {
      try { const v = await f(); if (v !== undefined) return v; } catch (e) { last = e; }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}\nagent log:\n${this.agentLog.slice(-20).join('\n')}`);
  }

  /** Everything a pod could leave behind, as lists (all empty on a clean node). */
  async leftovers(podAddresses: string[] = []): Promise<Record<string, string[]>> {
    const ls = (p: string) => (existsSync(p) && statSync(p).isDirectory() ? readdirSync(p) : []);
    const ifs = await this.vppInterfaces();
    const addrs = new Set(podAddresses.map((a) => a.split('/')[0]!));
    const tables = (await this.api.dump<Record<string, any>>('ip_table_dump', {})).filter((t) => !t.table.is_ip6).map((t) => t.table.table_id as number);
    const routes: string[] = [];
    for (const t of tables) for (const r of await this.vppRoutes(t)) if (addrs.has(r.split('/')[0]!) && r.endsWith('/32')) routes.push(`table ${t}: ${r}`);
    const socks = await this.api.dump<Record<string, any>>('memif_socket_filename_dump', {});
    const pool = await listedPoolNames(this.config.stateDir);
    return {
      'VPP pod interfaces': [...ifs].filter(([, i]) => i.tag.startsWith('tsvpp:')).map(([k, i]) => `${k} ${i.name} ${i.tag}`),
      // An af_packet the veth pool is making is untagged for a moment (created, then tagged).
      'VPP untagged interfaces': [...ifs].filter(([, i]) => i.tag === '' && i.name !== 'local0' && !pool.has(i.name.slice('host-'.length))).map(([k, i]) => `${k} ${i.name}`),
      'VPP routes to pod addresses': routes,
      'VPP neighbours of pod addresses': (await this.vppNeighbors()).filter((n) => addrs.has(n.ip)).map((n) => `${n.ip} ${n.mac}`),
      'VPP reject routes': await this.rejectRoutes(),
      'VPP service translations': [...await this.serviceTranslations()].map(([k, v]) => `${k} -> ${v.join(', ')}`),
      'VPP memif sockets': socks.filter((s) => s.socket_id !== 0).map((s) => `${s.socket_id} ${s.socket_filename}`),
      'host veths': await this.ourVeths(),
      'memif socket dirs': ls(this.config.memifSocketDir),
      'IPAM leases': ls(join(this.config.stateDir, 'ipam')).flatMap((net) => ls(join(this.config.stateDir, 'ipam', net)).filter((f) => /^\d/.test(f)).map((f) => `${net}/${f}`)),
      'pod records': ls(join(this.config.stateDir, 'pods')),
    };
  }

  /** Host ends of veths of this node's containers (other tests on the host have veths too). */
  async ourVeths(): Promise<string[]> {
    const ours = new Set([...this.containerIds].flatMap((id) => POD_IFNAMES.map((n) => vethHostName(id, n))));
    const links = (await listLinks()).map((l) => l.ifname);
    return [...links.filter((n) => ours.has(n)), ...await unlistedPoolLinks(this.config.stateDir, links)];
  }

  async close(): Promise<void> {
    await this.stopAgent().catch(() => undefined);
    await this.api?.close().catch(() => undefined);
    await this.kubelet?.stop(true).catch(() => undefined);
    await this.vpp?.stop().catch(() => undefined);
    for (const v of await this.ourVeths().catch(() => [])) await deleteLinkIfExists(v).catch(() => undefined);
    for (const ns of [...this.netnsCreated]) {
      await this.unpin(ns).catch(() => undefined);
      await deleteNetns(ns).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
