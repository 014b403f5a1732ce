// Test doubles for the agent pipeline: an in-memory vswitch (with optional Linux side effects, like
// VPP's), an in-memory Linux, an in-memory IPAM, an in-memory etcd and an in-memory host network
// stack (HostNet). Each records calls and can be told to fail.
import type { CreatedInterface, NeighborArgs, RouteArgs, ServiceNatRole, ServiceTranslation, ServiceTranslationEntry, Vswitch, VswitchInterface, VxlanArgs, VxlanTunnel } from '../../src/cni/agent/vswitch.js';
import { VswitchError } from '../../src/cni/agent/vswitch.js';
import type { Ipam, LinuxOps } from '../../src/cni/agent/pipeline.js';
import type { AddrInfo, Link, LinkConfig, RouteInfo, RouteSpec, RuleInfo, RuleSpec } from '../../src/cni/linux/ip.js';
import type { IpamRange, Lease, LeaseFile } from '../../src/cni/ipam.js';
import { IpamError } from '../../src/cni/ipam.js';
import { formatIp4, parseIp4 } from '../../src/cni/ipv4.js';
import type { KeyValueStore } from '../../src/cni/etcd/store.js';
import type { HostNet } from '../../src/cni/cluster/host.js';
import type { PlannedHostRoute, PlannedOverlay } from '../../src/cni/cluster/plan.js';
import type { LegacyNatMapping } from '../../src/cni/agent/state.js';

export interface FakeIf { mtu?: number; swIfIndex: number; name: string; tag: string; up: boolean; kind: string; vrf: number; bd?: number; bvi?: boolean; shg?: number; unnumberedFrom?: number; addrs: string[]; hostIfName?: string; tapDevice?: unknown; mac: string; vxlan?: VxlanArgs }

/**
 * Side effects VPP has on Linux: tap_create_v2 creates the device in VPP's namespace and holds it
 * (deleting the tap removes the device wherever it was moved); af_packet needs the host link.
 */
export interface LinuxSide {
  createTap(name: string): Promise<unknown>;
  deleteTap(device: unknown): Promise<void>;
  hostLinkExists(name: string): Promise<boolean>;
}

export class FakeVswitch implements Vswitch {
  ifs = new Map<number, FakeIf>();
  routes = new Map<string, RouteArgs>();
  /** cnat translations by id, as VPP keeps them (one per vip/port/proto). */
  translations = new Map<number, ServiceTranslation>();
  rejects = new Set<string>();
  snat?: string;
  /** Interfaces with service NAT on, and their role. */
  serviceNat = new Map<number, ServiceNatRole>();
  /** NAT44-ED static mappings an older agent made (`local>external@vrf`). */
  legacyNat = new Set<string>();
  private nextTranslation = 0;
  /** Neighbours by `${swIfIndex}:${ip}`, static (the agent's) unless `static: false` (one VPP learned by ARP); they go with their interface, as in VPP. */
  neighbors = new Map<string, NeighborArgs & { static?: boolean }>();
  vrfs = new Set<number>([0]);
  bds = new Set<number>();
  memifSockets = new Map<number, string>();
  calls: string[] = [];
  /** Throw from the n-th mutating call (0-based), counting from now; undefined = never. */
  failAt?: number;
  private mutating = 0;
  private next = 1;
  private counts: Record<string, number> = {};
  constructor(readonly linux?: LinuxSide) {}

  private step(op: string): void {
    this.calls.push(op);
    if (this.failAt !== undefined && this.mutating++ === this.failAt) throw new VswitchError(op, 'injected failure', false, -1);
  }
  private newIf(kind: string, tag: string, extra: Partial<FakeIf> = {}): FakeIf {
    const swIfIndex = this.next++;
    const n = (this.counts[kind] = (this.counts[kind] ?? -1) + 1);
    const name = kind === 'tap' ? `tap${n}` : kind === 'loop' ? `loop${n}` : kind === 'vxlan' ? `vxlan_tunnel${n}` : kind === 'memif' ? `memif${extra.name ?? '0/0'}` : `host-${extra.hostIfName}`;
    const i: FakeIf = { swIfIndex, name, tag, up: false, kind, vrf: 0, addrs: [], mac: `02:fe:00:00:00:${swIfIndex.toString(16).padStart(2, '0')}`, ...extra, ...(kind === 'memif' ? { name } : {}) };
    this.ifs.set(swIfIndex, i);
    return i;
  }
  private get(op: string, swIfIndex: number): FakeIf {
    const i = this.ifs.get(swIfIndex);
    if (!i) throw new VswitchError(op, `no interface ${swIfIndex}`, true, -2);
    return i;
  }
  private del(op: string, swIfIndex: number, kind: string): FakeIf {
    const i = this.get(op, swIfIndex);
    if (i.kind !== kind) throw new VswitchError(op, `interface ${swIfIndex} is a ${i.kind}`);
    this.vanish(swIfIndex);
    return i;
  }

  async createTap(o: { hostIfName: string; tag: string }): Promise<CreatedInterface> {
    this.step('createTap');
    const tapDevice = this.linux ? await this.linux.createTap(o.hostIfName) : undefined;
    const i = this.newIf('tap', o.tag, { hostIfName: o.hostIfName, tapDevice });
    return { swIfIndex: i.swIfIndex, mac: i.mac };
  }
  async deleteTap(swIfIndex: number): Promise<void> {
    this.step('deleteTap');
    const i = this.del('deleteTap', swIfIndex, 'tap');
    if (this.linux) await this.linux.deleteTap(i.tapDevice);
  }
  async createAfPacket(o: { hostIfName: string; tag: string; txFrames?: number }): Promise<CreatedInterface> {
    this.step('createAfPacket');
    if (this.linux && !(await this.linux.hostLinkExists(o.hostIfName))) throw new VswitchError('af_packet_create', `host interface ${o.hostIfName} does not exist`, false, -2);
    const i = this.newIf('afpacket', o.tag, { hostIfName: o.hostIfName });
    return { swIfIndex: i.swIfIndex, mac: i.mac };
  }
  async deleteAfPacket(o: { hostIfName: string; swIfIndex: number }): Promise<void> { this.step('deleteAfPacket'); this.del('deleteAfPacket', o.swIfIndex, 'afpacket'); }
  async addMemifSocket(o: { socketId: number; filename: string }): Promise<void> {
    this.step('addMemifSocket');
    if (this.memifSockets.has(o.socketId)) throw new VswitchError('memif_socket_filename_add_del', `socket id ${o.socketId} in use`);
    this.memifSockets.set(o.socketId, o.filename);
  }
  async deleteMemifSocket(socketId: number): Promise<void> {
    this.step('deleteMemifSocket');
    if (!this.memifSockets.delete(socketId)) throw new VswitchError('memif_socket_filename_add_del', `no socket id ${socketId}`, true);
  }
  async createMemif(o: { socketId: number; id: number; secret: string; tag: string; mac?: string }): Promise<CreatedInterface> {
    this.step('createMemif');
    if (!this.memifSockets.has(o.socketId)) throw new VswitchError('memif_create', `no socket id ${o.socketId}`);
    const i = this.newIf('memif', o.tag, { name: `${o.socketId}/${o.id}`, ...(o.mac ? { mac: o.mac } : {}) });
    return { swIfIndex: i.swIfIndex, mac: i.mac };
  }
  async deleteMemif(swIfIndex: number): Promise<void> { this.step('deleteMemif'); this.del('deleteMemif', swIfIndex, 'memif'); }
  async createLoopback(o: { tag: string; mac?: string }): Promise<CreatedInterface> { this.step('createLoopback'); const i = this.newIf('loop', o.tag, o.mac ? { mac: o.mac } : {}); return { swIfIndex: i.swIfIndex, mac: i.mac }; }
  async deleteLoopback(swIfIndex: number): Promise<void> { this.step('deleteLoopback'); this.del('deleteLoopback', swIfIndex, 'loop'); }
  async setInterfaceUp(swIfIndex: number, up: boolean): Promise<void> { this.step('setInterfaceUp'); this.get('setInterfaceUp', swIfIndex).up = up; }
  async setInterfaceMtu(swIfIndex: number, mtu: number): Promise<void> { this.step('setInterfaceMtu'); this.get('setInterfaceMtu', swIfIndex).mtu = mtu; }
  async addInterfaceAddress(swIfIndex: number, prefix: string): Promise<void> { this.step('addInterfaceAddress'); this.get('addInterfaceAddress', swIfIndex).addrs.push(prefix); }
  async interfaceAddresses(swIfIndex: number): Promise<string[]> { return [...this.get('interfaceAddresses', swIfIndex).addrs]; }
  async setUnnumbered(swIfIndex: number, from: number): Promise<void> { this.step('setUnnumbered'); this.get('setUnnumbered', from); this.get('setUnnumbered', swIfIndex).unnumberedFrom = from; }
  async unsetUnnumbered(swIfIndex: number): Promise<void> { this.step('unsetUnnumbered'); delete this.get('unsetUnnumbered', swIfIndex).unnumberedFrom; }
  async unnumberedFrom(swIfIndex: number): Promise<number | undefined> { return this.ifs.get(swIfIndex)?.unnumberedFrom; }
  async interfaceVrf(swIfIndex: number): Promise<number> { return this.get('interfaceVrf', swIfIndex).vrf; }
  async clearCounters(swIfIndex: number): Promise<void> { this.step('clearCounters'); this.get('clearCounters', swIfIndex); }
  async setInterfaceVrf(swIfIndex: number, vrfId: number): Promise<void> {
    this.step('setInterfaceVrf');
    if (!this.vrfs.has(vrfId)) throw new VswitchError('sw_interface_set_table', `no VRF ${vrfId}`);
    this.get('setInterfaceVrf', swIfIndex).vrf = vrfId;
  }
  async addVrf(vrfId: number): Promise<void> { this.step('addVrf'); this.vrfs.add(vrfId); }
  async deleteVrf(vrfId: number): Promise<void> { this.step('deleteVrf'); this.vrfs.delete(vrfId); }
  async addBridgeDomain(bdId: number): Promise<void> { this.step('addBridgeDomain'); this.bds.add(bdId); }
  async deleteBridgeDomain(bdId: number): Promise<void> { this.step('deleteBridgeDomain'); this.bds.delete(bdId); }
  async setInterfaceBridge(swIfIndex: number, bdId: number, o: { bvi?: boolean; shg?: number } = {}): Promise<void> {
    this.step('setInterfaceBridge');
    if (!this.bds.has(bdId)) throw new VswitchError('sw_interface_set_l2_bridge', `no bridge domain ${bdId}`);
    Object.assign(this.get('setInterfaceBridge', swIfIndex), { bd: bdId, bvi: !!o.bvi, shg: o.shg ?? 0 });
  }
  async tagInterface(swIfIndex: number, tag: string): Promise<void> { this.step('tagInterface'); this.get('tagInterface', swIfIndex).tag = tag; }
  private tunnel(t: VxlanArgs): FakeIf | undefined {
    return [...this.ifs.values()].find((i) => i.vxlan && i.vxlan.src === t.src && i.vxlan.dst === t.dst && i.vxlan.vni === t.vni);
  }
  async createVxlanTunnel(t: VxlanArgs): Promise<CreatedInterface> {
    this.step('createVxlanTunnel');
    if (this.tunnel(t)) throw new VswitchError('vxlan_add_del_tunnel_v3', 'tunnel exists', false, -75);
    const i = this.newIf('vxlan', '', { vxlan: { src: t.src, dst: t.dst, vni: t.vni }, up: true });
    return { swIfIndex: i.swIfIndex, mac: i.mac };
  }
  async deleteVxlanTunnel(t: VxlanArgs): Promise<void> {
    this.step('deleteVxlanTunnel');
    const i = this.tunnel(t);
    if (!i) throw new VswitchError('vxlan_add_del_tunnel_v3', 'no such tunnel', true, -6);
    this.del('deleteVxlanTunnel', i.swIfIndex, 'vxlan');
  }
  async dumpVxlanTunnels(): Promise<VxlanTunnel[]> {
    return [...this.ifs.values()].filter((i) => i.vxlan).map((i) => ({ ...i.vxlan!, swIfIndex: i.swIfIndex, instance: i.swIfIndex, encapVrfId: 0, srcPort: 4789, dstPort: 4789 }));
  }
  /** VPP: a (non-multipath) add replaces the prefix's paths; a delete removes the prefix. */
  static rkey(r: RouteArgs): string { return `${r.vrfId}:${r.prefix}`; }
  async addRoute(r: RouteArgs): Promise<void> { this.step('addRoute'); this.get('addRoute', r.swIfIndex); this.routes.set(FakeVswitch.rkey(r), { ...r }); }
  async deleteRoute(r: RouteArgs): Promise<void> {
    this.step('deleteRoute');
    if (!this.routes.delete(FakeVswitch.rkey(r))) throw new VswitchError('ip_route_add_del', `no route ${r.prefix}`, true, -6);
  }
  async addNeighbor(n: NeighborArgs): Promise<void> { this.step('addNeighbor'); this.get('addNeighbor', n.swIfIndex); this.neighbors.set(`${n.swIfIndex}:${n.ip}`, { ...n }); }
  async dumpNeighbors(swIfIndex: number): Promise<Array<NeighborArgs & { static: boolean }>> {
    return [...this.neighbors.values()].filter((n) => n.swIfIndex === swIfIndex).map((n) => ({ ...n, static: n.static ?? true }));
  }
  async deleteNeighbor(n: NeighborArgs): Promise<void> {
    this.step('deleteNeighbor');
    if (!this.neighbors.delete(`${n.swIfIndex}:${n.ip}`)) throw new VswitchError('ip_neighbor_add_del', `no neighbour ${n.ip}`, true, -6);
  }
  async putServiceTranslation(t: ServiceTranslation): Promise<number> {
    this.step('putServiceTranslation');
    const have = [...this.translations].find(([, x]) => x.vip === t.vip && x.port === t.port && x.proto === t.proto)?.[0];
    const id = have ?? this.nextTranslation++;
    // As VPP: the load-balancing type (affinity) is the one the translation was created with.
    const affinity = have === undefined ? t.affinity : this.translations.get(have)!.affinity;
    this.translations.set(id, { ...t, affinity, backends: t.backends.map((b) => ({ ...b })) });
    return id;
  }
  async deleteServiceTranslation(id: number): Promise<void> {
    this.step('deleteServiceTranslation');
    if (!this.translations.delete(id)) throw new VswitchError('cnat_translation_del', `no translation ${id}`, true, -6);
  }
  async dumpServiceTranslations(): Promise<ServiceTranslationEntry[]> {
    return [...this.translations].map(([id, t]) => ({ id, ...t, backends: t.backends.map((b) => ({ ...b })) }));
  }
  async setServiceSnat(ip: string): Promise<void> { this.step('setServiceSnat'); this.snat = ip; }
  async enableServiceNat(swIfIndex: number, role: ServiceNatRole): Promise<void> {
    this.step('enableServiceNat');
    if (this.snat === undefined && role === 'pod') throw new VswitchError('cnat_snat_policy_add_del_if', 'no snat policy', false, -30);
    this.get('enableServiceNat', swIfIndex);
    this.serviceNat.set(swIfIndex, role);
  }
  async disableServiceNat(swIfIndex: number, role: ServiceNatRole): Promise<void> {
    this.step('disableServiceNat');
    this.get('disableServiceNat', swIfIndex);
    if (this.serviceNat.get(swIfIndex) === role) this.serviceNat.delete(swIfIndex);
  }
  async routesThrough(swIfIndex: number, vrfId: number): Promise<string[]> {
    return [...this.routes.values()].filter((r) => r.swIfIndex === swIfIndex && r.vrfId === vrfId).map((r) => r.prefix);
  }
  async addRejectRoute(ip: string): Promise<void> { this.step('addRejectRoute'); this.rejects.add(ip); }
  async deleteRejectRoute(ip: string): Promise<void> {
    this.step('deleteRejectRoute');
    if (!this.rejects.delete(ip)) throw new VswitchError('ip_route_add_del', `no route ${ip}/32`, true, -6);
  }
  async dumpRejectRoutes(): Promise<string[]> { return [...this.rejects]; }
  async deleteLegacyNatMapping(m: LegacyNatMapping): Promise<void> {
    this.step('deleteLegacyNatMapping');
    if (!this.legacyNat.delete(`${m.localIp}>${m.externalIp}@${m.vrfId}`)) throw new VswitchError('nat44_add_del_static_mapping_v2', 'no such mapping', true, -6);
  }
  async ping(): Promise<void> { this.calls.push('ping'); }
  async dumpInterfaces(swIfIndex?: number): Promise<VswitchInterface[]> {
    return [...this.ifs.values()].filter((i) => swIfIndex === undefined || i.swIfIndex === swIfIndex).map((i) => ({ swIfIndex: i.swIfIndex, name: i.name, tag: i.tag, up: i.up, mac: i.mac, mtu: i.mtu ?? 9000 }));
  }
  /** An interface disappears (deleted, or behind the agent's back): VPP drops its routes and neighbours with it. */
  vanish(swIfIndex: number): void {
    this.ifs.delete(swIfIndex);
    for (const [k, r] of this.routes) if (r.swIfIndex === swIfIndex) this.routes.delete(k);
    for (const [k, n] of this.neighbors) if (n.swIfIndex === swIfIndex) this.neighbors.delete(k);
    this.serviceNat.delete(swIfIndex);
  }
  /** Pod-owned objects (everything but node network infrastructure). */
  podObjects(): { ifs: FakeIf[]; routes: number; neighbors: number; sockets: number } {
    return { ifs: [...this.ifs.values()].filter((i) => i.tag.startsWith('tsvpp:')), routes: this.routes.size, neighbors: this.neighbors.size, sockets: this.memifSockets.size };
  }
}

interface FakeLink { name: string; up: boolean; addrs: string[]; routes: RouteSpec[]; peer?: { ns: string | undefined; name: string }; mac?: string; group?: number; redirectTo?: FakeLink }
const MAIN = 254;

let macs = 0;
const newMac = () => `02:aa:00:00:${((++macs >> 8) & 0xff).toString(16).padStart(2, '0')}:${(macs & 0xff).toString(16).padStart(2, '0')}`;

/** In-memory Linux: namespaces ('' = the agent's own) holding links with addresses and routes. */
export class FakeLinux implements LinuxOps, LinuxSide {
  ns = new Map<string, Map<string, FakeLink>>([['', new Map()]]);
  /** Policy routing rules per namespace. */
  rules = new Map<string, RuleSpec[]>();
  calls: string[] = [];
  failAt?: number;
  private mutating = 0;
  private step(op: string): void {
    this.calls.push(op);
    if (this.failAt !== undefined && this.mutating++ === this.failAt) throw new Error(`\`ip ${op}\` failed (exit 2): injected failure`);
  }
  addNs(name: string): void { this.ns.set(name, new Map([['lo', { name: 'lo', up: true, addrs: ['127.0.0.1/8'], routes: [] }]])); }
  private links(netns: string | undefined, op: string): Map<string, FakeLink> {
    const m = this.ns.get(netns ?? '');
    if (!m) throw new Error(`\`ip -n ${netns} ${op}\` failed (exit 1): Cannot open network namespace "${netns}": No such file or directory`);
    return m;
  }
  private link(netns: string | undefined, name: string, op: string): FakeLink {
    const l = this.links(netns, op).get(name);
    if (!l) throw new Error(`\`ip ${op} ${name}\` failed (exit 1): Cannot find device "${name}"`);
    return l;
  }
  async netnsExists(netns: string): Promise<boolean> { return this.ns.has(netns); }
  async createVethPair(o: { hostName: string; podName: string; netns?: string; podMac?: string; group?: number }): Promise<void> {
    this.step('link add veth');
    const host = this.links(undefined, 'link add'), pod = this.links(o.netns, 'link add');
    if (host.has(o.hostName) || pod.has(o.podName)) throw new Error('`ip link add` failed (exit 2): RTNETLINK answers: File exists');
    const group = o.group !== undefined ? { group: o.group } : {};
    host.set(o.hostName, { name: o.hostName, up: false, addrs: [], routes: [], peer: { ns: o.netns, name: o.podName }, mac: newMac(), ...group });
    pod.set(o.podName, { name: o.podName, up: false, addrs: [], routes: [], peer: { ns: undefined, name: o.hostName }, mac: o.podMac ?? newMac(), ...group });
  }
  async redirectIngress(o: { dev: string; to: string; netns?: string }): Promise<void> {
    this.step('tc filter replace');
    this.link(o.netns, o.dev, 'tc').redirectTo = this.link(o.netns, o.to, 'tc');
  }
  async clearIngress(devs: readonly string[], netns?: string): Promise<void> {
    this.step('tc filter del');
    for (const d of devs) { const l = this.links(netns, 'tc').get(d); if (l) delete l.redirectTo; }
  }
  /** The link `dev`'s ingress is redirected to (while that link exists). */
  redirectOf(dev: string, netns?: string): string | undefined {
    const to = this.ns.get(netns ?? '')?.get(dev)?.redirectTo;
    return to && this.ns.get(netns ?? '')?.get(to.name) === to ? to.name : undefined;
  }
  async deleteLinkGroup(group: number, netns?: string): Promise<number> {
    const m = this.links(netns, 'link del group');
    const grouped = [...m.values()].filter((l) => l.group === group);
    if (grouped.length) this.step('link del group');
    for (const l of grouped) this.remove(m, l);
    return grouped.length;
  }
  private remove(m: Map<string, FakeLink>, l: FakeLink): void {
    m.delete(l.name);
    if (l.peer) this.ns.get(l.peer.ns ?? '')?.delete(l.peer.name);
  }
  async moveLink(o: { name: string; netns: string; newName: string }): Promise<void> {
    this.step('link set netns');
    const host = this.links(undefined, 'link set'), pod = this.links(o.netns, 'link set netns');
    const l = this.link(undefined, o.name, 'link set');
    if (pod.has(o.newName)) throw new Error('`ip link set` failed (exit 2): RTNETLINK answers: File exists');
    host.delete(o.name);
    l.name = o.newName;
    l.up = false;
    pod.set(o.newName, l);
    // A veth's other end follows it (the kernel's peer is the device, not a name).
    if (l.peer) { const p = this.ns.get(l.peer.ns ?? '')?.get(l.peer.name); if (p?.peer) p.peer = { ns: o.netns, name: o.newName }; }
  }
  async deleteLinkIfExists(name: string, netns?: string): Promise<boolean> {
    const m = this.ns.get(netns ?? '');
    const l = m?.get(name);
    if (!l) return false;
    this.step('link delete');
    this.remove(m!, l);
    return true;
  }
  async setLinkUp(name: string, up: boolean, netns?: string): Promise<void> { this.step('link set up'); this.link(netns, name, 'link set').up = up; }
  async addAddress(netns: string | undefined, dev: string, cidr: string): Promise<void> { this.step('addr add'); this.link(netns, dev, 'addr add').addrs.push(cidr); }
  async addRoute(netns: string | undefined, r: RouteSpec): Promise<void> { this.step('route add'); this.link(netns, r.dev, 'route add').routes.push(r); }
  async addNeighbor(netns: string | undefined, o: { ip: string; mac: string; dev: string }): Promise<void> { this.step('neigh replace'); this.link(netns, o.dev, 'neigh'); }
  /** As the kernel takes a batch: every request is carried out, the first refusal is thrown. */
  async configureLink(netns: string | undefined, c: LinkConfig): Promise<Link> {
    const l = this.link(netns, c.name, 'link show');
    const ops: Array<() => Promise<void>> = [
      ...(c.up !== undefined ? [() => this.setLinkUp(c.name, c.up!, netns)] : []),
      ...(c.addresses ?? []).map((a) => () => this.addAddress(netns, c.name, a)),
      ...(c.neighbors ?? []).map((n) => () => this.addNeighbor(netns, { ...n, dev: c.name })),
      ...(c.routes ?? []).map((r) => () => this.addRoute(netns, { ...r, dev: c.name })),
    ];
    let first: unknown;
    for (const op of ops) await op().catch((e) => { first ??= e; });
    if (first) throw first;
    return { ifindex: 1, ifname: l.name, flags: l.up ? ['UP'] : [], ...(l.mac ? { address: l.mac } : {}) };
  }
  async addRule(netns: string | undefined, r: RuleSpec): Promise<void> {
    this.step('rule add');
    this.links(netns, 'rule add');
    const k = netns ?? '';
    this.rules.set(k, [...(this.rules.get(k) ?? []), { ...r }]);
  }
  async listRules(netns?: string): Promise<RuleInfo[]> {
    this.links(netns, 'rule show');
    return (this.rules.get(netns ?? '') ?? []).map((r) => ({ priority: r.priority, src: r.from, table: String(r.table) }));
  }
  async listLinks(netns?: string): Promise<Link[]> {
    return [...this.links(netns, 'link show').values()].map((l, i) => ({ ifindex: i + 1, ifname: l.name, flags: l.up ? ['UP'] : [], ...(l.mac ? { address: l.mac } : {}) }));
  }
  async listAddresses(netns?: string): Promise<AddrInfo[]> {
    return [...this.links(netns, 'addr show').values()].map((l) => ({ ifname: l.name, addr_info: l.addrs.map((a) => ({ family: 'inet', local: a.split('/')[0]!, prefixlen: Number(a.split('/')[1]) })) }));
  }
  async listRoutes(netns?: string, table?: number): Promise<RouteInfo[]> {
    return [...this.links(netns, 'route show').values()].flatMap((l) => l.routes.filter((r) => (r.table ?? MAIN) === (table ?? MAIN))
      .map((r) => ({ dst: r.dst, dev: l.name, ...(r.via ? { gateway: r.via } : {}), ...(r.scope ? { scope: r.scope } : {}) })));
  }
  // LinuxSide (what VPP would do)
  async createTap(name: string): Promise<unknown> {
    const m = this.links(undefined, 'tuntap add');
    if (m.has(name)) throw new Error(`tap ${name} exists`);
    const l: FakeLink = { name, up: false, addrs: [], routes: [], mac: newMac() };
    m.set(name, l);
    return l;
  }
  async deleteTap(device: unknown): Promise<void> {
    for (const m of this.ns.values()) for (const [n, l] of m) if (l === device) m.delete(n);
  }
  async hostLinkExists(name: string): Promise<boolean> { return this.ns.get('')!.has(name); }
}

/** In-memory sequential allocator with host-local's observable behaviour. */
export class FakeIpam implements Ipam {
  leases = new Map<string, string>(); // `${network}/${containerId}/${ifName}` -> address
  last = new Map<string, number>();
  calls: string[] = [];
  failAt?: number;
  private n = 0;
  async allocate(r: IpamRange, k: { containerId: string; ifName: string }): Promise<Lease> {
    this.calls.push(`allocate ${r.network} ${k.ifName}`);
    if (this.failAt !== undefined && this.n++ === this.failAt) throw new IpamError('ADD', r.network, 'no IP addresses available in range set', 999);
    const start = parseIp4(r.rangeStart!), end = parseIp4(r.rangeEnd!);
    const used = new Set([...this.leases.entries()].filter(([key]) => key.startsWith(`${r.network}/`)).map(([, a]) => a));
    let cand = (this.last.get(r.network) ?? start - 1) + 1;
    for (let i = 0; i <= end - start; i++, cand++) {
      if (cand > end) cand = start;
      const a = `${formatIp4(cand)}/${r.subnet.split('/')[1]}`;
      if (!used.has(a)) {
        this.leases.set(`${r.network}/${k.containerId}/${k.ifName}`, a);
        this.last.set(r.network, cand);
        return { address: a, ...(r.gateway ? { gateway: r.gateway } : {}) };
      }
    }
    throw new IpamError('ADD', r.network, 'no IP addresses available in range set');
  }
  async release(r: IpamRange, k: { containerId: string; ifName: string }): Promise<void> { this.calls.push(`release ${r.network} ${k.ifName}`); this.leases.delete(`${r.network}/${k.containerId}/${k.ifName}`); }
  async mayHold(r: IpamRange, k: { containerId: string; ifName: string }): Promise<boolean> { return this.leases.has(`${r.network}/${k.containerId}/${k.ifName}`); }
  async listLeases(r: IpamRange): Promise<LeaseFile[]> {
    return [...this.leases.entries()].filter(([key]) => key.startsWith(`${r.network}/`)).map(([key, a]) => {
      const [, containerId, ifName] = key.split('/');
      return { address: a.split('/')[0]!, containerId: containerId!, ifName: ifName! };
    });
  }
  async dropOwnerless(): Promise<boolean> { return false; } // every in-memory lease names its holder
  async check(r: IpamRange, k: { containerId: string; ifName: string }, address: string): Promise<void> {
    if (this.leases.get(`${r.network}/${k.containerId}/${k.ifName}`) !== address) throw new IpamError('CHECK', r.network, `failed to find address ${address} for ${k.containerId}`);
  }
}

/** In-memory etcd (the KeyValueStore the agent uses); failAt fails the n-th call as an unreachable etcd would. */
export class FakeKeyValueStore implements KeyValueStore {
  kv = new Map<string, string>();
  calls: string[] = [];
  failAt?: number;
  private n = 0;
  private step(op: string): void {
    this.calls.push(op);
    if (this.failAt !== undefined && this.n++ === this.failAt) throw new Error(`etcd http://127.0.0.1:1: ${op}: injected failure`);
  }
  async createIfAbsent(key: string, value: string): Promise<void> {
    this.step(`create ${key}`);
    const have = this.kv.get(key);
    if (have !== undefined && have !== value) throw new Error(`etcd key ${key} exists already with another value (owned by someone else; not overwritten)`);
    this.kv.set(key, value);
  }
  async compareAndDelete(key: string, value: string): Promise<boolean> {
    this.step(`delete ${key}`);
    if (this.kv.get(key) !== value) return false;
    this.kv.delete(key);
    return true;
  }
  async update(key: string, change: (value: string | undefined) => string | undefined): Promise<void> {
    this.step(`update ${key}`);
    const next = change(this.kv.get(key));
    if (next === undefined) this.kv.delete(key); else this.kv.set(key, next);
  }
  async close(): Promise<void> {}
}

type OverlayDevice = PlannedOverlay['device'];
type OverlayPeer = PlannedOverlay['peers'][number];

/** In-memory host network stack for the cluster reconciler (HostNet): links (a VXLAN device with its peers' entries), the agent's routes, its nftables table. */
export class FakeHost implements HostNet {
  forwarding = false;
  links = new Map<string, { up: boolean; addrs: string[]; peer?: string; vxlan?: OverlayDevice; entries?: Array<Omit<OverlayPeer, 'node'>> }>();
  routes = new Map<string, PlannedHostRoute>();
  nft: string | undefined;
  /** Next hops a route may use (the node's on-link subnet); others fail like `ip route` does. */
  constructor(readonly onLink: (via: string) => boolean = () => true) {}
  async enableForwarding(): Promise<void> { this.forwarding = true; }
  async linkExists(name: string): Promise<boolean> { return this.links.has(name); }
  async createVethPair(a: string, b: string): Promise<void> {
    if (this.links.has(a) || this.links.has(b)) throw new Error('`ip link add` failed (exit 2): RTNETLINK answers: File exists');
    this.links.set(a, { up: false, addrs: [], peer: b });
    this.links.set(b, { up: false, addrs: [], peer: a });
  }
  async deleteLinkIfExists(name: string): Promise<boolean> {
    const l = this.links.get(name);
    if (!l) return false;
    this.links.delete(name);
    if (l.peer) this.links.delete(l.peer);
    for (const [k, r] of this.routes) if (r.dev === name) this.routes.delete(k);
    return true;
  }
  private link(name: string) {
    const l = this.links.get(name);
    if (!l) throw new Error(`\`ip link\` failed (exit 1): Cannot find device "${name}"`);
    return l;
  }
  async setLinkUp(name: string): Promise<void> { this.link(name).up = true; }
  async linkMtu(name: string): Promise<number> { this.link(name); return 1500; }
  async setOnlyAddress(dev: string, cidr: string): Promise<void> { this.link(dev).addrs = [cidr]; }
  async ensureVxlan(d: OverlayDevice): Promise<'created' | 'replaced' | 'ok'> {
    const l = this.links.get(d.name);
    const same = l?.vxlan && JSON.stringify(l.vxlan) === JSON.stringify(d);
    if (l && !same) await this.deleteLinkIfExists(d.name);
    if (!same) this.links.set(d.name, { up: false, addrs: [], vxlan: { ...d }, entries: [] });
    const v = this.link(d.name);
    v.up = true;
    v.addrs = [d.address];
    return same ? 'ok' : l ? 'replaced' : 'created';
  }
  async setVxlanPeers(dev: string, peers: readonly OverlayPeer[]): Promise<{ added: string[]; deleted: string[] }> {
    const l = this.link(dev);
    if (!l.vxlan) throw new Error(`${dev} is not a VXLAN device`);
    const key = (p: Omit<OverlayPeer, 'node'>) => `${p.ip} ${p.mac} ${p.remote}`;
    const want = new Set(peers.map(key)), have = new Set((l.entries ?? []).map(key));
    l.entries = peers.map(({ ip, mac, remote }) => ({ ip, mac, remote }));
    return { added: [...want].filter((k) => !have.has(k)), deleted: [...have].filter((k) => !want.has(k)) };
  }
  async listRoutes(): Promise<PlannedHostRoute[]> { return [...this.routes.values()].map((r) => ({ ...r, dev: r.dev ?? 'underlay' })); }
  async replaceRoute(r: PlannedHostRoute): Promise<void> {
    if (r.dev) this.link(r.dev);
    if (!r.dev && !this.onLink(r.via)) throw new Error(`\`ip route replace ${r.dst} via ${r.via}\` failed (exit 2): Error: Nexthop has invalid gateway.`);
    this.routes.set(r.dst, { ...r });
  }
  async deleteRoute(dst: string): Promise<boolean> { return this.routes.delete(dst); }
  async nftList(): Promise<string | undefined> { return this.nft; }
  async nftReplace(text: string): Promise<void> { this.nft = text; }
  async nftDelete(): Promise<boolean> { const had = this.nft !== undefined; this.nft = undefined; return had; }
}
