// The cluster reconciler: makes VPP, the host's routing table and the agent's nftables table match
// plan() for the current node set and this node's networks, changing only the difference. It runs
// at agent start, when the node set changes, when a network is created, after VPP reconnects, and
// periodically (someone may flush the host's routes or tables). The caller serialises it with the
// pod pipeline (they share the node state).
//
// How the agent finds its own things again, with or without its state file:
// - VPP interfaces by tag: the host link (tsvpp-node:host-link), tunnels (tsvpp-vx:<vni>:<dst>).
//   A tunnel is tagged last, after it joined its bridge domain, so an untagged tunnel from this
//   node's VTEP is a half-made one and is deleted. An af_packet host link is tagged right after it
//   is created; an untagged host-tsvpp-vpp is a half-made one.
// - VPP routes (which carry no tag) are recorded in the node state before they are added.
// - Host routes by their protocol number (proto 116); the nftables table and the overlay's VXLAN
//   device by their names (the device's entries are all the agent's).
// - Service NAT on the host link by the sw_if_index recorded in the node state (VPP cannot list it).
import { VswitchError, type Vswitch, type VswitchInterface } from '../agent/vswitch.js';
import type { ClusterRoute, NodeState, StateStore } from '../agent/state.js';
import type { HostNet } from './host.js';
import type { NodeSource, ClusterNode } from './nodes.js';
import {
  HOST_LINK_IFNAME, HOST_LINK_TAG, OVERLAY_IFNAME, TUNNEL_TAG_PREFIX, VETH_VPP_END, plan, vtepOf,
  type HostServices, type NodeInterconnect, type Plan, type PlannedHostRoute, type PlannedRoute,
} from './plan.js';

export type HostLinkKind = 'tap' | 'veth-afpacket';

export interface ClusterConfig {
  nodeName: string;
  /** This node's pod slice; reconcile needs it, teardown only to recognise half-made tunnels. */
  podSubnet?: string;
  /** This node's address as the agent established it at start; the node list's entry wins when there is one. */
  internalIp?: string;
  clusterPodSubnet: string;
  nodePrefixLen: number;
  hostLinkSubnet: string;
  hostLink: HostLinkKind;
  interconnect: NodeInterconnect;
}

/** The node's service proxy (src/cni/services/services.ts), as far as the host link concerns it. */
export interface ClusterServices {
  /** The NodePorts VPP serves and the ClusterIPs, now. */
  hostServices(): HostServices;
  /** Service NAT on VPP's end of the host link. Once per interface: VPP would stack a second. */
  enableOnHostLink(swIfIndex: number): Promise<void>;
}

export interface ClusterDeps {
  config: ClusterConfig;
  vswitch: Vswitch;
  host: HostNet;
  store: StateStore;
  /** Without one the node is alone: host link, default route and masquerade only. */
  nodes?: NodeSource;
  /** Absent: the node serves no Services (services off, chained mode). */
  services?: ClusterServices;
  log: (msg: string) => void;
}

export interface ClusterReport {
  hostLink: 'created' | 'ok';
  /** Service NAT turned on for VPP's end of the host link this round. */
  hostLinkServiceNat: boolean;
  vppRoutes: { added: string[]; deleted: string[] };
  tunnels: { added: string[]; deleted: string[] };
  /** Neighbours VPP had learned for the gateways of nodes that are gone. */
  neighbors: { deleted: string[] };
  hostRoutes: { replaced: string[]; deleted: string[] };
  /** The host's overlay device (nodeInterconnect vxlan); 'none' when there is none and was none. */
  overlay: 'created' | 'replaced' | 'deleted' | 'ok' | 'none';
  /** Its peers' entries ("IP MAC REMOTE" added; "neighbour IP" / "fdb MAC REMOTE" deleted). */
  overlayPeers: { added: string[]; deleted: string[] };
  nft: 'created' | 'replaced' | 'ok';
  warnings: string[];
  /** What could not be done this round (each names the object); the next round retries. */
  errors: string[];
}

const routeKey = (r: { prefix: string; vrfId: number }) => `${r.vrfId}:${r.prefix}`;
const sameRoute = (a: PlannedRoute | ClusterRoute, b: PlannedRoute | ClusterRoute) => routeKey(a) === routeKey(b) && a.swIfIndex === b.swIfIndex && a.nextHop === b.nextHop;
const sameHostRoute = (want: PlannedHostRoute, have: PlannedHostRoute) => want.dst === have.dst && want.via === have.via && (want.src ?? '') === (have.src ?? '')
  && (!want.dev || want.dev === have.dev) && !!want.onlink === !!have.onlink;
const tunnelName = (t: { vni: number; dst: string }) => `vni ${t.vni} to ${t.dst}`;

export function changed(r: ClusterReport): boolean {
  return r.hostLink !== 'ok' || r.hostLinkServiceNat || r.nft !== 'ok' || r.errors.length > 0 || r.warnings.length > 0
    || (r.overlay !== 'ok' && r.overlay !== 'none') || r.overlayPeers.added.length + r.overlayPeers.deleted.length > 0
    || [r.vppRoutes, r.tunnels].some((x) => x.added.length + x.deleted.length > 0) || r.neighbors.deleted.length > 0
    || r.hostRoutes.replaced.length + r.hostRoutes.deleted.length > 0;
}

export class Cluster {
  private lastWarnings = '';
  constructor(readonly d: ClusterDeps) {}

  private ignoreNotFound(e: unknown): void {
    if (!(e instanceof VswitchError && e.notFound)) throw e;
  }

  /** The nodes and this node's entry in them (checked against the agent's own slice). */
  private async nodes(warnings: string[]): Promise<{ nodes: ClusterNode[]; self?: ClusterNode }> {
    const nodes = this.d.nodes ? await this.d.nodes.list() : [];
    const self = nodes.find((n) => n.name === this.d.config.nodeName);
    if (this.d.nodes && !self) warnings.push(`this node (${this.d.config.nodeName}) is not in the node list`);
    if (self && this.d.config.podSubnet && self.podSubnet !== this.d.config.podSubnet) {
      warnings.push(`the node list gives this node (${self.name}) pod subnet ${self.podSubnet}, but the agent's is ${this.d.config.podSubnet}: other nodes route ${self.podSubnet} here`);
    }
    return { nodes, ...(self ? { self } : {}) };
  }

  /** VPP's end of the host link (and the host's, for veth): finds it, or makes it. */
  private async hostLink(dump: VswitchInterface[]): Promise<{ swIfIndex: number; created: boolean; mtu?: number }> {
    const { vswitch: vs, host } = this.d;
    const kind = this.d.config.hostLink;
    const tagged = dump.find((i) => i.tag === HOST_LINK_TAG);
    const linuxEnd = kind === 'tap' ? HOST_LINK_IFNAME : VETH_VPP_END;
    if (tagged && await host.linkExists(linuxEnd) && await host.linkExists(HOST_LINK_IFNAME)) return { swIfIndex: tagged.swIfIndex, created: false, ...(tagged.mtu ? { mtu: tagged.mtu } : {}) };
    // Missing, half-made, or its Linux side is gone: start over.
    if (tagged) await this.deleteHostLinkIf(tagged);
    const half = dump.find((i) => i.tag === '' && i.name === `host-${VETH_VPP_END}`);
    if (half) await this.deleteHostLinkIf(half);
    await host.deleteLinkIfExists(HOST_LINK_IFNAME);
    await host.deleteLinkIfExists(VETH_VPP_END);
    let swIfIndex: number;
    switch (kind) {
      case 'veth-afpacket':
        await host.createVethPair(HOST_LINK_IFNAME, VETH_VPP_END);
        await host.setLinkUp(VETH_VPP_END);
        swIfIndex = (await vs.createAfPacket({ hostIfName: VETH_VPP_END, tag: HOST_LINK_TAG })).swIfIndex;
        break;
      case 'tap':
        swIfIndex = (await vs.createTap({ hostIfName: HOST_LINK_IFNAME, tag: HOST_LINK_TAG })).swIfIndex;
        break;
      default: { const never: never = kind; throw new Error(`unknown host link kind ${String(never)}`); }
    }
    return { swIfIndex, created: true };
  }

  private async deleteHostLinkIf(i: VswitchInterface): Promise<void> {
    const vs = this.d.vswitch;
    if (i.name.startsWith('host-')) await vs.deleteAfPacket({ hostIfName: i.name.slice(5), swIfIndex: i.swIfIndex }).catch((e) => this.ignoreNotFound(e));
    else await vs.deleteTap(i.swIfIndex).catch((e) => this.ignoreNotFound(e));
  }

  async reconcile(): Promise<ClusterReport> {
    const { vswitch: vs, host, store, config: c } = this.d;
    const podSubnet = c.podSubnet;
    if (!podSubnet) throw new Error('the cluster reconciler needs this node\'s pod slice');
    const r: ClusterReport = { hostLink: 'ok', hostLinkServiceNat: false, vppRoutes: { added: [], deleted: [] }, tunnels: { added: [], deleted: [] }, neighbors: { deleted: [] }, hostRoutes: { replaced: [], deleted: [] }, overlay: 'none', overlayPeers: { added: [], deleted: [] }, nft: 'ok', warnings: [], errors: [] };
    await host.enableForwarding();
    const dump = await vs.dumpInterfaces();
    const link = await this.hostLink(dump);
    if (link.created) r.hostLink = 'created';
    const { nodes, self } = await this.nodes(r.warnings);
    const node = await store.loadNode();
    const p = plan({
      // Without its own entry (a Node object briefly missing) the node keeps its address, so the
      // overlay (which needs it) is not torn down for the others in the meantime.
      self: { name: c.nodeName, podSubnet, ...(self ? { internalIp: self.internalIp } : c.internalIp ? { internalIp: c.internalIp } : {}) },
      nodes, podSubnet: c.clusterPodSubnet, nodePrefixLen: c.nodePrefixLen, hostLinkSubnet: c.hostLinkSubnet,
      hostLinkSwIfIndex: link.swIfIndex, networks: Object.values(node.networks),
      ...(this.d.services ? { services: this.d.services.hostServices() } : {}), interconnect: c.interconnect,
    });
    r.warnings.push(...p.warnings);

    // VPP's end of the link: address and up, every round (cheap, and idempotent).
    if (!(await vs.interfaceAddresses(link.swIfIndex)).includes(p.vppLinkAddress)) await vs.addInterfaceAddress(link.swIfIndex, p.vppLinkAddress);
    // VPP's MTU no higher than the host end's: VPP then fragments (VXLAN) or refuses what does not
    // fit, instead of handing the kernel a frame it rejects, which wedges the af_packet TX ring.
    // Only ever lowered: VPP passes its MTU on to the Linux end it sends through (with its frame
    // overhead added), so matching the two both ways would raise them round after round.
    const mtu = await host.linkMtu(HOST_LINK_IFNAME);
    if (link.mtu === undefined || link.mtu > mtu) await vs.setInterfaceMtu(link.swIfIndex, mtu);
    await vs.setInterfaceUp(link.swIfIndex, true);
    await host.setLinkUp(HOST_LINK_IFNAME);
    await host.setOnlyAddress(HOST_LINK_IFNAME, p.hostLinkAddress);
    // Service NAT on the link: NodePort and host → ClusterIP flows enter VPP there, and a flow that
    // leaves through it again (a backend on another node) is source-NATed so its replies return
    // here. Recorded per sw_if_index: a link made anew (VPP restarted) gets it again, one that
    // predates the services (or an agent without them) gets it once.
    if (this.d.services && (link.created || node.hostLinkServiceNat !== link.swIfIndex)) {
      try {
        await this.d.services.enableOnHostLink(link.swIfIndex);
        node.hostLinkServiceNat = link.swIfIndex;
        await store.saveNode(node);
        r.hostLinkServiceNat = true;
      } catch (e) { r.errors.push(`service NAT on the host link: ${(e as Error).message}`); }
    }

    await this.vppRoutes(node, p, link.created, r);
    await this.forgetNeighbors(node, new Set(p.vppRoutes.map((x) => `${x.swIfIndex}/${x.nextHop}`)), r.neighbors.deleted, r.errors);
    await this.tunnels(dump, p, r);
    await this.overlay(p, r);
    await this.hostRoutes(p, r);
    const nft = await host.nftList();
    if (nft !== p.nftTable) {
      await host.nftReplace(p.nftTable);
      r.nft = nft === undefined ? 'created' : 'replaced';
    }
    const w = r.warnings.join('\n');
    if (w !== this.lastWarnings) { for (const x of r.warnings) this.d.log(`cluster: ${x}`); this.lastWarnings = w; }
    return r;
  }

  /** Routes the plan wants (recorded before they are added), and no others of ours. */
  private async vppRoutes(node: NodeState, p: Plan, fresh: boolean, r: ClusterReport): Promise<void> {
    const { vswitch: vs, store } = this.d;
    const want = new Map(p.vppRoutes.map((x) => [routeKey(x), x]));
    for (const old of [...node.clusterRoutes]) {
      if (want.has(routeKey(old))) continue;
      try { await vs.deleteRoute(old); } catch (e) {
        try { this.ignoreNotFound(e); } catch { r.errors.push(`delete VPP route ${old.prefix} (VRF ${old.vrfId}): ${(e as Error).message}`); continue; }
      }
      node.clusterRoutes = node.clusterRoutes.filter((x) => x !== old);
      await store.saveNode(node);
      r.vppRoutes.deleted.push(`${old.prefix} vrf ${old.vrfId}`);
    }
    for (const x of p.vppRoutes) {
      const had = node.clusterRoutes.find((o) => routeKey(o) === routeKey(x));
      if (had && sameRoute(had, x) && !fresh) continue;
      if (!had || !sameRoute(had, x)) {
        node.clusterRoutes = [...node.clusterRoutes.filter((o) => o !== had), { ...x }];
        await store.saveNode(node);
      }
      try { await vs.addRoute(x); r.vppRoutes.added.push(`${x.prefix} vrf ${x.vrfId} via ${x.nextHop}`); } catch (e) {
        r.errors.push(`VPP route ${x.prefix} (VRF ${x.vrfId}) via ${x.nextHop}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Neighbours VPP learned (by ARP across a segment) on L3 networks' gateway loopbacks, but those
   * of the next hops in `keep` ("swIfIndex/ip"): the gateways of nodes that left. VPP keeps a
   * learned neighbour, and the /32 route it makes, until it is deleted.
   */
  private async forgetNeighbors(node: NodeState, keep: ReadonlySet<string>, deleted: string[], errors: string[]): Promise<void> {
    const vs = this.d.vswitch;
    for (const net of Object.values(node.networks)) {
      if (net.kind !== 'L3' || net.loopbackSwIfIndex === undefined) continue;
      let learned;
      try { learned = (await vs.dumpNeighbors(net.loopbackSwIfIndex)).filter((n) => !n.static && !keep.has(`${n.swIfIndex}/${n.ip}`)); } catch (e) {
        errors.push(`listing the neighbours of network ${net.name}: ${(e as Error).message}`);
        continue;
      }
      for (const n of learned) {
        try { await vs.deleteNeighbor(n); deleted.push(`${n.ip} (network ${net.name})`); } catch (e) {
          try { this.ignoreNotFound(e); } catch { errors.push(`delete neighbour ${n.ip} (network ${net.name}): ${(e as Error).message}`); }
        }
      }
    }
  }

  /** Tunnels of ours: tagged tsvpp-vx:, or untagged from this node's VTEP (half-made). */
  private async ownTunnels(dump: VswitchInterface[]) {
    const tags = new Map(dump.map((i) => [i.swIfIndex, i.tag]));
    const vtep = this.d.config.podSubnet ? vtepOf(this.d.config.podSubnet) : undefined;
    return (await this.d.vswitch.dumpVxlanTunnels()).map((t) => ({ ...t, tag: tags.get(t.swIfIndex) ?? '' }))
      .filter((t) => t.tag.startsWith(TUNNEL_TAG_PREFIX) || (t.tag === '' && vtep !== undefined && t.src === vtep));
  }

  private async tunnels(dump: VswitchInterface[], p: Plan, r: ClusterReport): Promise<void> {
    const vs = this.d.vswitch;
    const want = new Map(p.tunnels.map((t) => [t.tag, t]));
    const kept = new Set<string>();
    let own;
    try { own = await this.ownTunnels(dump); } catch (e) {
      // A VPP without the vxlan plugin is fine while there is nothing to tunnel.
      if (p.tunnels.length > 0) r.errors.push(`listing VXLAN tunnels: ${(e as Error).message}`);
      return;
    }
    for (const t of own) {
      const w = want.get(t.tag);
      if (w && w.src === t.src && w.dst === t.dst && w.vni === t.vni && !kept.has(t.tag)) { kept.add(t.tag); continue; }
      try { await vs.deleteVxlanTunnel(t); r.tunnels.deleted.push(tunnelName(t)); } catch (e) {
        try { this.ignoreNotFound(e); } catch { r.errors.push(`delete VXLAN tunnel ${tunnelName(t)}: ${(e as Error).message}`); }
      }
    }
    for (const t of p.tunnels) {
      if (kept.has(t.tag)) continue;
      try {
        const c = await vs.createVxlanTunnel(t);
        try {
          await vs.setInterfaceBridge(c.swIfIndex, t.bdId, { shg: 1 });
          await vs.tagInterface(c.swIfIndex, t.tag);
        } catch (e) {
          await vs.deleteVxlanTunnel(t).catch(() => undefined);
          throw e;
        }
        r.tunnels.added.push(`${tunnelName(t)} (network ${t.network}, node ${t.node})`);
      } catch (e) {
        r.errors.push(`VXLAN tunnel ${tunnelName(t)} (network ${t.network}, node ${t.node}): ${(e as Error).message}`);
      }
    }
  }

  /** The overlay device and its peers' entries, or no device (host-gw, or no InternalIP yet). */
  private async overlay(p: Plan, r: ClusterReport): Promise<void> {
    const host = this.d.host;
    try {
      if (!p.overlay) {
        if (await host.deleteLinkIfExists(OVERLAY_IFNAME)) r.overlay = 'deleted';
        return;
      }
      r.overlay = await host.ensureVxlan(p.overlay.device);
      r.overlayPeers = await host.setVxlanPeers(OVERLAY_IFNAME, p.overlay.peers);
    } catch (e) { r.errors.push(`overlay ${OVERLAY_IFNAME}${p.overlay ? '' : ' (deleting it)'}: ${(e as Error).message}`); }
  }

  private async hostRoutes(p: Plan, r: ClusterReport): Promise<void> {
    const host = this.d.host;
    const have = await host.listRoutes();
    const want = new Map(p.hostRoutes.map((x) => [x.dst, x]));
    for (const h of have) {
      if (want.has(h.dst)) continue;
      await host.deleteRoute(h.dst);
      r.hostRoutes.deleted.push(h.dst);
    }
    for (const x of p.hostRoutes) {
      const h = have.find((y) => y.dst === x.dst);
      if (h && sameHostRoute(x, h)) continue;
      try { await host.replaceRoute(x); r.hostRoutes.replaced.push(`${x.dst} via ${x.via}`); } catch (e) {
        r.errors.push(`host route ${x.dst} via ${x.via}${x.dev ? ` dev ${x.dev}` : ' (host-gw: the node must be on this node\'s link; nodeInterconnect vxlan crosses routers)'}: ${(e as Error).message}`);
      }
    }
  }

  /** Removes everything reconcile made: tunnels, VPP routes, learned neighbours of other nodes' gateways, the host link, host routes, the overlay device, the nftables table. */
  async teardown(): Promise<{ removed: string[]; errors: string[] }> {
    const { vswitch: vs, host, store } = this.d;
    const removed: string[] = [], errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try { await fn(); removed.push(what); } catch (e) {
        if (e instanceof VswitchError && e.notFound) return;
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    const dump = await vs.dumpInterfaces();
    const tunnels = await this.ownTunnels(dump).catch((e) => {
      if (dump.some((i) => i.tag.startsWith(TUNNEL_TAG_PREFIX))) errors.push(`listing VXLAN tunnels: ${(e as Error).message}`);
      return [];
    });
    for (const t of tunnels) await attempt(`VXLAN tunnel ${tunnelName(t)}`, () => vs.deleteVxlanTunnel(t));
    const node = await store.loadNode();
    for (const x of [...node.clusterRoutes]) {
      await attempt(`VPP route ${x.prefix} (VRF ${x.vrfId})`, () => vs.deleteRoute(x));
      if (!errors.some((e) => e.startsWith(`VPP route ${x.prefix} (VRF ${x.vrfId})`))) node.clusterRoutes = node.clusterRoutes.filter((o) => o !== x);
    }
    delete node.hostLinkServiceNat; // goes with the link
    await store.saveNode(node);
    const forgotten: string[] = [];
    await this.forgetNeighbors(node, new Set(), forgotten, errors);
    removed.push(...forgotten.map((n) => `learned neighbour ${n}`));
    for (const i of dump.filter((x) => x.tag === HOST_LINK_TAG || (x.tag === '' && x.name === `host-${VETH_VPP_END}`))) {
      await attempt(`host link ${i.name}`, () => this.deleteHostLinkIf(i));
    }
    for (const h of await host.listRoutes()) await attempt(`host route ${h.dst}`, () => host.deleteRoute(h.dst));
    for (const l of [HOST_LINK_IFNAME, VETH_VPP_END, OVERLAY_IFNAME]) if (await host.deleteLinkIfExists(l)) removed.push(`link ${l}`);
    if (await host.nftDelete()) removed.push('nftables table ip tsvpp');
    return { removed, errors };
  }
}
