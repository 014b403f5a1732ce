// ADD / DEL / CHECK for one pod attachment, expressed against Vswitch (VPP), LinuxOps (iproute2),
// IPAM (host-local) and PodSource, with the pod's progress persisted in the StateStore.
//
// Every resource is recorded in the pod record before (names known up front) or right after (ids
// VPP assigns) it is created, so rollback, DEL and recovery after an agent crash all undo the same
// list in reverse. ADD fails as a whole: on any error everything created so far is undone.
import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  AnnotationError, DEFAULT_NETWORK, STUB_NETWORK, CUSTOM_IF_ANNOTATION, memifResourceCount, parsePodAnnotations, referencedNetworks,
  type CustomInterface, type CustomIfType,
} from '../annotations.js';
import { CniError, ErrorCode, type CniInterface, type CniIpConfig, type CniResult, type CniRoute } from '../spec.js';
import type { AgentRequest } from '../agent-protocol.js';
import type { Link, AddrInfo, RouteInfo, RouteSpec } from '../linux/ip.js';
import { IpamError, type IpamRange, type Lease } from '../ipam.js';
import { hostRange4, parsePrefix4, slice4, formatPrefix4 } from '../ipv4.js';
import { PodSourceError, type CustomNetwork, type PodInfo, type PodSource } from '../pods/types.js';
import { isGone, makeSocketDir, SocketDirError } from './socket-dir.js';
import { randomMemifSecret, SOCKET_NAME } from '../deviceplugin/allocations.js';
import { NET_TAG_PREFIX, VswitchError, parsePodTag, podTag, type Vswitch, type VswitchInterface } from './vswitch.js';
import type { AgentConfig } from './config.js';
import { nodePodSubnet } from './config.js';
import type { NetworkState, NodeState, PodInterfaceState, PodRecord, Resource, StateStore } from './state.js';
import { MemifAllocationError, type PodMemif, type PodMemifSource } from '../podresources/memif-source.js';
import { PodResourcesError } from '../podresources/client.js';
import type { KeyValueStore } from '../etcd/store.js';
import { vnfInterfaceKey, vnfMemifInterface } from '../etcd/vnf-config.js';

/** The iproute2 helpers the pipeline uses (src/cni/linux/ip.ts implements them). */
export interface LinuxOps {
  netnsExists(netns: string): Promise<boolean>;
  createVethPair(o: { hostName: string; podName: string; netns: string; mtu?: number }): Promise<void>;
  deleteLinkIfExists(name: string, netns?: string): Promise<boolean>;
  setLinkUp(name: string, up: boolean, netns?: string): Promise<void>;
  addAddress(netns: string | undefined, dev: string, cidr: string): Promise<void>;
  addRoute(netns: string | undefined, r: RouteSpec): Promise<void>;
  addNeighbor(netns: string | undefined, o: { ip: string; mac: string; dev: string }): Promise<void>;
  listLinks(netns?: string): Promise<Link[]>;
  listAddresses(netns?: string): Promise<AddrInfo[]>;
  listRoutes(netns?: string): Promise<RouteInfo[]>;
}

export interface Ipam {
  allocate(r: IpamRange, k: { containerId: string; ifName: string; netns?: string }): Promise<Lease>;
  release(r: IpamRange, k: { containerId: string; ifName: string }): Promise<void>;
  check(r: IpamRange, k: { containerId: string; ifName: string }, address: string): Promise<void>;
}

export interface PipelineDeps {
  config: AgentConfig;
  vswitch: Vswitch;
  linux: LinuxOps;
  ipam: Ipam;
  pods: PodSource;
  store: StateStore;
  /** Device plugin allocations found through PodResources; without it memif sockets/secrets are the agent's own. */
  memifs?: PodMemifSource;
  /** etcd for contivpp.io/microservice-label pods (ligato vpp-agent layout); without it the label is only recorded. */
  vnfConfig?: KeyValueStore;
  log?: (msg: string) => void;
}

const ip32 = (cidr: string) => `${cidr.split('/')[0]}/32`;
const addrOf = (cidr: string) => cidr.split('/')[0]!;

/** Host-side name of a veth: deterministic (so it can be recorded before creation), ≤ 15 bytes. */
export function vethHostName(containerId: string, ifName: string): string {
  return 'tsv' + createHash('sha256').update(`${containerId}/${ifName}`).digest('hex').slice(0, 11);
}


export class Pipeline {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: (msg: string) => void;

  constructor(readonly d: PipelineDeps) {
    this.log = d.log ?? (() => {});
  }

  /** Runs operations one at a time: pod records, node state and id counters stay consistent. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  handle(req: AgentRequest): Promise<CniResult | undefined> {
    return this.serial(async () => {
      switch (req.command) {
        case 'ADD': return this.add(req);
        case 'DEL': await this.del(req); return undefined;
        case 'CHECK': await this.check(req); return undefined;
      }
    });
  }

  // --- networks -------------------------------------------------------------------------------

  private defaultRange(): IpamRange {
    const subnet = nodePodSubnet(this.d.config);
    return { network: DEFAULT_NETWORK, subnet, ...hostRange4(parsePrefix4(subnet)) };
  }

  private rangeFor(net: NetworkState): IpamRange {
    const subnet = net.nodeSubnet!;
    return { network: net.name, subnet, ...hostRange4(parsePrefix4(subnet)) };
  }

  /** VPP objects a network needs on this node (loopback gateway, VRF or bridge domain), created once. */
  private async ensureNetwork(name: string, cn: CustomNetwork | undefined): Promise<NetworkState> {
    const node = await this.d.store.loadNode();
    const have = node.networks[name];
    if (have) return have;
    const vs = this.d.vswitch;
    let net: NetworkState;
    const undo: Array<() => Promise<void>> = [];
    try {
      if (name === DEFAULT_NETWORK || cn?.type === 'L3') {
        const nodeSubnet = name === DEFAULT_NETWORK ? nodePodSubnet(this.d.config)
          : formatPrefix4(slice4(parsePrefix4(cn!.subnetCIDR!), cn!.subnetOneNodePrefixLen!, this.d.config.nodeId));
        const vrfId = name === DEFAULT_NETWORK ? 0 : node.nextVrfId++;
        if (vrfId !== 0) { await vs.addVrf(vrfId, `tsvpp-${name}`); undo.push(() => vs.deleteVrf(vrfId)); }
        const loop = await vs.createLoopback({ tag: `${NET_TAG_PREFIX}${name}` });
        undo.push(() => vs.deleteLoopback(loop.swIfIndex));
        if (vrfId !== 0) await vs.setInterfaceVrf(loop.swIfIndex, vrfId);
        const gw = `${hostRange4(parsePrefix4(nodeSubnet)).gateway}/${nodeSubnet.split('/')[1]}`;
        await vs.addInterfaceAddress(loop.swIfIndex, gw);
        await vs.setInterfaceUp(loop.swIfIndex, true);
        net = { name, kind: name === DEFAULT_NETWORK ? 'default' : 'L3', vrfId, loopbackSwIfIndex: loop.swIfIndex, gateway: gw, nodeSubnet, ...(cn?.subnetCIDR ? { subnetCIDR: cn.subnetCIDR } : {}) };
      } else if (cn?.type === 'L2') {
        const bdId = node.nextBdId++;
        await vs.addBridgeDomain(bdId);
        undo.push(() => vs.deleteBridgeDomain(bdId));
        net = { name, kind: 'L2', vrfId: 0, bdId };
      } else {
        throw new Error(`network ${name} is neither default nor a known CustomNetwork`);
      }
      node.networks[name] = net;
      await this.d.store.saveNode(node);
      this.log(`network ${name}: created ${JSON.stringify(net)}`);
      return net;
    } catch (e) {
      for (const u of undo.reverse()) await u().catch((x) => this.log(`undo while creating network ${name}: ${(x as Error).message}`));
      throw e;
    }
  }

  // --- ADD --------------------------------------------------------------------------------------

  private async podOf(req: AgentRequest): Promise<PodInfo | undefined> {
    const ns = req.args.K8S_POD_NAMESPACE, name = req.args.K8S_POD_NAME;
    if (!ns || !name) return undefined; // not started by Kubernetes: eth0 only
    try { return await this.d.pods.getPod(ns, name); } catch (e) {
      if (e instanceof PodSourceError) throw new CniError(ErrorCode.PodMetadata, 'cannot read pod metadata', e.message);
      throw e;
    }
  }

  async add(req: AgentRequest): Promise<CniResult> {
    const netns = req.netns;
    if (!netns) throw new CniError(ErrorCode.InvalidEnvironment, 'invalid environment variables', 'CNI_NETNS is required for ADD');
    const existing = await this.d.store.loadPod(req.containerId);
    if (existing) {
      throw new CniError(ErrorCode.AlreadyExists, 'attachment exists already', `container ${req.containerId} already has ${existing.ifName} (phase ${existing.phase}); DEL it first`);
    }
    if (!(await this.d.linux.netnsExists(netns))) throw new CniError(ErrorCode.InvalidEnvironment, 'invalid environment variables', `CNI_NETNS=${netns} does not exist`);

    const pod = await this.podOf(req);
    const annotations = pod?.annotations ?? {};
    // Resolve every CustomNetwork the annotation mentions, then validate everything at once.
    const netNames = referencedNetworks(annotations[CUSTOM_IF_ANNOTATION] ?? '');
    const customNets = new Map<string, CustomNetwork>();
    for (const n of netNames) {
      let cn: CustomNetwork | undefined;
      try { cn = await this.d.pods.getCustomNetwork(n); } catch (e) {
        throw new CniError(ErrorCode.PodMetadata, 'cannot read CustomNetwork', (e as Error).message);
      }
      if (cn) customNets.set(n, cn);
    }
    let parsed;
    try {
      parsed = parsePodAnnotations(annotations, memifResourceCount(pod?.containerLimits ?? []), {
        knownNetworks: new Set(customNets.keys()),
        maxCustomInterfaces: this.d.config.maxCustomInterfaces,
        reservedNames: [req.ifName],
      });
    } catch (e) {
      if (e instanceof AnnotationError) throw new CniError(ErrorCode.InvalidPodAnnotation, 'invalid pod annotation', e.message);
      throw e;
    }

    // The device plugin's allocation for the pod's memifs, found before anything is created.
    let podMemif: PodMemif | undefined;
    if (pod && this.d.memifs && parsed.customIfs.some((c) => c.type === 'memif')) {
      try { podMemif = await this.d.memifs.forPod(pod.namespace, pod.name); } catch (e) {
        if (e instanceof MemifAllocationError) throw new CniError(ErrorCode.PodMetadata, 'no memif device allocated to the pod', `${CUSTOM_IF_ANNOTATION}: memif interface(s) ${parsed.customIfs.filter((c) => c.type === 'memif').map((c) => c.name).join(', ')}, but ${e.message}`);
        if (e instanceof PodResourcesError) throw new CniError(ErrorCode.PodMetadata, 'cannot read pod resources from kubelet', e.message);
        throw e;
      }
    }

    const rec: PodRecord = {
      containerId: req.containerId,
      ifName: req.ifName,
      netns,
      ...(pod ? { pod: { namespace: pod.namespace, name: pod.name, ...(pod.uid ?? req.args.K8S_POD_UID ? { uid: pod.uid ?? req.args.K8S_POD_UID } : {}) } } : {}),
      phase: 'adding',
      resources: [],
      interfaces: [],
      ...(parsed.microserviceLabel ? { microserviceLabel: parsed.microserviceLabel } : {}),
      createdAt: new Date().toISOString(),
    };
    await this.d.store.savePod(rec);
    try {
      const main: CustomInterface = { name: req.ifName, type: this.d.config.eth0Kind === 'tap' ? 'tap' : 'veth', network: DEFAULT_NETWORK };
      await this.addInterface(rec, main, true, customNets);
      let memifId = 0;
      for (const ci of parsed.customIfs) {
        await this.addInterface(rec, ci, false, customNets, ci.type === 'memif' ? ++memifId : undefined, podMemif);
      }
      if (parsed.serviceEndpointIf) {
        const sep = rec.interfaces.find((i) => i.name === parsed.serviceEndpointIf)!;
        const podIp = addrOf(rec.interfaces[0]!.address!);
        const nat = { localIp: addrOf(sep.address!), externalIp: podIp, vrfId: 0 };
        // Recorded first: an agent killed between the two still removes it at DEL.
        await this.record(rec, { kind: 'nat', ...nat });
        await this.d.vswitch.addNatStaticMapping(nat);
        rec.serviceEndpoint = { interface: sep.name, ip: nat.localIp, podIp };
      }
      if (rec.microserviceLabel && podMemif) await this.writeVnfConfig(rec, podMemif);
      rec.result = this.resultOf(rec, req.config.cniVersion);
      rec.phase = 'ready';
      await this.d.store.savePod(rec);
      this.log(`ADD ${req.containerId} ${pod ? `${pod.namespace}/${pod.name}` : ''}: ${rec.interfaces.map((i) => `${i.name}/${i.type}/${i.network}${i.address ? ` ${i.address}` : ''}`).join(', ')}`);
      return rec.result;
    } catch (e) {
      this.log(`ADD ${req.containerId} failed, rolling back: ${(e as Error).message}`);
      const left = await this.undo(rec);
      if (left.length === 0) await this.d.store.removePod(rec.containerId);
      else await this.d.store.savePod(rec); // DEL (or the next agent start) retries the rest
      throw toCniError(e, left);
    }
  }

  private async record(rec: PodRecord, r: Resource): Promise<void> {
    rec.resources.push(r);
    await this.d.store.savePod(rec);
  }

  /** The pod-side memif config for the pod's vpp-agent (or tsvpp memif-agent), one etcd key per memif. */
  private async writeVnfConfig(rec: PodRecord, pm: PodMemif): Promise<void> {
    const kv = this.d.vnfConfig;
    if (!kv) { this.log(`${rec.containerId}: microservice label ${rec.microserviceLabel} but no etcd configured; pod-side config not written`); return; }
    for (const st of rec.interfaces) {
      if (st.type !== 'memif' || !st.memif) continue;
      const key = vnfInterfaceKey(rec.microserviceLabel!, st.name);
      const value = JSON.stringify(vnfMemifInterface({ name: st.name, id: st.memif.id, socketFilename: pm.podSocket, secret: st.memif.secret, ...(st.address ? { ipAddresses: [st.address] } : {}) }));
      // Recorded first: a write that timed out may still be applied by etcd afterwards, and only a
      // recorded key is compare-and-deleted by the rollback or a later DEL.
      const r: Resource = { kind: 'etcd-key', key, value };
      await this.record(rec, r);
      try { await kv.createIfAbsent(key, value); } catch (e) {
        if ((e as { notApplied?: boolean }).notApplied === true) { rec.resources = rec.resources.filter((x) => x !== r); await this.d.store.savePod(rec); }
        throw new CniError(ErrorCode.Wiring, 'etcd auto-configuration failed; everything was rolled back', `contivpp.io/microservice-label ${rec.microserviceLabel}: ${(e as Error).message}`);
      }
    }
  }

  private async addInterface(rec: PodRecord, ci: CustomInterface, main: boolean, customNets: Map<string, CustomNetwork>, memifId?: number, podMemif?: PodMemif): Promise<void> {
    const { vswitch: vs, linux } = this.d;
    const netns = rec.netns!;
    const cn = customNets.get(ci.network);
    const net = ci.network === STUB_NETWORK ? undefined : await this.ensureNetwork(ci.network, cn);
    const routed = net !== undefined && net.kind !== 'L2';
    const st: PodInterfaceState = { name: ci.name, type: ci.type, network: ci.network, main, podRoutes: [] };
    rec.interfaces.push(st);

    // Address first: a failed allocation leaves nothing in VPP or Linux to undo.
    let lease: Lease | undefined;
    if (routed) {
      const range = net!.kind === 'default' ? this.defaultRange() : this.rangeFor(net!);
      const r: Resource = { kind: 'lease', network: net!.name, ifName: ci.name };
      await this.record(rec, r); // before allocating: a crash in between still releases it
      lease = await this.d.ipam.allocate(range, { containerId: rec.containerId, ifName: ci.name, netns });
      r.address = lease.address;
      st.address = ip32(lease.address);
      st.gateway = addrOf(net!.gateway!);
      await this.d.store.savePod(rec);
    }

    const tag = podTag(rec.containerId, ci.name);
    let swIfIndex: number;
    let vppMac: string | undefined;
    switch (ci.type as CustomIfType) {
      case 'tap': {
        const t = await vs.createTap({ hostIfName: ci.name, hostNamespace: netns, tag });
        swIfIndex = t.swIfIndex; vppMac = t.mac;
        await this.record(rec, { kind: 'tap', ifName: ci.name, swIfIndex, tag });
        break;
      }
      case 'veth': {
        const hostName = vethHostName(rec.containerId, ci.name);
        await this.record(rec, { kind: 'veth', ifName: ci.name, hostName });
        await linux.createVethPair({ hostName, podName: ci.name, netns, ...(this.d.config.mtu ? { mtu: this.d.config.mtu } : {}) });
        await linux.setLinkUp(hostName, true);
        const a = await vs.createAfPacket({ hostIfName: hostName, tag });
        swIfIndex = a.swIfIndex; vppMac = a.mac;
        await this.record(rec, { kind: 'afpacket', ifName: ci.name, hostIfName: hostName, swIfIndex, tag });
        break;
      }
      case 'memif': {
        // One socket per pod: the device plugin's dir (mounted at /run/vpp in the pod) when there
        // is an allocation, else a dir of the agent's own; the pod's memifs differ by id.
        let sock = rec.resources.find((r): r is Extract<Resource, { kind: 'memif-socket' }> => r.kind === 'memif-socket');
        if (!sock) {
          const node = await this.d.store.loadNode();
          const socketId = node.nextMemifSocketId++;
          await this.d.store.saveNode(node);
          const dir = podMemif ? podMemif.allocation.hostDir : join(this.d.config.memifSocketDir, rec.containerId);
          const filename = podMemif ? podMemif.allocation.hostSocket : join(dir, SOCKET_NAME);
          sock = { kind: 'memif-socket', socketId, filename, dir };
          await this.record(rec, sock);
          try { await makeSocketDir(dir); } catch (e) { // again after a DEL of an earlier sandbox
            if (e instanceof SocketDirError) throw new CniError(ErrorCode.Wiring, 'cannot create the pod\'s memif socket directory; everything was rolled back', `${e.message} (agent memifSocketDir ${this.d.config.memifSocketDir})`);
            throw e;
          }
          await vs.addMemifSocket({ socketId, filename });
        }
        const { socketId, filename } = sock;
        const secret = podMemif ? podMemif.allocation.secret : randomMemifSecret();
        const m = await vs.createMemif({ socketId, id: memifId!, secret, tag });
        swIfIndex = m.swIfIndex; vppMac = m.mac;
        await this.record(rec, { kind: 'memif', ifName: ci.name, swIfIndex, tag, id: memifId! });
        st.memif = { id: memifId!, socket: filename, secret };
        break;
      }
    }
    await this.attach(rec, st, net, swIfIndex, vppMac, 'full');
  }

  /**
   * Everything after the VPP interface exists: its VPP-side config (bridge domain or VRF,
   * unnumbered to the network's loopback, up, the /32 route) and the pod side of a Linux
   * interface. `podSide` 'neighbor' is for re-wiring after a VPP restart where the pod's interface
   * survived (a veth): only the gateway's MAC changed.
   */
  private async attach(rec: PodRecord, st: PodInterfaceState, net: NetworkState | undefined, swIfIndex: number, vppMac: string | undefined, podSide: 'full' | 'neighbor'): Promise<void> {
    const { vswitch: vs, linux } = this.d;
    const netns = rec.netns!;
    const routed = net !== undefined && net.kind !== 'L2';
    st.swIfIndex = swIfIndex;
    await this.d.store.savePod(rec);

    // VPP side.
    if (net?.kind === 'L2') await vs.setInterfaceBridge(swIfIndex, net.bdId!);
    if (routed && net!.vrfId !== 0) await vs.setInterfaceVrf(swIfIndex, net!.vrfId);
    if (routed) await vs.setUnnumbered(swIfIndex, net!.loopbackSwIfIndex!);
    await vs.setInterfaceUp(swIfIndex, true);
    if (routed) {
      const route = { prefix: st.address!, vrfId: net!.vrfId, swIfIndex, nextHop: addrOf(st.address!) };
      await this.record(rec, { kind: 'route', ...route }); // first: a crash after the add must not leak it
      await vs.addRoute(route);
    }

    // Pod side (Linux interfaces only; a memif's pod side is the pod's own business).
    if (st.type === 'memif') return;
    if (podSide === 'neighbor') {
      if (routed && vppMac) await linux.addNeighbor(netns, { ip: st.gateway!, mac: vppMac, dev: st.name });
      return;
    }
    await linux.setLinkUp(st.name, true, netns);
    if (!routed) return;
    await linux.addAddress(netns, st.name, st.address!);
    const gw = st.gateway!;
    if (vppMac) await linux.addNeighbor(netns, { ip: gw, mac: vppMac, dev: st.name });
    st.podRoutes = [];
    if (st.main) {
      await linux.addRoute(netns, { dst: gw, dev: st.name, scope: 'link' });
      await linux.addRoute(netns, { dst: 'default', via: gw, dev: st.name });
      st.podRoutes.push({ dst: '0.0.0.0/0', gw });
    } else if (net!.kind === 'L3') {
      await linux.addRoute(netns, { dst: gw, dev: st.name, scope: 'link' });
      await linux.addRoute(netns, { dst: net!.subnetCIDR!, via: gw, dev: st.name });
      st.podRoutes.push({ dst: net!.subnetCIDR!, gw });
    }
    // default network custom interface: address only, no extra default route.
    await this.d.store.savePod(rec);
  }

  private resultOf(rec: PodRecord, cniVersion: string): CniResult {
    const interfaces: CniInterface[] = [];
    const ips: CniIpConfig[] = [];
    const routes: CniRoute[] = [];
    for (const st of rec.interfaces) {
      const idx = interfaces.length;
      interfaces.push(st.type === 'memif' ? { name: st.name } : { name: st.name, sandbox: rec.netns! });
      if (st.address) ips.push({ address: st.address, ...(st.gateway ? { gateway: st.gateway } : {}), interface: idx });
      routes.push(...st.podRoutes);
      if (st.type === 'veth') {
        const host = rec.resources.find((r): r is Extract<Resource, { kind: 'veth' }> => r.kind === 'veth' && r.ifName === st.name);
        if (host) interfaces.push({ name: host.hostName });
      }
    }
    return { cniVersion, interfaces, ips, routes };
  }

  // --- undo / DEL -------------------------------------------------------------------------------

  /** Undoes resources in reverse order; returns the ones that could not be removed. */
  private async undo(rec: PodRecord): Promise<Array<{ r: Resource; error: string }>> {
    const failed: Array<{ r: Resource; error: string }> = [];
    let dump: VswitchInterface[] | undefined;
    try { dump = await this.d.vswitch.dumpInterfaces(); } catch (e) {
      this.log(`undo ${rec.containerId}: interface dump failed, deleting blindly: ${(e as Error).message}`);
    }
    const present = dump && new Map(dump.map((i) => [i.swIfIndex, i.tag]));
    const kept: Resource[] = [];
    for (const r of [...rec.resources].reverse()) {
      try {
        await this.untagged(rec, r, dump);
        await this.undoOne(rec, r, present);
      } catch (e) {
        if (e instanceof VswitchError && e.notFound) continue;
        failed.push({ r, error: (e as Error).message });
        kept.unshift(r);
      }
    }
    rec.resources = kept;
    return failed;
  }

  /**
   * memif and af_packet interfaces are tagged in a second call after VPP created them, so an agent
   * killed in between leaves one untagged, which neither the pod record nor the orphan sweep knows.
   * VPP's names find them: the pod's own memif socket id (`memif<socket-id>/<id>`) and the recorded
   * veth host end (`host-<name>`). Deleted before the socket (in use otherwise) and the veth.
   */
  private async untagged(rec: PodRecord, r: Resource, dump: VswitchInterface[] | undefined): Promise<void> {
    if (!dump || (r.kind !== 'memif-socket' && r.kind !== 'veth')) return;
    const vs = this.d.vswitch;
    for (const i of dump) {
      if (i.tag !== '') continue;
      if (r.kind === 'memif-socket' && i.name.startsWith(`memif${r.socketId}/`)) {
        await vs.deleteMemif(i.swIfIndex).catch((e) => { if (!(e instanceof VswitchError && e.notFound)) throw e; });
      } else if (r.kind === 'veth' && i.name === `host-${r.hostName}`) {
        await vs.deleteAfPacket({ hostIfName: r.hostName, swIfIndex: i.swIfIndex }).catch((e) => { if (!(e instanceof VswitchError && e.notFound)) throw e; });
      } else continue;
      this.log(`undo ${rec.containerId}: deleted untagged ${i.name} (created before the agent could tag it)`);
    }
  }

  private async undoOne(rec: PodRecord, r: Resource, present: Map<number, string> | undefined): Promise<void> {
    const vs = this.d.vswitch;
    // An interface is ours only while its sw_if_index still carries our tag (VPP reuses indexes).
    const tagOf = (swIfIndex: number) => rec.resources.find((x): x is Extract<Resource, { tag: string }> => 'tag' in x && x.swIfIndex === swIfIndex)?.tag;
    const gone = (swIfIndex: number) => present !== undefined && present.get(swIfIndex) !== tagOf(swIfIndex);
    switch (r.kind) {
      case 'nat': await vs.deleteNatStaticMapping(r); return;
      case 'etcd-key': {
        if (!this.d.vnfConfig) throw new Error(`etcd key ${r.key} recorded but no etcd configured`);
        await this.d.vnfConfig.compareAndDelete(r.key, r.value); // changed or gone: not ours any more
        return;
      }
      case 'route': if (!gone(r.swIfIndex)) await vs.deleteRoute(r); return;
      case 'tap': if (!gone(r.swIfIndex)) await vs.deleteTap(r.swIfIndex); return;
      case 'afpacket': if (!gone(r.swIfIndex)) await vs.deleteAfPacket({ hostIfName: r.hostIfName, swIfIndex: r.swIfIndex }); return;
      case 'memif': if (!gone(r.swIfIndex)) await vs.deleteMemif(r.swIfIndex); return;
      case 'memif-socket':
        await vs.deleteMemifSocket(r.socketId).catch((e) => { if (!(e instanceof VswitchError && e.notFound)) throw e; });
        await rm(r.dir, { recursive: true, force: true }).catch((e) => { if (!isGone(e)) throw e; });
        return;
      case 'veth': await this.d.linux.deleteLinkIfExists(r.hostName); return;
      case 'lease': {
        const node = await this.d.store.loadNode();
        const net = node.networks[r.network];
        const range = r.network === DEFAULT_NETWORK ? this.defaultRange() : net ? this.rangeFor(net) : undefined;
        if (range) await this.d.ipam.release(range, { containerId: rec.containerId, ifName: r.ifName });
        return;
      }
    }
  }

  async del(req: AgentRequest): Promise<void> {
    const rec = await this.d.store.loadPod(req.containerId);
    if (!rec) {
      // Nothing recorded (never added, or already deleted): still release a stray eth0 lease.
      await this.d.ipam.release(this.defaultRange(), { containerId: req.containerId, ifName: req.ifName }).catch(() => undefined);
      return;
    }
    const left = await this.undo(rec);
    if (left.length) {
      await this.d.store.savePod(rec);
      throw new CniError(ErrorCode.Wiring, 'DEL could not remove everything (retry DEL)', left.map((f) => `${f.r.kind}: ${f.error}`).join('; '));
    }
    await this.d.store.removePod(rec.containerId);
    this.log(`DEL ${req.containerId}: removed`);
  }

  // --- CHECK ------------------------------------------------------------------------------------

  async check(req: AgentRequest): Promise<void> {
    const rec = await this.d.store.loadPod(req.containerId);
    if (!rec || rec.phase !== 'ready') {
      throw new CniError(ErrorCode.CheckFailed, 'CHECK failed', `no completed ADD recorded for container ${req.containerId}`);
    }
    const missing = await this.missing(rec, req);
    if (missing.length) throw new CniError(ErrorCode.CheckFailed, 'CHECK failed: missing or changed', missing.join('; '));
  }

  /** What ADD created that is not there any more. */
  async missing(rec: PodRecord, req?: AgentRequest): Promise<string[]> {
    const out: string[] = [];
    const netns = rec.netns!;
    if (!(await this.d.linux.netnsExists(netns))) return [`netns ${netns} is gone`];
    const vpp = new Map<number, VswitchInterface>((await this.d.vswitch.dumpInterfaces()).map((i) => [i.swIfIndex, i]));
    const links = new Map((await this.d.linux.listLinks(netns)).map((l) => [l.ifname, l]));
    const addrs = await this.d.linux.listAddresses(netns);
    const routes = await this.d.linux.listRoutes(netns);
    const hostLinks = new Set((await this.d.linux.listLinks()).map((l) => l.ifname));
    for (const r of rec.resources) {
      if (r.kind === 'tap' || r.kind === 'afpacket' || r.kind === 'memif') {
        const i = vpp.get(r.swIfIndex);
        if (!i || i.tag !== r.tag) out.push(`VPP ${r.kind} interface for ${r.ifName} (sw_if_index ${r.swIfIndex}) is gone`);
        else if (!i.up) out.push(`VPP ${r.kind} interface for ${r.ifName} (sw_if_index ${r.swIfIndex}) is down`);
      } else if (r.kind === 'veth' && !hostLinks.has(r.hostName)) {
        out.push(`host end ${r.hostName} of veth ${r.ifName} is gone`);
      } else if (r.kind === 'lease' && r.address) {
        const node = await this.d.store.loadNode();
        const range = r.network === DEFAULT_NETWORK ? this.defaultRange() : node.networks[r.network] ? this.rangeFor(node.networks[r.network]!) : undefined;
        if (range) {
          try { await this.d.ipam.check(range, { containerId: rec.containerId, ifName: r.ifName }, r.address); } catch (e) {
            out.push(`IP reservation ${r.address} for ${r.ifName}: ${e instanceof IpamError ? e.detail : (e as Error).message}`);
          }
        }
      }
    }
    for (const st of rec.interfaces) {
      if (st.type === 'memif') continue;
      const l = links.get(st.name);
      if (!l) { out.push(`interface ${st.name} is missing in ${netns}`); continue; }
      if (!l.flags.includes('UP')) out.push(`interface ${st.name} in ${netns} is down`);
      if (st.address) {
        const [a, len] = st.address.split('/');
        const has = addrs.find((x) => x.ifname === st.name)?.addr_info.some((i) => i.local === a && String(i.prefixlen) === len);
        if (!has) out.push(`address ${st.address} is missing on ${st.name}`);
      }
      for (const pr of st.podRoutes) {
        const dst = pr.dst === '0.0.0.0/0' ? 'default' : pr.dst;
        if (!routes.some((x) => x.dst === dst && x.dev === st.name && (!pr.gw || x.gateway === pr.gw))) out.push(`route ${pr.dst}${pr.gw ? ` via ${pr.gw}` : ''} is missing on ${st.name}`);
      }
    }
    // prevResult: interfaces the runtime believes are in the sandbox.
    const prev = req?.config.prevResult;
    for (const i of prev?.interfaces ?? []) {
      if (i.sandbox && i.sandbox === netns && !links.has(i.name)) {
        if (!out.some((m) => m.startsWith(`interface ${i.name} `))) out.push(`interface ${i.name} from prevResult is missing in ${netns}`);
      }
    }
    return out;
  }

  // --- restart ----------------------------------------------------------------------------------

  /**
   * After an agent (re)start or a VPP restart: finish rollbacks of ADDs that were cut short, delete
   * VPP interfaces tagged by us that no pod record owns, forget node networks whose VPP objects
   * are gone (VPP restarted), and re-wire in VPP what ready pods lost.
   */
  async reconcile(): Promise<{ rolledBack: string[]; orphansDeleted: number[]; networksForgotten: string[]; rewired: string[]; rewireFailed: Array<{ containerId: string; error: string }> }> {
    return this.serial(async () => {
      const rolledBack: string[] = [];
      for (const rec of await this.d.store.listPods()) {
        if (rec.phase === 'ready') continue;
        const left = await this.undo(rec);
        if (left.length === 0) { await this.d.store.removePod(rec.containerId); rolledBack.push(rec.containerId); }
        else { await this.d.store.savePod(rec); this.log(`reconcile: ${rec.containerId} still holds ${left.map((l) => l.r.kind).join(', ')}`); }
      }
      const owned = new Set<number>();
      for (const rec of await this.d.store.listPods()) {
        for (const r of rec.resources) if ('swIfIndex' in r) owned.add(r.swIfIndex);
      }
      const dump = await this.d.vswitch.dumpInterfaces();
      const orphansDeleted: number[] = [];
      for (const i of dump) {
        if (!parsePodTag(i.tag) || owned.has(i.swIfIndex)) continue;
        try {
          if (i.name.startsWith('tap')) await this.d.vswitch.deleteTap(i.swIfIndex);
          else if (i.name.startsWith('host-')) await this.d.vswitch.deleteAfPacket({ hostIfName: i.name.slice(5), swIfIndex: i.swIfIndex });
          else if (i.name.startsWith('memif')) await this.d.vswitch.deleteMemif(i.swIfIndex);
          else continue;
          orphansDeleted.push(i.swIfIndex);
        } catch (e) { this.log(`reconcile: deleting orphan ${i.name} (${i.tag}) failed: ${(e as Error).message}`); }
      }
      const node: NodeState = await this.d.store.loadNode();
      const networksForgotten: string[] = [];
      for (const [name, net] of Object.entries(node.networks)) {
        if (net.loopbackSwIfIndex === undefined) continue;
        const i = dump.find((x) => x.swIfIndex === net.loopbackSwIfIndex);
        if (!i || i.tag !== `${NET_TAG_PREFIX}${name}`) { delete node.networks[name]; networksForgotten.push(name); }
      }
      if (networksForgotten.length) {
        // VPP lost its state (it restarted): bridge domains went with the loopbacks.
        for (const [name, net] of Object.entries(node.networks)) if (net.kind === 'L2') { delete node.networks[name]; networksForgotten.push(name); }
        await this.d.store.saveNode(node);
      }
      const rewired: string[] = [];
      const rewireFailed: Array<{ containerId: string; error: string }> = [];
      const present = new Map(dump.map((i) => [i.swIfIndex, i.tag]));
      for (const rec of await this.d.store.listPods()) {
        if (rec.phase !== 'ready') continue;
        try {
          if (await this.rewire(rec, present)) rewired.push(rec.containerId);
        } catch (e) {
          rewireFailed.push({ containerId: rec.containerId, error: (e as Error).message });
          this.log(`reconcile: re-wiring ${rec.containerId} failed: ${(e as Error).message}`);
        }
      }
      return { rolledBack, orphansDeleted, networksForgotten, rewired, rewireFailed };
    });
  }

  /**
   * Re-creates in VPP whatever of a ready pod VPP no longer has (after a VPP restart everything):
   * its interfaces with the same tags, ids and secrets, their VPP-side config, routes and NAT
   * mappings, with the recorded addresses. A tap's Linux side died with VPP and is set up again;
   * a veth survived and only learns the new gateway MAC. Returns false when nothing was missing.
   */
  private async rewire(rec: PodRecord, present: Map<number, string>): Promise<boolean> {
    const vs = this.d.vswitch;
    const netns = rec.netns!;
    const ours = (r: { swIfIndex: number; tag: string }) => present.get(r.swIfIndex) === r.tag;
    const vppIfs = rec.resources.filter((r): r is Extract<Resource, { kind: 'tap' | 'afpacket' | 'memif' }> => r.kind === 'tap' || r.kind === 'afpacket' || r.kind === 'memif');
    const lost = vppIfs.filter((r) => !ours(r));
    if (lost.length === 0) return false;
    if (!(await this.d.linux.netnsExists(netns))) throw new Error(`netns ${netns} is gone (DEL will clean up)`);
    const customNets = new Map<string, CustomNetwork>();
    for (const st of rec.interfaces) {
      if (st.network === DEFAULT_NETWORK || st.network === STUB_NETWORK || customNets.has(st.network)) continue;
      const cn = await this.d.pods.getCustomNetwork(st.network);
      if (!cn) throw new Error(`CustomNetwork ${st.network} no longer exists`);
      customNets.set(st.network, cn);
    }
    // A memif socket is gone with VPP when every memif on it is.
    const sock = rec.resources.find((r): r is Extract<Resource, { kind: 'memif-socket' }> => r.kind === 'memif-socket');
    if (sock && vppIfs.filter((r) => r.kind === 'memif').every((r) => !ours(r))) {
      await makeSocketDir(sock.dir);
      await vs.addMemifSocket({ socketId: sock.socketId, filename: sock.filename });
    }
    // The routes recorded for the old sw_if_indexes went with them (new indexes may reuse old numbers).
    const oldIndexes = new Set(lost.map((r) => r.swIfIndex));
    rec.resources = rec.resources.filter((x) => !(x.kind === 'route' && oldIndexes.has(x.swIfIndex)));
    for (const r of lost) {
      const st = rec.interfaces.find((i) => i.name === r.ifName);
      if (!st) continue;
      const net = st.network === STUB_NETWORK ? undefined : await this.ensureNetwork(st.network, customNets.get(st.network));
      let created: { swIfIndex: number; mac?: string };
      if (r.kind === 'tap') {
        await this.d.linux.deleteLinkIfExists(st.name, netns); // a stale kernel tap would block the name
        created = await vs.createTap({ hostIfName: st.name, hostNamespace: netns, tag: r.tag });
      } else if (r.kind === 'afpacket') {
        created = await vs.createAfPacket({ hostIfName: r.hostIfName, tag: r.tag });
      } else {
        created = await vs.createMemif({ socketId: sock!.socketId, id: r.id, secret: st.memif!.secret, tag: r.tag });
      }
      r.swIfIndex = created.swIfIndex;
      await this.attach(rec, st, net, created.swIfIndex, created.mac, r.kind === 'tap' ? 'full' : 'neighbor');
    }
    for (const r of rec.resources) if (r.kind === 'nat') await vs.addNatStaticMapping(r);
    await this.d.store.savePod(rec);
    this.log(`re-wired ${rec.containerId}: ${lost.map((r) => `${r.ifName} (${r.kind}) -> sw_if_index ${r.swIfIndex}`).join(', ')}`);
    return true;
  }
}

function toCniError(e: unknown, left: Array<{ r: Resource; error: string }>): CniError {
  const tail = left.length ? ` (rollback left ${left.map((f) => `${f.r.kind}: ${f.error}`).join('; ')}; DEL will retry)` : '';
  if (e instanceof CniError) return tail ? new CniError(e.code, e.msg, (e.details ?? '') + tail) : e;
  if (e instanceof IpamError) return new CniError(ErrorCode.Ipam, 'IP address allocation failed', e.message + tail);
  return new CniError(ErrorCode.Wiring, 'configuring the pod network failed; everything was rolled back', (e as Error).message + tail);
}
