// What this node's data path toward the host and the other nodes should look like, computed from
// the node set and the node's networks alone (pure: no I/O). The reconciler (./cluster.ts)
// compares it with what VPP, the host's routing table and nftables have, and changes only the
// difference. See docs/cni.md "Cluster networking" for the picture.
//
// - VPP ↔ host: a /30 link (hostLinkSubnet): VPP .1, host .2. VPP's default route (VRF 0) points
//   at the host; the host routes this node's pod slice into VPP and masquerades what the slice
//   sends beyond the cluster pod subnet (nftables table `ip tsvpp`).
// - Default network between nodes, by `nodeInterconnect`:
//   host-gw: each host routes every other node's slice via that node's InternalIP (so nodes must
//   share an L2 segment).
//   vxlan: each host has a Linux VXLAN device (OVERLAY_IFNAME) addressed with its slice's network
//   address (x.y.z.0/32, which IPAM never hands out) and a MAC derived from it, and routes every
//   other node's slice via that node's device address, on-link through the device; a permanent
//   neighbour entry gives that address its MAC and a forwarding entry sends the MAC to the node's
//   InternalIP. No learning, no multicast, nothing to agree on but the node list (flannel's vxlan
//   backend, with the MACs computed instead of published). Nodes then only need to reach each
//   other's InternalIP over UDP (OVERLAY_PORT), across routers.
// - L2 and L3 CustomNetworks between nodes: one VXLAN tunnel per (network, other node) between the
//   VPPs, in the network's bridge domain (split-horizon group 1: what comes from one tunnel is
//   not flooded into another). A node's VTEP is its default-network gateway (first address of its
//   pod slice), which the default network's routes between hosts already carry (over vxlan: inside
//   the host overlay). On an L3 network the gateway loopback is the
//   bridge domain's BVI, addressed with the network's whole subnetCIDR, and every other node's
//   slice is routed via that node's gateway, found by ARP across the segment.
import { contains4, formatIp4, formatPrefix4, hostRange4, parseIp4, parsePrefix4, slice4, type Prefix4 } from '../ipv4.js';
import type { NetworkState } from '../agent/state.js';
import type { VxlanDevice, VxlanPeer } from '../linux/ip.js';
import { sliceIndex, type ClusterNode } from './nodes.js';

/** Host-side interface of the VPP ↔ host link; VPP's end of a veth is VETH_VPP_END. */
export const HOST_LINK_IFNAME = 'tsvpp-host';
export const VETH_VPP_END = 'tsvpp-vpp';
/** Routes the agent puts in the host's main table carry this protocol number (`ip route … proto 116`). */
export const HOST_ROUTE_PROTO = 116;
/** The agent's own nftables table (family ip). */
export const NFT_TABLE = 'tsvpp';
export const HOST_LINK_TAG = 'tsvpp-node:host-link';
export const TUNNEL_TAG_PREFIX = 'tsvpp-vx:';
/** VPP's VXLAN UDP port (IANA 4789). */
export const VXLAN_PORT = 4789;
/** The host's VXLAN device of the default network's overlay (nodeInterconnect vxlan). */
export const OVERLAY_IFNAME = 'tsvpp-vxlan';
export const OVERLAY_VNI = 1;
/**
 * The overlay's UDP port: IANA's too. VPP's own tunnels (CustomNetworks) travel inside it between
 * VTEPs that are pod-slice addresses, which the host forwards into VPP, never to its socket. The
 * socket listens on every address of the host: nftTable's overlay chain keeps pods away from it.
 */
export const OVERLAY_PORT = 4789;

/** How the default network crosses between nodes. */
export type NodeInterconnect = 'host-gw' | 'vxlan';
export const NODE_INTERCONNECTS: readonly NodeInterconnect[] = ['host-gw', 'vxlan'];

export interface PlanInput {
  /** This node: its name, and its InternalIP when the node set knows it. */
  self: { name: string; podSubnet: string; internalIp?: string };
  /** Every node of the cluster; this node's own entry is recognised by name and skipped. */
  nodes: readonly ClusterNode[];
  podSubnet: string;
  nodePrefixLen: number;
  hostLinkSubnet: string;
  /** sw_if_index of VPP's end of the host link. */
  hostLinkSwIfIndex: number;
  /** This node's networks (node state). */
  networks: readonly NetworkState[];
  /** What the host hands to VPP for the Services (absent: the node serves no Services). */
  services?: HostServices;
  interconnect: NodeInterconnect;
}

export interface NodePort { proto: 'TCP' | 'UDP' | 'SCTP'; port: number }

/** An external IP's or load balancer IP's port: DNATed to VPP's end of the link at `linkPort`, or (none) refused. */
export interface ExternalPort { ip: string; proto: NodePort['proto']; port: number; linkPort?: number }

/** The Services' part of the host: the NodePorts VPP serves, the ClusterIPs, and the external addresses' ports. */
export interface HostServices { nodePorts: readonly NodePort[]; clusterIps: readonly string[]; externals: readonly ExternalPort[] }

export interface PlannedRoute { prefix: string; vrfId: number; swIfIndex: number; nextHop: string }
export interface PlannedTunnel { network: string; node: string; vni: number; src: string; dst: string; bdId: number; tag: string }
export interface PlannedHostRoute { dst: string; via: string; dev?: string; src?: string; onlink?: boolean }

/** The host's overlay device and its peers (nodeInterconnect vxlan). */
export interface PlannedOverlay {
  device: VxlanDevice;
  /** One per other node: its device's address and MAC, and the InternalIP they are reached at. */
  peers: Array<VxlanPeer & { node: string }>;
}

export interface Plan {
  /** The VPP ↔ host link's addresses (CIDR). */
  vppLinkAddress: string;
  hostLinkAddress: string;
  vppRoutes: PlannedRoute[];
  tunnels: PlannedTunnel[];
  hostRoutes: PlannedHostRoute[];
  /** Absent: no overlay device on this host (host-gw, or vxlan without this node's InternalIP). */
  overlay?: PlannedOverlay;
  /** The whole `ip tsvpp` table, as `nft -f` reads it. */
  nftTable: string;
  /** Things the plan had to leave out, each naming the node or network. */
  warnings: string[];
}

/** The two ends of the host link: VPP gets the first host address, the host the second. */
export function hostLinkAddresses(subnet: string): { vpp: string; host: string; len: number } {
  const p = parsePrefix4(subnet);
  if (p.len > 30) throw new Error(`hostLinkSubnet ${subnet} is smaller than a /30`);
  const vpp = hostRange4(p).gateway;
  return { vpp, host: formatIp4(parseIp4(vpp) + 1), len: p.len };
}

/** A node's VXLAN endpoint: the gateway (first address) of its pod slice. */
export function vtepOf(podSlice: string): string {
  return hostRange4(parsePrefix4(podSlice)).gateway;
}

/** A node's address on the host overlay: its slice's network address (IPAM starts at .2). */
export function overlayAddressOf(podSlice: string): string {
  return formatIp4(parsePrefix4(podSlice).addr);
}

/** The MAC of a node's overlay device: 02:01 (locally administered) and its overlay address. */
export function overlayMac(podSlice: string): string {
  return ['02', '01', ...overlayAddressOf(podSlice).split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/**
 * The VXLAN network identifier of a CustomNetwork: FNV-1a of its name folded into 1..2^24-1, the
 * same on every node without any coordination. Two networks of one node that collide are refused
 * when the second is created (networks.ts).
 */
export function networkVni(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) { h ^= b; h = Math.imul(h, 0x01000193) >>> 0; }
  return (h % 0xffffff) + 1;
}

/**
 * The MAC of a network's gateway loopback: 02:00 (locally administered) and the gateway's IPv4
 * address, so the BVIs of one network differ on every node (VPP's own loopback MACs,
 * de:ad:00:00:00:<n>, repeat from node to node and the segment would see one MAC move between them).
 */
export function gatewayMac(gatewayIp: string): string {
  return ['02', '00', ...gatewayIp.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

export function tunnelTag(vni: number, dst: string): string {
  return `${TUNNEL_TAG_PREFIX}${vni}:${dst}`;
}

/** The slice `node` has in an L3 network, or a reason why it has none. */
function l3Slice(net: NetworkState, idx: number): Prefix4 | string {
  const whole = parsePrefix4(net.subnetCIDR!);
  const len = parsePrefix4(net.nodeSubnet!).len;
  try { return slice4(whole, len, idx); } catch (e) { return (e as Error).message; }
}

export function plan(i: PlanInput): Plan {
  const subnet = parsePrefix4(i.podSubnet);
  const link = hostLinkAddresses(i.hostLinkSubnet);
  const warnings: string[] = [];
  const vppRoutes: PlannedRoute[] = [{ prefix: '0.0.0.0/0', vrfId: 0, swIfIndex: i.hostLinkSwIfIndex, nextHop: link.host }];
  const tunnels: PlannedTunnel[] = [];
  // Into VPP from the host, with the node's address as the source: what VPP sends on to another
  // node then comes back to this one (host-gw), and a backend sees the node, not the link.
  const intoVpp = (dst: string): PlannedHostRoute => ({ dst, via: link.vpp, dev: HOST_LINK_IFNAME, ...(i.self.internalIp ? { src: i.self.internalIp } : {}) });
  const hostRoutes: PlannedHostRoute[] = [intoVpp(i.self.podSubnet)];
  for (const ip of [...new Set(i.services?.clusterIps ?? [])].sort()) {
    if (contains4(subnet, ip)) { warnings.push(`ClusterIP ${ip} is inside the pod subnet ${formatPrefix4(subnet)}: no host route`); continue; }
    hostRoutes.push(intoVpp(`${ip}/32`));
  }
  const myVtep = vtepOf(i.self.podSubnet);
  const peers = i.nodes.filter((n) => n.name !== i.self.name);
  let overlay: PlannedOverlay | undefined;
  switch (i.interconnect) {
    case 'host-gw': break;
    case 'vxlan':
      if (i.self.internalIp) {
        overlay = {
          device: { name: OVERLAY_IFNAME, vni: OVERLAY_VNI, port: OVERLAY_PORT, local: i.self.internalIp, mac: overlayMac(i.self.podSubnet), address: `${overlayAddressOf(i.self.podSubnet)}/32` },
          peers: [],
        };
      } else if (peers.length > 0) warnings.push('nodeInterconnect vxlan: this node has no InternalIP in the node list: no overlay, other nodes\' slices not routed');
      break;
    default: { const never: never = i.interconnect; throw new Error(`unknown nodeInterconnect ${String(never)}`); }
  }
  const tunnelled = i.networks.filter((n) => n.kind === 'L2' || n.kind === 'L3').sort((a, b) => a.name.localeCompare(b.name));
  for (const peer of [...peers].sort((a, b) => a.name.localeCompare(b.name))) {
    if (peer.podSubnet === i.self.podSubnet) { warnings.push(`node ${peer.name} has this node's pod subnet ${peer.podSubnet}: left out`); continue; }
    if (overlay) {
      const ip = overlayAddressOf(peer.podSubnet);
      overlay.peers.push({ node: peer.name, ip, mac: overlayMac(peer.podSubnet), remote: peer.internalIp });
      hostRoutes.push({ dst: peer.podSubnet, via: ip, dev: OVERLAY_IFNAME, onlink: true });
    } else if (i.interconnect === 'host-gw') hostRoutes.push({ dst: peer.podSubnet, via: peer.internalIp });
    const vtep = vtepOf(peer.podSubnet);
    const idx = sliceIndex(subnet, i.nodePrefixLen, parsePrefix4(peer.podSubnet));
    for (const net of tunnelled) {
      if (net.bdId === undefined || net.vni === undefined) { warnings.push(`network ${net.name} has no bridge domain or VNI yet`); continue; }
      tunnels.push({ network: net.name, node: peer.name, vni: net.vni, src: myVtep, dst: vtep, bdId: net.bdId, tag: tunnelTag(net.vni, vtep) });
      if (net.kind !== 'L3') continue;
      const s = l3Slice(net, idx);
      if (typeof s === 'string') { warnings.push(`node ${peer.name} has no slice of L3 network ${net.name}: ${s}`); continue; }
      vppRoutes.push({ prefix: formatPrefix4(s), vrfId: net.vrfId, swIfIndex: net.loopbackSwIfIndex!, nextHop: hostRange4(s).gateway });
    }
  }
  return { vppLinkAddress: `${link.vpp}/${link.len}`, hostLinkAddress: `${link.host}/${link.len}`, vppRoutes, tunnels, hostRoutes, ...(overlay ? { overlay } : {}), nftTable: nftTable(i.self.podSubnet, formatPrefix4(subnet), { vip: link.vpp, nodePorts: i.services?.nodePorts ?? [], externals: i.services?.externals ?? [] }, overlay && { remotes: overlay.peers.map((x) => x.remote) }), warnings };
}

/**
 * Masquerade what this node's pods send beyond the cluster pod subnet; and with NodePorts, DNAT
 * connections to them on the host's own addresses (not loopback: a DNATed 127.0.0.1 source is a
 * martian to the kernel) to VPP's end of the host link, from other hosts (prerouting) and from
 * this one (output). With the vxlan overlay, guard it: the host's VXLAN socket listens on every
 * address, and a pod that could reach it (its own host's addresses, or another node's InternalIP,
 * masqueraded on the way) could put packets with any cluster source into the overlay; and what the
 * overlay delivers must come from the cluster pod subnet. Laid out exactly as `nft list table`
 * prints it (an anonymous set's elements in address order): the reconciler compares texts.
 */
export function nftTable(nodeSlice: string, clusterSubnet: string, svc: { vip: string; nodePorts: readonly NodePort[]; externals?: readonly ExternalPort[] } = { vip: '', nodePorts: [] }, overlay?: { remotes: readonly string[] }): string {
  const chain = (name: string, lines: string[]) => [`\tchain ${name} {`, ...lines.map((l) => `\t\t${l}`), '\t}'].join('\n');
  const chains: string[] = [];
  if (overlay) {
    const to = [...new Set(overlay.remotes)].sort((a, b) => parseIp4(a) - parseIp4(b));
    const fromPods = `iifname "${HOST_LINK_IFNAME}" udp dport ${OVERLAY_PORT}`;
    chains.push(chain('overlay', [
      'type filter hook prerouting priority raw; policy accept;',
      `iifname "${OVERLAY_IFNAME}" ip saddr != ${clusterSubnet} drop`,
      `${fromPods} fib daddr type local drop`,
      ...(to.length === 0 ? [] : [`iifname "${HOST_LINK_IFNAME}" ip daddr ${to.length === 1 ? to[0] : `{ ${to.join(', ')} }`} udp dport ${OVERLAY_PORT} drop`]),
    ]));
  }
  const externals = [...(svc.externals ?? [])].sort((a, b) => parseIp4(a.ip) - parseIp4(b.ip) || a.port - b.port || a.proto.localeCompare(b.proto));
  const served = externals.filter((e) => e.linkPort !== undefined), refused = externals.filter((e) => e.linkPort === undefined);
  const match = (e: ExternalPort) => `ip daddr ${e.ip} ${e.proto.toLowerCase()} dport ${e.port}`;
  const jumps: string[] = [];
  if (served.length > 0) {
    // Exactly address:port/proto, whoever holds the address (this node, or a router that sends it
    // here); before the NodePorts, as kube-proxy, for an address of the node's own.
    chains.push(chain('externals', served.map((e) => `${match(e)} dnat to ${svc.vip}:${e.linkPort}`)));
    jumps.push('jump externals');
  }
  if (svc.nodePorts.length > 0) {
    const ports = [...new Map(svc.nodePorts.map((p) => [`${p.proto}/${p.port}`, p])).values()].sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
    chains.push(chain('nodeports', ports.map((p) => `${p.proto.toLowerCase()} dport ${p.port} dnat to ${svc.vip}`)));
    jumps.push('ip daddr != 127.0.0.0/8 fib daddr type local jump nodeports');
  }
  if (jumps.length > 0) {
    chains.push(
      chain('prerouting', ['type nat hook prerouting priority dstnat; policy accept;', ...jumps]),
      // nft takes no "dstnat" name for the output hook; -100 is its value.
      chain('output', ['type nat hook output priority -100; policy accept;', ...jumps]),
    );
  }
  if (refused.length > 0) {
    // No endpoint for it: refused at once rather than routed on (a router that sends the address
    // here would send it back). TCP with a reset: the kernel rate-limits ICMP errors to a host it
    // has not sent to before, so a forwarded connection's "port unreachable" may never leave.
    // New connections only (as kube-proxy): a flow to the address from before it was a Service's keeps going.
    chains.push(chain('unserved', ['type filter hook forward priority filter; policy accept;', ...refused.map((e) => `ct state new ${match(e)} reject${e.proto === 'TCP' ? ' with tcp reset' : ''}`)]));
  }
  chains.push(chain('postrouting', ['type nat hook postrouting priority srcnat; policy accept;', `ip saddr ${nodeSlice} ip daddr != ${clusterSubnet} masquerade`]));
  return `table ip ${NFT_TABLE} {\n${chains.join('\n\n')}\n}\n`;
}

/** Whether `ip` is this node's pod slice's or another node's (used to tell our tunnels). */
export function inSubnet(cidr: string, ip: string): boolean {
  return contains4(parsePrefix4(cidr), ip);
}
