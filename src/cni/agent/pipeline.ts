// ADD / DEL / CHECK for one pod attachment, expressed against Vswitch (VPP), LinuxOps (iproute2),
// IPAM (host-local) and PodSource, with the pod's progress persisted in the StateStore.
//
// Every resource is recorded in the pod record before (names known up front) or right after (ids
// VPP assigns) it is created, so rollback, DEL and recovery after an agent crash all undo the same
// list in reverse. ADD fails as a whole: on any error everything created so far is undone.
// What differs between tap, veth and memif lives in their modules (kinds/); the node's side of
// each network in networks.ts.
import { readFileSync } from 'node:fs';
import {
  AnnotationError, DEFAULT_NETWORK, STUB_NETWORK, CUSTOM_IF_ANNOTATION, MICROSERVICE_LABEL_ANNOTATION, SERVICE_ENDPOINT_IF_ANNOTATION, memifResourceCount, parsePodAnnotations,
  referencedNetworks, type CustomInterface, type CustomIfType,
} from '../annotations.js';
import { CniError, ErrorCode, validAttachments, type CniInterface, type CniIpConfig, type CniResult, type CniRoute } from '../spec.cjs';
import type { AgentRequest } from '../agent-protocol.cjs';
import { exhaustive } from '../exhaustive.js';
import { contains4, parsePrefix4 } from '../ipv4.js';
import type { Link, AddrInfo, LinkConfig, RouteInfo, RuleInfo, RuleSpec } from '../linux/ip.js';
import { IpamError, type IpamRange, type Lease, type LeaseFile } from '../ipam.js';
import type { CustomNetwork, PodSource } from '../pods/types.js';
import type { PodMemifSource } from '../podresources/memif-source.js';
import { EtcdError, type KeyValueStore } from '../etcd/store.js';
import { claimLabel, LabelOwnedError, releaseLabel } from '../etcd/label-owner.js';
import { describeSources, podMetadata } from './pod-metadata.js';
import { VswitchError, parsePodTag, podTag, type CreatedInterface, type Vswitch, type VswitchInterface } from './vswitch.js';
import type { AgentConfig, Eth0Kind } from './config.js';
import type { NetworkState, NodeState, PodInterfaceState, PodRecord, Resource, StateStore } from './state.js';
import { Networks, type NodeSlice } from './networks.js';
import { isVppIf, kindOf, kindOfVppName, resourceHandler } from './kinds/index.js';
import type { KindAdd, KindContext, KindCreated } from './kinds/kind.js';
import { podPoolLinks, type VethPool } from './veth-pool.js';

/** The Linux network configuration the pipeline uses (src/cni/linux/ip.ts implements it over rtnetlink). */
export interface LinuxOps {
  netnsExists(netns: string): Promise<boolean>;
  /**
   * `up`: the host end; `noGso`: the pod end sends no GSO packets; no `netns`: the peer stays in the
   * agent's namespace; `group`: both ends' link group (deleteLinkGroup).
   */
  createVethPair(o: { hostName: string; podName: string; netns?: string; mtu?: number; up?: boolean; podMac?: string; noGso?: boolean; group?: number }): Promise<void>;
  /** What arrives on `dev` is sent out of `to` (tc: clsact, a match-all u32 filter, mirred egress redirect); replaces the one before. */
  redirectIngress(o: { dev: string; to: string; netns?: string }): Promise<void>;
  /** Deletes the ingress filters (redirects) of each of `devs`; a link that is not there has none. */
  clearIngress(devs: readonly string[], netns?: string): Promise<void>;
  /** Deletes the links of `group` in one batch (one RCU wait for all); returns how many there were.
   *  With `late`: as soon as the kernel announced their removal, the RCU wait finishing in the
   *  background (an error it reports goes to `late`). */
  deleteLinkGroup(group: number, netns?: string, late?: (e: Error) => void): Promise<number>;
  moveLink(o: { name: string; netns: string; newName: string }): Promise<void>;
  deleteLinkIfExists(name: string, netns?: string): Promise<boolean>;
  /** One link's up, addresses, neighbours and routes at once; returns the link (its MAC). */
  configureLink(netns: string | undefined, c: LinkConfig): Promise<Link>;
  addRule(netns: string | undefined, r: RuleSpec): Promise<void>;
  listLinks(netns?: string): Promise<Link[]>;
  listAddresses(netns?: string): Promise<AddrInfo[]>;
  listRoutes(netns?: string, table?: number): Promise<RouteInfo[]>;
  listRules(netns?: string): Promise<RuleInfo[]>;
}

/** What the pipeline tells the node's service proxy (services/services.ts). */
export interface ServiceHooks {
  /** A pod interface on the default network: service NAT on it (before the pod sends anything). */
  podInterface(swIfIndex: number): Promise<void>;
  /**
   * A pod with a service-endpoint interface came or went: its Services' backends and its pod-IP
   * translations change. Resolves once VPP has them (DEL waits: the pod's addresses are released
   * after, and a translation left on a reused address would take the next pod's traffic).
   */
  podsChanged(): Promise<void> | void;
}

export interface Ipam {
  allocate(r: IpamRange, k: { containerId: string; ifName: string; netns?: string }): Promise<Lease>;
  release(r: IpamRange, k: { containerId: string; ifName: string }): Promise<void>;
  check(r: IpamRange, k: { containerId: string; ifName: string }, address: string): Promise<void>;
  /** False only when (containerId, ifName) certainly holds no lease in `r` (read without allocating). */
  mayHold(r: IpamRange, k: { containerId: string; ifName: string }): Promise<boolean>;
  /** Every lease held in `r` and who holds it (read without allocating). */
  listLeases(r: IpamRange): Promise<LeaseFile[]>;
  /** Deletes the lease of `address` in `r` if it names no container; whether it did. */
  dropOwnerless(r: IpamRange, address: string): Promise<boolean>;
}

export interface PipelineDeps {
  config: AgentConfig;
  /** This node's pod slice (src/cni/nodes: its Node's spec.podCIDR or a claimed slice). */
  node: NodeSlice;
  vswitch: Vswitch;
  linux: LinuxOps;
  ipam: Ipam;
  pods: PodSource;
  store: StateStore;
  /** Device plugin allocations found through PodResources; without it memif sockets/secrets are the agent's own. */
  memifs?: PodMemifSource;
  /** etcd for contivpp.io/microservice-label pods (ligato vpp-agent layout); without it the label is only recorded. */
  vnfConfig?: KeyValueStore;
  /** Services served in VPP (primary mode); without it pods get no service NAT. */
  services?: ServiceHooks;
  /** Pod veths made ahead of time (veth-pool.ts); without it every veth is made at ADD. */
  pool?: VethPool;
  /** Called (in the pipeline's turn) after a network was created on this node: its paths to the other nodes. */
  networkCreated?: (net: NetworkState) => Promise<void>;
  log?: (msg: string) => void;
  /** This boot's id (default: the kernel's boot_id); recorded in pod records, see reconcile. */
  bootId?: string;
}

/** The kernel's id of this boot: a new one after every reboot. */
export function kernelBootId(): string {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch (e) {
    throw new Error(`reading this boot's id (/proc/sys/kernel/random/boot_id): ${(e as Error).message}`);
  }
}

/**
 * The pod's policy routing for its service endpoint: what leaves from that interface's address
 * looks up this table, whose default route is through that interface, so a Service's replies go
 * back the way its requests came (the main table would send them out of eth0).
 */
export const SERVICE_REPLY_TABLE = 100;
export const SERVICE_REPLY_RULE_PRIORITY = 100;

/** How long STATUS waits for VPP's answer to a control ping before it says VPP does not answer. */
export const STATUS_VPP_MS = 3000;

const ip32 = (cidr: string) => `${cidr.split('/')[0]}/32`;
const addrOf = (cidr: string) => cidr.split('/')[0]!;

/** The kind of the pod's main interface (CNI_IFNAME) for each eth0Kind, as the agent resolved it at start. */
const ETH0_TYPE: { [K in Eth0Kind]: CustomIfType | undefined } = { tap: 'tap', 'veth-afpacket': 'veth', auto: undefined };

export type ReconcileReport = {
  rolledBack: string[]; leasesReleased: string[]; orphansDeleted: number[]; networksForgotten: string[]; rewired: string[]; rewireFailed: Array<{ containerId: string; error: string }>;
  /** Host ends of veth pool members deleted (broken, or unknown to the pool). */
  poolDeleted: string[];
};

export class Pipeline implements KindContext {
  private queue: Promise<unknown> = Promise.resolve();
  /** CNI requests received and not yet answered. */
  private requests = 0;
  private lastServed = Date.now();
  readonly log: (msg: string) => void;
  private readonly networks: Networks;
  /** etcd did not answer during this pod's request: its undo does not wait on etcd again (the
   *  etcd resources stay recorded for DEL), so one deadline bounds the answer, not one per key. */
  private readonly etcdDown = new WeakMap<PodRecord, string>();

  private readonly bootId: string;
  /** Re-wirings after a VPP restart under way (STATUS), and STATUS's last answer (undefined: ready). */
  private rewiring = 0;
  private lastStatus: string | undefined;

  constructor(readonly d: PipelineDeps) {
    this.log = d.log ?? (() => {});
    this.bootId = d.bootId ?? kernelBootId();
    this.networks = new Networks({ ...d, log: this.log });
  }

  /** Runs fn in the pipeline's turn (the cluster reconciler shares the node state). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> { return this.serial(fn); }

  /** Runs operations one at a time: pod records, node state and id counters stay consistent. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Whether a CNI request is waiting for its turn or being served. */
  get serving(): boolean { return this.requests > 0; }

  /** When the last CNI request was answered (before the first: when the pipeline was made). Set
   *  before any turn queued behind that request runs (the veth pool's trim counts from it). */
  get servedAt(): number { return this.lastServed; }

  async handle(req: AgentRequest): Promise<CniResult | undefined> {
    const command = req.command;
    // STATUS asks about VPP, not about a pod: it waits for no turn, and a runtime asking every few
    // seconds does not count as pods coming (the veth pool's idle trim).
    if (command === 'STATUS') { await this.status(); return undefined; }
    this.requests++;
    try {
      return await this.serial(async () => {
        switch (command) {
          case 'ADD': return this.add(req);
          case 'DEL': await this.del(req); return undefined;
          case 'CHECK': await this.check(req); return undefined;
          case 'GC': await this.gc(req); return undefined;
          default: return exhaustive(command, 'CNI command');
        }
      });
    } finally { this.requests--; this.lastServed = Date.now(); }
  }

  // --- ADD --------------------------------------------------------------------------------------

  /**
   * Chained: the primary's pod addresses must lie outside tsvpp's pod network, or the pod's route
   * to podSubnet through VPP would take the primary network's own traffic.
   */
  private refuseOverlap(prev: CniResult): void {
    const subnet = parsePrefix4(this.d.config.podSubnet);
    const clash = (prev.ips ?? []).find((ip) => !ip.address.includes(':') && contains4(subnet, ip.address.split('/')[0]!));
    if (clash) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration',
        `prevResult address ${clash.address} (the primary CNI's) is inside tsvpp's podSubnet ${this.d.config.podSubnet}: give tsvpp a podSubnet apart from the primary CNI's pod network`);
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

    const meta = await podMetadata(req, this.d.pods);
    const { pod, annotations } = meta;
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
    // Chained (a plugin before us in the conflist made the pod's eth0): prevResult is what it made.
    const prev = req.config.prevResult;
    if (prev) this.refuseOverlap(prev);
    let parsed;
    try {
      parsed = parsePodAnnotations(annotations, memifResourceCount(meta.containerLimits), {
        knownNetworks: new Set(customNets.keys()),
        maxCustomInterfaces: this.d.config.maxCustomInterfaces,
        reservedNames: [req.ifName, ...(prev?.interfaces ?? []).filter((i) => i.sandbox === netns).map((i) => i.name)],
      });
      if (prev && parsed.serviceEndpointIf) {
        throw new AnnotationError(SERVICE_ENDPOINT_IF_ANNOTATION, 'not available in chained mode: Services are the primary CNI\'s (the pod\'s eth0 address is not in VPP)');
      }
    } catch (e) {
      if (e instanceof AnnotationError) throw new CniError(ErrorCode.InvalidPodAnnotation, 'invalid pod annotation', e.message);
      throw e;
    }

    // The pod's interfaces in creation order: the main one, then the annotation's. Each kind they
    // use begins before anything is created (it may look up a device allocation).
    const eth0 = ETH0_TYPE[this.d.config.eth0Kind];
    if (!eth0) throw new Error(`eth0Kind ${this.d.config.eth0Kind} must be resolved when the agent starts (resolveEth0Kind)`);
    const ifs: CustomInterface[] = prev ? parsed.customIfs : [{ name: req.ifName, type: eth0, network: DEFAULT_NETWORK }, ...parsed.customIfs];
    const adds = new Map<CustomIfType, KindAdd>();
    for (const ci of ifs) {
      if (!adds.has(ci.type)) adds.set(ci.type, await kindOf(ci.type).begin(this, pod, ifs.filter((x) => x.type === ci.type)));
    }

    const rec: PodRecord = {
      containerId: req.containerId,
      ifName: req.ifName,
      netns,
      ...(pod ? { pod } : {}),
      metadataSources: meta.sources,
      phase: 'adding',
      resources: [],
      interfaces: [],
      ...(parsed.microserviceLabel ? { microserviceLabel: parsed.microserviceLabel } : {}),
      ...(prev ? { chained: true } : {}),
      cniNetwork: req.config.name,
      createdAt: new Date().toISOString(),
      bootId: this.bootId,
    };
    await this.d.store.savePod(rec);
    try {
      if (rec.microserviceLabel && pod) await this.claimLabel(rec, pod.namespace);
      await this.addInterfaces(rec, ifs, !prev, customNets, adds);
      if (parsed.serviceEndpointIf) {
        const sep = rec.interfaces.find((i) => i.name === parsed.serviceEndpointIf)!;
        rec.serviceEndpoint = { interface: sep.name, ip: addrOf(sep.address!), podIp: addrOf(rec.interfaces[0]!.address!) };
        await this.routeServiceReplies(rec, sep);
      }
      for (const a of adds.values()) await a.finish?.(rec);
      rec.result = prev ? extendResult(prev, this.resultOf(rec, req.config.cniVersion)) : this.resultOf(rec, req.config.cniVersion);
      rec.phase = 'ready';
      // Not fsynced (two fsyncs, ~15 ms here): what outlives the node is durable already (etcd
      // keys, recorded before they are written); a node crash takes the pod with it, and a record
      // that comes back older is rolled back or swept at start like any other.
      await this.d.store.savePod(rec);
      if (rec.serviceEndpoint) await this.d.services?.podsChanged();
      this.log(`ADD ${req.containerId} ${pod ? `${pod.namespace}/${pod.name}` : ''} (${describeSources(meta.sources)}): ${rec.interfaces.map((i) => `${i.name}/${i.type}/${i.network}${i.address ? ` ${i.address}` : ''}`).join(', ')}`);
      return rec.result;
    } catch (e) {
      this.log(`ADD ${req.containerId} failed, rolling back: ${(e as Error).message}`);
      const left = await this.undo(rec);
      if (left.length === 0) await this.d.store.removePod(rec.containerId);
      else await this.d.store.savePod(rec, { durable: true }); // DEL (or the next agent start) retries the rest
      throw toCniError(e, left);
    }
  }

  async record(rec: PodRecord, ...rs: Resource[]): Promise<void> {
    rec.resources.push(...rs);
    // What is written to etcd outlives the node: its record must too.
    await this.d.store.savePod(rec, { durable: rs.some((r) => r.kind === 'etcd-key' || r.kind === 'label-claim') });
  }

  /** Makes the pod a holder of its microservice label, or fails (code 100) naming the namespace that owns it. */
  private async claimLabel(rec: PodRecord, namespace: string): Promise<void> {
    const kv = this.d.vnfConfig;
    if (!kv) return; // no etcd: nothing is published under the label, so nothing to own
    const label = rec.microserviceLabel!;
    // Recorded first: a claim that timed out may still be applied; the rollback releases it.
    const r: Resource = { kind: 'label-claim', label };
    await this.record(rec, r);
    try { await claimLabel(kv, label, namespace, rec.containerId); } catch (e) {
      // Certainly not written (refused, or never sent): nothing for the rollback to release.
      if (e instanceof LabelOwnedError || (e as { notApplied?: boolean }).notApplied === true) {
        rec.resources = rec.resources.filter((x) => x !== r);
        await this.d.store.savePod(rec);
      }
      if (e instanceof EtcdError && !e.conflict) this.etcdDown.set(rec, e.message);
      if (e instanceof LabelOwnedError) throw new CniError(ErrorCode.InvalidPodAnnotation, 'microservice label used by another namespace', `${MICROSERVICE_LABEL_ANNOTATION}: ${e.message}`);
      throw new CniError(ErrorCode.Wiring, 'etcd auto-configuration failed; everything was rolled back', `${MICROSERVICE_LABEL_ANNOTATION} ${label}: ${(e as Error).message}`);
    }
  }

  async writeEtcdKey(rec: PodRecord, key: string, value: string): Promise<void> {
    const kv = this.d.vnfConfig;
    if (!kv) throw new Error(`etcd key ${key}: no etcd configured`);
    // Recorded first: a write that timed out may still be applied by etcd afterwards, and only a
    // recorded key is compare-and-deleted by the rollback or a later DEL.
    const r: Resource = { kind: 'etcd-key', key, value };
    await this.record(rec, r);
    try { await kv.createIfAbsent(key, value); } catch (e) {
      if ((e as { notApplied?: boolean }).notApplied === true) { rec.resources = rec.resources.filter((x) => x !== r); await this.d.store.savePod(rec); }
      if (e instanceof EtcdError && !e.conflict) this.etcdDown.set(rec, e.message);
      throw new CniError(ErrorCode.Wiring, 'etcd auto-configuration failed; everything was rolled back', `${MICROSERVICE_LABEL_ANNOTATION} ${rec.microserviceLabel}: ${(e as Error).message}`);
    }
  }

  /**
   * The pod's interfaces: their networks first (they may create VPP objects); then each kind
   * creates its interfaces while host-local allocates the addresses (a process per address; the
   * networks' at once, in pod order within a network so the first interface gets the lowest
   * address); then the interfaces are attached, both sides, all at once. A failure waits for what is in flight,
   * so that the rollback undoes all of it.
   */
  private async addInterfaces(rec: PodRecord, ifs: readonly CustomInterface[], firstIsMain: boolean, customNets: Map<string, CustomNetwork>, adds: Map<CustomIfType, KindAdd>): Promise<void> {
    const sts: Array<{ st: PodInterfaceState; net: NetworkState | undefined }> = [];
    for (const [i, ci] of ifs.entries()) {
      const net = ci.network === STUB_NETWORK ? undefined : await this.networks.ensure(ci.network, customNets.get(ci.network));
      const st: PodInterfaceState = { name: ci.name, type: ci.type, network: ci.network, main: i === 0 && firstIsMain, podRoutes: [] };
      rec.interfaces.push(st);
      sts.push({ st, net });
    }
    const leases = this.allocate(rec, sts);
    const allocated = leases.then(() => undefined, () => undefined); // handled now; thrown below
    // Created one after the other; a pod end the kernel is still moving into the pod (one link at
    // a time, under its rtnl lock) moves while the next interface is made.
    const created: KindCreated[] = [];
    try {
      try {
        for (const { st } of sts) created.push(await whichInterface(st, () => adds.get(st.type)!.create(rec, st, podTag(rec.containerId, st.name))));
      } finally { await allocated; }
      await leases;
      // Attached side by side: each touches only its own interface in VPP and its own link in the
      // pod (VPP carries the requests out in order), and the record's saves coalesce.
      await settled(sts.map(({ st, net }, i) => whichInterface(st, () => this.attach(rec, st, net, created[i]!, false))));
    } finally {
      // After a failure no move is left in flight for the rollback to race.
      await Promise.allSettled(created.map((c) => c.podEndReady));
    }
  }

  /** The addresses of the pod's routed interfaces, each lease recorded before it is asked for. */
  private async allocate(rec: PodRecord, sts: ReadonlyArray<{ st: PodInterfaceState; net: NetworkState | undefined }>): Promise<void> {
    const leases = sts.filter(({ net }) => net && net.kind !== 'L2').map(({ st, net }) => ({ st, net: net!, r: { kind: 'lease', network: net!.name, ifName: st.name } as Extract<Resource, { kind: 'lease' }> }));
    if (leases.length === 0) return;
    rec.resources.push(...leases.map((l) => l.r));
    await this.d.store.savePod(rec); // before allocating: a crash in between still releases them
    const byNetwork = new Map<string, typeof leases>();
    for (const l of leases) byNetwork.set(l.net.name, [...(byNetwork.get(l.net.name) ?? []), l]);
    const got = await Promise.allSettled([...byNetwork.values()].map(async (ls) => {
      for (const { st, net, r } of ls) {
        const lease = await this.d.ipam.allocate(this.networks.rangeFor(net), { containerId: rec.containerId, ifName: st.name, netns: rec.netns! });
        r.address = lease.address;
        st.address = ip32(lease.address);
        st.gateway = addrOf(net.gateway!);
      }
    }));
    await this.d.store.savePod(rec);
    const failed = got.find((g): g is PromiseRejectedResult => g.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Everything after the VPP interface exists: its VPP-side config (bridge domain or VRF,
   * unnumbered to the network's loopback, up, the /32 route) and, when the pod sees a Linux
   * interface, its pod side. After a VPP restart (`rewired`) a pod end that outlived VPP only
   * learns the gateway's new MAC.
   */
  private async attach(rec: PodRecord, st: PodInterfaceState, net: NetworkState | undefined, created: KindCreated, rewired: boolean): Promise<void> {
    const vs = this.d.vswitch;
    const { swIfIndex } = created;
    const routed = net !== undefined && net.kind !== 'L2';
    st.swIfIndex = swIfIndex;
    // VPP side, sent at once (VPP carries requests out in order); the route recorded before.
    const route = routed ? { prefix: st.address!, vrfId: net!.vrfId, swIfIndex, nextHop: addrOf(st.address!) } : undefined;
    if (route) rec.resources.push({ kind: 'route', ...route }); // a crash after the add must not leak it
    // The pod end's MAC, when the kind chose it: VPP would learn it by ARP and drop the packet that
    // made it ask, so it gets it as a static neighbour, here already rather than after the pod side.
    const early = routed ? created.podMac ?? kindOf(st.type).podMac?.(st) : undefined;
    const neighbor = early ? { kind: 'neighbor' as const, ifName: st.name, swIfIndex, ip: addrOf(st.address!), mac: early } : undefined;
    if (neighbor) rec.resources.push(neighbor);
    await this.d.store.savePod(rec);
    await settled([
      net?.kind === 'L2' ? vs.setInterfaceBridge(swIfIndex, net.bdId!) : undefined,
      routed && net!.vrfId !== 0 ? vs.setInterfaceVrf(swIfIndex, net!.vrfId) : undefined,
      routed ? vs.setUnnumbered(swIfIndex, net!.loopbackSwIfIndex!) : undefined,
      // Chained, Services are the primary CNI's: the pod's service traffic does not pass VPP.
      net?.kind === 'default' && !rec.chained ? this.d.services?.podInterface(swIfIndex) : undefined,
      vs.setInterfaceUp(swIfIndex, true),
      route ? vs.addRoute(route) : undefined,
      neighbor ? vs.addNeighbor({ swIfIndex, ip: neighbor.ip, mac: neighbor.mac }) : undefined,
    ]);
    // Pod side, which gives the pod end's MAC where the kind did not choose it (a pod end that
    // outlived a VPP restart, a tap); a pod end whose MAC is not the chosen one gets it replaced.
    await created.podEndReady;
    const podLink = await this.podSide(rec, st, net, created, rewired);
    const podMac = podLink ? podLink.address : kindOf(st.type).podMac?.(st);
    if (routed && (podLink || podMac) && podMac !== early) {
      if (!podMac) throw new Error(`interface ${st.name} in ${rec.netns} has no MAC address`);
      if (neighbor) rec.resources = rec.resources.filter((r) => r !== neighbor); // replaced below (same address)
      const n = { swIfIndex, ip: addrOf(st.address!), mac: podMac };
      await this.record(rec, { kind: 'neighbor', ifName: st.name, ...n });
      await vs.addNeighbor(n);
    }
    // A service endpoint's tap came back empty after a VPP restart: its reply routing too.
    if (rewired && rec.serviceEndpoint?.interface === st.name && kindOf(st.type).podEnd === 'dies-with-vpp') await this.routeServiceReplies(rec, st);
  }

  /**
   * The pod's end of an interface in one batch in its netns: up, the address, the gateway's MAC,
   * the routes (after a VPP restart, a pod end that outlived VPP only learns the gateway's new
   * MAC). Returns the link, or undefined when the pod has no Linux end.
   */
  private async podSide(rec: PodRecord, st: PodInterfaceState, net: NetworkState | undefined, created: CreatedInterface, rewired: boolean): Promise<Link | undefined> {
    const netns = rec.netns!, routed = net !== undefined && net.kind !== 'L2';
    const gwNeighbor = routed && created.mac ? [{ ip: st.gateway!, mac: created.mac }] : [];
    const end = kindOf(st.type).podEnd;
    switch (end) {
      case 'none': return undefined;
      case 'outlives-vpp':
        if (rewired) return this.d.linux.configureLink(netns, { name: st.name, neighbors: gwNeighbor });
        break;
      case 'dies-with-vpp': break;
      default: exhaustive(end, 'pod end');
    }
    if (!routed) return this.d.linux.configureLink(netns, { name: st.name, up: true });
    const gw = st.gateway!;
    const routes: LinkConfig['routes'] = [];
    st.podRoutes = [];
    if (st.main) {
      routes.push({ dst: gw, scope: 'link' }, { dst: 'default', via: gw });
      st.podRoutes.push({ dst: '0.0.0.0/0', gw });
    } else if (net!.kind === 'L3' || (rec.chained && rec.interfaces.find((i) => i.network === DEFAULT_NETWORK) === st)) {
      // An L3 network's subnet; chained, tsvpp's pod network through its first default-network
      // interface (eth0 and the default route are the primary CNI's).
      const dst = net!.kind === 'L3' ? net!.subnetCIDR! : this.d.config.podSubnet;
      routes.push({ dst: gw, scope: 'link' }, { dst, via: gw });
      st.podRoutes.push({ dst, gw });
    }
    // Another default network custom interface: address only, no extra route.
    return this.d.linux.configureLink(netns, { name: st.name, up: true, addresses: [st.address!], neighbors: gwNeighbor, routes });
  }

  /** Replies from the service endpoint's address leave through it (SERVICE_REPLY_TABLE). */
  private async routeServiceReplies(rec: PodRecord, st: PodInterfaceState): Promise<void> {
    const { linux } = this.d;
    const netns = rec.netns!, from = addrOf(st.address!), gw = st.gateway!, table = SERVICE_REPLY_TABLE;
    await linux.configureLink(netns, { name: st.name, routes: [{ dst: gw, scope: 'link', table }, { dst: 'default', via: gw, table }] });
    if (!(await linux.listRules(netns)).some((r) => isServiceReplyRule(r, from))) await linux.addRule(netns, { from, table, priority: SERVICE_REPLY_RULE_PRIORITY });
  }

  private resultOf(rec: PodRecord, cniVersion: string): CniResult {
    const interfaces: CniInterface[] = [];
    const ips: CniIpConfig[] = [];
    const routes: CniRoute[] = [];
    for (const st of rec.interfaces) {
      const idx = interfaces.length;
      interfaces.push(...kindOf(st.type).result(rec, st));
      if (st.address) ips.push({ address: st.address, ...(st.gateway ? { gateway: st.gateway } : {}), interface: idx });
      routes.push(...st.podRoutes);
    }
    return { cniVersion, interfaces, ips, routes };
  }

  // --- undo / DEL -------------------------------------------------------------------------------

  /**
   * Undoes resources in reverse order; returns the ones that could not be removed. What nothing
   * undone after it waits for (a lease, a veth, the af_packet on it: `background`) runs in the
   * background while the undo goes on; everything is settled before this returns.
   */
  private async undo(rec: PodRecord): Promise<Array<{ r: Resource; error: string }>> {
    const failed: Array<{ r: Resource; error: string }> = [];
    const node = lazy(() => this.d.store.loadNode());
    // Read beside the dump, for the leases' releases: later Node's thread pool (file reads) may be
    // held by the kernel's waits (veth deletions).
    if (rec.resources.some((r) => r.kind === 'lease')) node().catch(() => undefined);
    let dump: VswitchInterface[] | undefined;
    try { dump = await this.d.vswitch.dumpInterfaces(); } catch (e) {
      this.log(`undo ${rec.containerId}: interface dump failed, deleting blindly: ${(e as Error).message}`);
    }
    const kept = new Set<Resource>();
    const background: Promise<void>[] = [];
    for (const r of [...rec.resources].reverse()) {
      const down = this.etcdDown.get(rec);
      if (down && (r.kind === 'etcd-key' || r.kind === 'label-claim')) {
        failed.push({ r, error: `not tried: ${down}` });
        kept.add(r);
        continue;
      }
      const undo = this.undoOne(rec, r, dump, node).catch((e: unknown) => {
        if (e instanceof VswitchError && e.notFound) return;
        if (e instanceof EtcdError && !e.conflict) this.etcdDown.set(rec, e.message);
        failed.push({ r, error: (e as Error).message });
        kept.add(r);
      });
      if (undoesInBackground(r)) background.push(undo);
      else await undo;
    }
    await Promise.all(background);
    this.etcdDown.delete(rec);
    rec.resources = rec.resources.filter((r) => kept.has(r));
    return failed;
  }

  private async undoOne(rec: PodRecord, r: Resource, dump: VswitchInterface[] | undefined, node: () => Promise<NodeState>): Promise<void> {
    // An interface (and a route through it) is ours only while its sw_if_index still carries our
    // tag: VPP reuses indexes.
    if ('swIfIndex' in r && dump && dump.find((i) => i.swIfIndex === r.swIfIndex)?.tag !== tagAt(rec, r.swIfIndex)) return;
    const vs = this.d.vswitch;
    switch (r.kind) {
      case 'lease': {
        const range = this.networks.range(r.network, await node());
        if (range) await this.d.ipam.release(range, { containerId: rec.containerId, ifName: r.ifName });
        return;
      }
      case 'route': await vs.deleteRoute(r); return;
      case 'neighbor': await vs.deleteNeighbor(r); return;
      case 'nat': await vs.deleteLegacyNatMapping(r); return;
      case 'etcd-key': {
        if (!this.d.vnfConfig) throw new Error(`etcd key ${r.key} recorded but no etcd configured`);
        await this.d.vnfConfig.compareAndDelete(r.key, r.value); // changed or gone: not ours any more
        return;
      }
      case 'label-claim': {
        if (!this.d.vnfConfig) throw new Error(`microservice label ${r.label} claimed but no etcd configured`);
        await releaseLabel(this.d.vnfConfig, r.label, rec.containerId);
        return;
      }
      default: { // what an interface kind recorded
        const h = resourceHandler(r);
        if (dump) await h.untagged?.(this, rec, r, dump);
        await h.undo(this, rec, r);
      }
    }
  }

  async del(req: AgentRequest): Promise<void> {
    const rec = await this.d.store.loadPod(req.containerId);
    if (!rec) {
      // Nothing recorded (never added, or already deleted): still release a stray eth0 lease.
      const range = this.networks.defaultRange(), key = { containerId: req.containerId, ifName: req.ifName };
      if (await this.d.ipam.mayHold(range, key).catch(() => true)) await this.d.ipam.release(range, key).catch(() => undefined);
      return;
    }
    await this.remove(rec, 'DEL');
  }

  /** Undoes everything `rec` holds and forgets it (DEL, and GC for a stale attachment). */
  private async remove(rec: PodRecord, by: 'DEL' | 'GC'): Promise<void> {
    // A DEL cut short (or failed) is finished by the next reconcile, never re-wired as a ready pod.
    rec.phase = 'deleting';
    await this.d.store.savePod(rec);
    // A deleting pod is no service endpoint: its translations go before its addresses do.
    if (rec.serviceEndpoint) await this.d.services?.podsChanged();
    const left = await this.undo(rec);
    if (left.length) {
      await this.d.store.savePod(rec, { durable: true });
      throw new CniError(ErrorCode.Wiring, 'DEL could not remove everything (retry DEL)', left.map((f) => `${f.r.kind}: ${f.error}`).join('; '));
    }
    await this.d.store.removePod(rec.containerId);
    this.log(`${by} ${rec.containerId}: removed`);
  }

  // --- STATUS and GC (CNI 1.1) ------------------------------------------------------------------

  /**
   * STATUS: throws when the node's pods cannot be served. A runtime takes any STATUS error for the
   * node's network not being ready, and Kubernetes then marks the node NotReady and evicts its
   * pods after five minutes: so only what stops every pod counts. As the primary CNI that is VPP
   * not answering a control ping within STATUS_VPP_MS, or re-wiring the pods after it restarted:
   * code 51 (every pod forwards through VPP, theirs is limited too). In chained mode the pods'
   * network is the primary's (a VPP outage stops custom interfaces only): ready whenever the agent
   * answers. A full pod range (the spec's example of an exhausted resource) is not reported: ADDs
   * fail naming it (102) and the node's running pods are not evicted for it. The agent's log gets
   * each change of the answer.
   */
  async status(): Promise<void> {
    let problem: string | undefined;
    if (this.d.config.chainedCniConfDir === undefined) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${STATUS_VPP_MS} ms`)), STATUS_VPP_MS); });
      try {
        await Promise.race([this.d.vswitch.ping(), late]);
        if (this.rewiring > 0) problem = 'VPP restarted: the agent is re-wiring the node\'s pods';
      } catch (e) {
        problem = `VPP does not answer its API: ${(e as Error).message}`;
      } finally { clearTimeout(timer); }
    }
    if (problem !== this.lastStatus) this.log(`STATUS: ${problem ? `not available (51): ${problem}` : 'ready'}`);
    this.lastStatus = problem;
    if (problem) throw new CniError(ErrorCode.NotAvailableLimitedConnectivity, 'tsvpp is not available', problem);
  }

  /** Marks the re-wiring after a VPP restart (agent.ts): STATUS is not ready until it has ended. */
  rewiringUntil(done: Promise<unknown>): void {
    this.rewiring++;
    const end = () => { this.rewiring--; };
    done.then(end, end);
  }

  /**
   * GC: every attachment of this CNI network (the conflist's name, recorded at ADD) that the
   * runtime does not list as still valid is removed as its DEL would remove it, then every lease
   * that no record holds is released (as at agent start). Goes on past a failure and reports them
   * all; what is left stays recorded for the next GC or DEL. Records of agents before GC name no
   * network and are left alone (told in the log).
   */
  async gc(req: AgentRequest): Promise<void> {
    const valid = new Set(validAttachments(req.config).map((a) => `${a.containerID}\n${a.ifname}`));
    const network = req.config.name;
    const removed: string[] = [], failed: string[] = [], unnamed: string[] = [];
    for (const rec of await this.d.store.listPods()) {
      if (valid.has(`${rec.containerId}\n${rec.ifName}`)) continue;
      if (rec.cniNetwork === undefined) { unnamed.push(rec.containerId); continue; }
      if (rec.cniNetwork !== network) continue;
      try {
        await this.remove(rec, 'GC');
        removed.push(rec.containerId);
      } catch (e) { failed.push(`${rec.containerId}: ${(e as Error).message}`); }
    }
    const leases = await this.sweepLeases(await this.d.store.listPods());
    if (removed.length || failed.length || leases.length || unnamed.length) {
      this.log(`GC ${network}: ${valid.size} valid; removed ${removed.length ? removed.join(', ') : 'none'}${failed.length ? `; failed ${failed.length}` : ''}${leases.length ? `; leases released ${leases.join(', ')}` : ''}${unnamed.length ? `; left alone (recorded before GC, no network name): ${unnamed.join(', ')}` : ''}`);
    }
    if (failed.length) throw new CniError(ErrorCode.Wiring, `GC could not remove everything of ${failed.length} stale attachment(s) (the next GC or DEL retries)`, failed.join('; '));
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
    const host = { links: new Set((await this.d.linux.listLinks()).map((l) => l.ifname)) };
    const node = lazy(() => this.d.store.loadNode());
    for (const r of rec.resources) {
      switch (r.kind) {
        case 'lease': {
          const range = r.address ? this.networks.range(r.network, await node()) : undefined;
          if (range) {
            try { await this.d.ipam.check(range, { containerId: rec.containerId, ifName: r.ifName }, r.address!); } catch (e) {
              out.push(`IP reservation ${r.address} for ${r.ifName}: ${e instanceof IpamError ? e.detail : (e as Error).message}`);
            }
          }
          break;
        }
        case 'route': case 'neighbor': case 'nat': case 'etcd-key': case 'label-claim': break;
        default: { // what an interface kind recorded
          if (isVppIf(r)) {
            const i = vpp.get(r.swIfIndex);
            if (!i || i.tag !== r.tag) out.push(`VPP ${r.kind} interface for ${r.ifName} (sw_if_index ${r.swIfIndex}) is gone`);
            else if (!i.up) out.push(`VPP ${r.kind} interface for ${r.ifName} (sw_if_index ${r.swIfIndex}) is down`);
          }
          out.push(...(resourceHandler(r).missing?.(this, rec, r, host) ?? []));
        }
      }
    }
    for (const st of rec.interfaces) {
      if (kindOf(st.type).podEnd === 'none') continue;
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
    if (rec.serviceEndpoint) {
      const sep = rec.serviceEndpoint, table = SERVICE_REPLY_TABLE;
      if (!(await this.d.linux.listRules(netns)).some((r) => isServiceReplyRule(r, sep.ip))) out.push(`rule from ${sep.ip} lookup ${table} (service endpoint ${sep.interface}) is missing`);
      const tr = await this.d.linux.listRoutes(netns, table);
      if (!tr.some((x) => x.dst === 'default' && x.dev === sep.interface)) out.push(`route default via ${sep.interface} in table ${table} (service endpoint) is missing`);
    }
    // prevResult: interfaces the runtime believes are in the sandbox (chained: only ours, the
    // primary CNI checks its own).
    const prev = req?.config.prevResult;
    const ours = new Set(rec.interfaces.map((i) => i.name));
    for (const i of prev?.interfaces ?? []) {
      if (rec.chained && !ours.has(i.name)) continue;
      if (i.sandbox && i.sandbox === netns && !links.has(i.name)) {
        if (!out.some((m) => m.startsWith(`interface ${i.name} `))) out.push(`interface ${i.name} from prevResult is missing in ${netns}`);
      }
    }
    return out;
  }

  /** Deletes the veth pool's members (agent shutdown), in the pipeline's turn. */
  async removePool(): Promise<void> {
    const pool = this.d.pool;
    if (!pool) return;
    await this.serial(async () => pool.removeAll(podPoolLinks(await this.d.store.listPods())));
  }

  // --- restart ----------------------------------------------------------------------------------

  /**
   * After an agent (re)start or a VPP restart: finish rollbacks of ADDs and DELs that were cut short, delete
   * VPP interfaces tagged by us that no pod record owns, forget node networks whose VPP objects
   * are gone (VPP restarted), and re-wire in VPP what ready pods lost.
   */
  async reconcile(): Promise<ReconcileReport> {
    return this.serial(async () => {
      const rolledBack: string[] = [];
      const pods: PodRecord[] = [];
      for (const rec of await this.d.store.listPods()) {
        // A record of an earlier boot: its sandbox died with the node (and its netns with it). Its
        // DEL may have run already — a record removed or leases released without fsync can come
        // back after a crash — or may never come: undone like an ADD cut short.
        const earlierBoot = rec.bootId !== undefined && rec.bootId !== this.bootId;
        if (earlierBoot && rec.phase === 'ready') {
          this.log(`reconcile: ${rec.containerId} was added before this boot (${rec.bootId}): undoing it`);
          rec.phase = 'deleting'; // what is left stays for the next reconcile or DEL, never re-wired
        }
        if (rec.phase !== 'ready') {
          const left = await this.undo(rec);
          if (left.length === 0) { await this.d.store.removePod(rec.containerId); rolledBack.push(rec.containerId); continue; }
          await this.d.store.savePod(rec, { durable: true });
          this.log(`reconcile: ${rec.containerId} still holds ${left.map((l) => l.r.kind).join(', ')}`);
        }
        pods.push(rec);
      }
      const leasesReleased = await this.sweepLeases(pods);
      const owned = new Set<number>();
      for (const rec of pods) for (const r of rec.resources) if ('swIfIndex' in r) owned.add(r.swIfIndex);
      const dump = await this.d.vswitch.dumpInterfaces();
      // The pool's members are no pod's; a member a pod took keeps its host end's name.
      let poolDeleted: string[] = [];
      if (this.d.pool) {
        try { poolDeleted = await this.d.pool.reconcile(dump, podPoolLinks(pods)); } catch (e) { this.log(`reconcile: veth pool: ${(e as Error).message}`); }
      }
      const orphansDeleted: number[] = [];
      for (const i of dump) {
        if (!parsePodTag(i.tag) || owned.has(i.swIfIndex)) continue;
        const kind = kindOfVppName(i.name);
        if (!kind) continue;
        try {
          await kind.deleteOrphan(this, i);
          orphansDeleted.push(i.swIfIndex);
        } catch (e) { this.log(`reconcile: deleting orphan ${i.name} (${i.tag}) failed: ${(e as Error).message}`); }
      }
      const networksForgotten = await this.networks.forgetLost(dump);
      const rewired: string[] = [];
      const rewireFailed: Array<{ containerId: string; error: string }> = [];
      const present = new Map(dump.map((i) => [i.swIfIndex, i.tag]));
      for (const rec of pods) {
        if (rec.phase !== 'ready') continue;
        try {
          if (await this.rewire(rec, present)) rewired.push(rec.containerId);
        } catch (e) {
          rewireFailed.push({ containerId: rec.containerId, error: (e as Error).message });
          this.log(`reconcile: re-wiring ${rec.containerId} failed: ${(e as Error).message}`);
        }
      }
      return { rolledBack, leasesReleased, orphansDeleted, networksForgotten, rewired, rewireFailed, poolDeleted };
    });
  }

  /**
   * Releases the leases of tsvpp's networks on this node that no pod record holds; returns them as
   * "network address container/ifName". ADD records a lease before it starts host-local, and this
   * runs in the pipeline's turn (no ADD half-way), so such a lease is one whose record the node
   * lost: pod records are written without fsync until ADD answers, and a node crash can keep
   * host-local's lease file but lose the record (or keep an older version of it, without the
   * lease). No sandbox survives that crash. A lease file that names nobody (host-local does not
   * fsync either) is deleted. Only the agent's own dataDir, only networks the node state knows
   * (default and L3, whose ranges host-local needs); a failure is logged and the next start retries.
   */
  private async sweepLeases(pods: readonly PodRecord[]): Promise<string[]> {
    const held = new Set<string>();
    for (const rec of pods) for (const r of rec.resources) if (r.kind === 'lease') held.add(`${r.network}\n${rec.containerId}\n${r.ifName}`);
    const node = await this.d.store.loadNode();
    const ranges = [this.networks.defaultRange(), ...Object.values(node.networks).filter((n) => n.kind === 'L3').map((n) => this.networks.rangeFor(n))];
    const released: string[] = [];
    for (const range of ranges) {
      try {
        for (const l of await this.d.ipam.listLeases(range)) {
          if (l.containerId === undefined) {
            if (await this.d.ipam.dropOwnerless(range, l.address)) released.push(`${range.network} ${l.address} (lease file naming no container)`);
            continue;
          }
          if (held.has(`${range.network}\n${l.containerId}\n${l.ifName ?? ''}`)) continue;
          if (l.ifName === undefined) { this.log(`leases: ${range.network} ${l.address} names container ${l.containerId} but no interface: left alone`); continue; }
          await this.d.ipam.release(range, { containerId: l.containerId, ifName: l.ifName });
          released.push(`${range.network} ${l.address} ${l.containerId}/${l.ifName}`);
        }
      } catch (e) { this.log(`leases: sweeping network ${range.network} failed: ${(e as Error).message}`); }
    }
    return released;
  }

  /**
   * Re-creates in VPP whatever of a ready pod VPP no longer has (after a VPP restart everything):
   * its interfaces with the same tags, ids and secrets, their VPP-side config and routes, with the
   * recorded addresses; each kind says what its pod end needs again. Returns
   * false when nothing was missing.
   */
  private async rewire(rec: PodRecord, present: Map<number, string>): Promise<boolean> {
    const netns = rec.netns!;
    const lost = rec.resources.filter(isVppIf).filter((r) => present.get(r.swIfIndex) !== r.tag);
    if (lost.length === 0) return false;
    if (!(await this.d.linux.netnsExists(netns))) throw new Error(`netns ${netns} is gone (DEL will clean up)`);
    const customNets = new Map<string, CustomNetwork>();
    for (const st of rec.interfaces) {
      if (st.network === DEFAULT_NETWORK || st.network === STUB_NETWORK || customNets.has(st.network)) continue;
      const cn = await this.d.pods.getCustomNetwork(st.network);
      if (!cn) throw new Error(`CustomNetwork ${st.network} no longer exists`);
      customNets.set(st.network, cn);
    }
    const lostIfs = lost.flatMap((r) => rec.interfaces.filter((i) => i.name === r.ifName).map((st) => ({ r, st })));
    for (const type of new Set(lostIfs.map((x) => x.st.type))) await kindOf(type).beforeRecreate?.(this, rec, lost);
    // The routes and neighbours recorded for the old sw_if_indexes went with them (new indexes may
    // reuse old numbers); attach() adds them again.
    const oldIndexes = new Set(lost.map((r) => r.swIfIndex));
    rec.resources = rec.resources.filter((x) => !((x.kind === 'route' || x.kind === 'neighbor') && oldIndexes.has(x.swIfIndex)));
    for (const { r, st } of lostIfs) {
      const net = st.network === STUB_NETWORK ? undefined : await this.networks.ensure(st.network, customNets.get(st.network));
      const created = await kindOf(st.type).recreate(this, rec, st, r.tag);
      r.swIfIndex = created.swIfIndex;
      await this.attach(rec, st, net, created, true);
    }
    await this.d.store.savePod(rec);
    this.log(`re-wired ${rec.containerId}: ${lost.map((r) => `${r.ifName} (${r.kind}) -> sw_if_index ${r.swIfIndex}`).join(', ')}`);
    return true;
  }
}

/**
 * Chained mode: the previous plugin's result with ours appended. Our ips name our interfaces by
 * their index in the combined list; the primary's interfaces, ips, routes and DNS stay as they were.
 */
export function extendResult(prev: CniResult, ours: CniResult): CniResult {
  const offset = prev.interfaces?.length ?? 0;
  return {
    ...prev,
    cniVersion: ours.cniVersion,
    interfaces: [...(prev.interfaces ?? []), ...(ours.interfaces ?? [])],
    ips: [...(prev.ips ?? []), ...(ours.ips ?? []).map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + offset }))],
    routes: [...(prev.routes ?? []), ...(ours.routes ?? [])],
  };
}

/** Whether a resource's undo may run while the rest of the pod is undone (see undo). */
function undoesInBackground(r: Resource): boolean {
  switch (r.kind) {
    case 'lease': return true; // host-local: a process and a file of its own
    case 'route': case 'neighbor': case 'nat': case 'etcd-key': case 'label-claim': return false;
    default: return resourceHandler(r).background ?? false;
  }
}

function isServiceReplyRule(r: RuleInfo, from: string): boolean {
  return r.priority === SERVICE_REPLY_RULE_PRIORITY && r.src === from && (r.srclen ?? 32) === 32 && r.table === String(SERVICE_REPLY_TABLE);
}

/** The tag recorded for the VPP interface at swIfIndex. */
function tagAt(rec: PodRecord, swIfIndex: number): string | undefined {
  return rec.resources.filter(isVppIf).find((x) => x.swIfIndex === swIfIndex)?.tag;
}

/** Runs a step of one pod interface; an error says which interface it was (CNI errors as they are). */
async function whichInterface<T>(st: PodInterfaceState, step: () => Promise<T>): Promise<T> {
  try { return await step(); } catch (e) {
    if (e instanceof CniError) throw e;
    throw new Error(`${st.name} (${st.type}, network ${st.network}): ${(e as Error).message}`);
  }
}

/** Waits for every call (none is left in flight for a rollback to race), then throws the first failure. */
async function settled(calls: ReadonlyArray<Promise<unknown> | undefined>): Promise<void> {
  const failed = (await Promise.allSettled(calls)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Loads something at most once, on first use. */
function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= load());
}

function toCniError(e: unknown, left: Array<{ r: Resource; error: string }>): CniError {
  const tail = left.length ? ` (rollback left ${left.map((f) => `${f.r.kind}: ${f.error}`).join('; ')}; DEL will retry)` : '';
  if (e instanceof CniError) return tail ? new CniError(e.code, e.msg, (e.details ?? '') + tail) : e;
  if (e instanceof IpamError) return new CniError(ErrorCode.Ipam, 'IP address allocation failed', e.message + tail);
  return new CniError(ErrorCode.Wiring, 'configuring the pod network failed; everything was rolled back', (e as Error).message + tail);
}
