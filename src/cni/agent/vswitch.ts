// The VPP operations the agent uses, as a small interface: the pipeline and the interface kinds
// call these, never VPP messages. Implementations: VppVswitch (vpp-vswitch.ts, over the typed VPP
// API bindings) and an in-memory fake in the tests. Interfaces are identified by sw_if_index and
// carry a tag (VPP's 64-byte interface tag) so that the agent can find its own after a restart.
import type { ServiceProtocol } from '../services/types.js';
import type { LegacyNatMapping } from './state.js';

export interface CreatedInterface { swIfIndex: number; mac?: string }

export interface VswitchInterface {
  swIfIndex: number;
  name: string;
  tag: string;
  up: boolean;
  mac?: string;
  /** The hardware (ethernet) MTU VPP sends up to. */
  mtu?: number;
}

export interface RouteArgs { prefix: string; vrfId: number; swIfIndex: number; nextHop?: string }
/** A unicast IPv4 VXLAN tunnel (encap in VRF 0, VPP's default port 4789), L2 (bridged). */
export interface VxlanArgs { src: string; dst: string; vni: number }
export interface VxlanTunnel extends VxlanArgs { swIfIndex: number; instance: number; encapVrfId: number; srcPort: number; dstPort: number }
/** A static IPv4 neighbour (ARP entry) on a VPP interface. */
export interface NeighborArgs { swIfIndex: number; ip: string; mac: string }

export interface ServiceBackend { ip: string; port: number }

/**
 * A service translation (VPP's cnat plugin): a new flow to vip:port/proto is sent to one of the
 * backends (destination rewritten), its replies come back from vip:port. With affinity the
 * choice depends on the client's address only (sessionAffinity: ClientIP).
 */
export interface ServiceTranslation { vip: string; port: number; proto: ServiceProtocol; backends: ServiceBackend[]; affinity: boolean }

/** A translation as VPP lists it, with its id. */
export interface ServiceTranslationEntry extends ServiceTranslation { id: number }

/**
 * What an interface is to the service NAT: `pod` (a pod's interface on the default network: a
 * flow a pod opens to itself through a Service is source-NATed) or `uplink` (the way to the host
 * and other nodes: a flow in from it and back out of it is source-NATed, so replies return here).
 */
export type ServiceNatRole = 'pod' | 'uplink';

export interface Vswitch {
  /**
   * tap v2 whose Linux side is created as `hostIfName` in VPP's own namespace (the agent moves it
   * into the pod: tap_create_v2's host_namespace is a string[64], shorter than many netns paths).
   */
  createTap(o: { hostIfName: string; tag: string }): Promise<CreatedInterface>;
  deleteTap(swIfIndex: number): Promise<void>;
  /**
   * af_packet host-interface on an existing Linux interface in VPP's namespace; `txFrames`: frames
   * of its TX ring (each VPP's default size, 66 KB: a GSO packet), VPP's default 1024 when absent.
   */
  createAfPacket(o: { hostIfName: string; tag: string; txFrames?: number }): Promise<CreatedInterface>;
  deleteAfPacket(o: { hostIfName: string; swIfIndex: number }): Promise<void>;
  addMemifSocket(o: { socketId: number; filename: string }): Promise<void>;
  deleteMemifSocket(socketId: number): Promise<void>;
  /** VPP-side master memif, ethernet mode. */
  /** A master memif; `mac` its MAC (default: VPP picks one). */
  createMemif(o: { socketId: number; id: number; secret: string; tag: string; mac?: string }): Promise<CreatedInterface>;
  deleteMemif(swIfIndex: number): Promise<void>;
  /** A loopback; `mac` (aa:bb:…) or VPP's de:ad:00:00:00:<instance>, which repeats on every node. */
  createLoopback(o: { tag: string; mac?: string }): Promise<CreatedInterface>;
  deleteLoopback(swIfIndex: number): Promise<void>;
  setInterfaceUp(swIfIndex: number, up: boolean): Promise<void>;
  /**
   * VPP's MTU of an ethernet interface. An af_packet interface must not be above its Linux link's:
   * a frame the kernel refuses stays in the TX ring and the interface sends nothing again.
   */
  setInterfaceMtu(swIfIndex: number, mtu: number): Promise<void>;
  addInterfaceAddress(swIfIndex: number, prefix: string): Promise<void>;
  /** The interface's own IPv4 addresses (CIDR), not borrowed ones. */
  interfaceAddresses(swIfIndex: number): Promise<string[]>;
  setUnnumbered(swIfIndex: number, fromSwIfIndex: number): Promise<void>;
  /** Ends the interface's unnumbered borrowing (none: nothing happens). */
  unsetUnnumbered(swIfIndex: number): Promise<void>;
  /** The interface it borrows its address from, if any. */
  unnumberedFrom(swIfIndex: number): Promise<number | undefined>;
  /** The IPv4 VRF the interface is in. */
  interfaceVrf(swIfIndex: number): Promise<number>;
  /** Zeroes the interface's counters (a recycled pool member starts at zero for its next pod). */
  clearCounters(swIfIndex: number): Promise<void>;
  setInterfaceVrf(swIfIndex: number, vrfId: number): Promise<void>;
  addVrf(vrfId: number, name: string): Promise<void>;
  deleteVrf(vrfId: number): Promise<void>;
  addBridgeDomain(bdId: number): Promise<void>;
  deleteBridgeDomain(bdId: number): Promise<void>;
  /** Puts the interface in the bridge domain: as its BVI, or as a port in split-horizon group shg (0: none). */
  setInterfaceBridge(swIfIndex: number, bdId: number, o?: { bvi?: boolean; shg?: number }): Promise<void>;
  tagInterface(swIfIndex: number, tag: string): Promise<void>;
  createVxlanTunnel(t: VxlanArgs): Promise<CreatedInterface>;
  deleteVxlanTunnel(t: VxlanArgs): Promise<void>;
  dumpVxlanTunnels(): Promise<VxlanTunnel[]>;
  addRoute(r: RouteArgs): Promise<void>;
  deleteRoute(r: RouteArgs): Promise<void>;
  /** Static, so VPP forwards the first packet to a pod instead of dropping it while it resolves. */
  addNeighbor(n: NeighborArgs): Promise<void>;
  deleteNeighbor(n: NeighborArgs): Promise<void>;
  /** IPv4 neighbours of one interface, static (the agent's) and learned (ARP). */
  dumpNeighbors(swIfIndex: number): Promise<Array<NeighborArgs & { static: boolean }>>;
  /**
   * Creates the translation of t.vip:t.port/t.proto, or replaces its backends (VPP keeps one per
   * triple); returns its id. VPP sets the load-balancing type only at creation: to change
   * `affinity`, delete the translation first.
   */
  putServiceTranslation(t: ServiceTranslation): Promise<number>;
  deleteServiceTranslation(id: number): Promise<void>;
  dumpServiceTranslations(): Promise<ServiceTranslationEntry[]>;
  /** The service NAT's source address (hairpin, flows in and out of the uplink) and its Kubernetes policy. */
  setServiceSnat(ip: string): Promise<void>;
  /** Service NAT on an interface: translations of flows entering it, source NAT and replies of flows leaving it. */
  enableServiceNat(swIfIndex: number, role: ServiceNatRole): Promise<void>;
  /**
   * Undoes one enableServiceNat. VPP counts them: an interface enabled twice keeps the features
   * until disabled twice (the agent enables once per interface life); where none is on, nothing happens.
   */
  disableServiceNat(swIfIndex: number, role: ServiceNatRole): Promise<void>;
  /** A VRF 0 route for ip/32 that answers ICMP unreachable (a ClusterIP: what no translation takes is refused). */
  addRejectRoute(ip: string): Promise<void>;
  deleteRejectRoute(ip: string): Promise<void>;
  /** The addresses with such a route. */
  dumpRejectRoutes(): Promise<string[]>;
  /** The prefixes of VRF `vrfId` with a path through the interface. */
  routesThrough(swIfIndex: number, vrfId: number): Promise<string[]>;
  /** Every interface, or only the one at `swIfIndex` (none when VPP has no such index). */
  dumpInterfaces(swIfIndex?: number): Promise<VswitchInterface[]>;
  /**
   * Deletes the NAT44-ED static mapping an agent before the cnat Services made for a
   * service-endpoint-if; notFound when VPP has none (the NAT44 plugin not loaded or not enabled
   * has none at all).
   */
  deleteLegacyNatMapping(m: LegacyNatMapping): Promise<void>;
  /** Calls `cb` each time the connection to the vswitch is back after it went away (VPP restarted). */
  onReconnected?(cb: () => void): void;
  /** One round trip that changes nothing (VPP's control_ping): whether the vswitch answers (STATUS). */
  ping(): Promise<void>;
  close?(): Promise<void>;
}

/** A vswitch call failed; notFound = the object to delete does not exist (fine for DEL). */
export class VswitchError extends Error {
  constructor(readonly op: string, message: string, readonly notFound = false, readonly retval?: number) {
    super(`${op}: ${message}`);
    this.name = 'VswitchError';
  }
}

export const TAG_PREFIX = 'tsvpp:';
export const NET_TAG_PREFIX = 'tsvpp-net:';
/** A veth pool member's af_packet (veth-pool.ts), until a pod takes it. */
export const POOL_TAG_PREFIX = 'tsvpp-pool:';
export const poolTag = (hostName: string) => `${POOL_TAG_PREFIX}${hostName}`;

/** Tag of a pod interface: fits VPP's 64-byte tag (6 + 40 + 1 + 15). */
export function podTag(containerId: string, ifName: string): string {
  return `${TAG_PREFIX}${containerId.slice(0, 40)}:${ifName}`;
}

export function parsePodTag(tag: string): { containerIdPrefix: string; ifName: string } | undefined {
  if (!tag.startsWith(TAG_PREFIX)) return undefined;
  const rest = tag.slice(TAG_PREFIX.length);
  const i = rest.lastIndexOf(':');
  if (i <= 0) return undefined;
  return { containerIdPrefix: rest.slice(0, i), ifName: rest.slice(i + 1) };
}
