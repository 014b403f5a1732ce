// The VPP operations the agent uses, as a small interface: the pipeline and the interface kinds
// call these, never VPP messages. Implementations: VppVswitch (vpp-vswitch.ts, over the typed VPP
// API bindings) and an in-memory fake in the tests. Interfaces are identified by sw_if_index and
// carry a tag (VPP's 64-byte interface tag) so that the agent can find its own after a restart.

export interface CreatedInterface { swIfIndex: number; mac?: string }

export interface VswitchInterface {
  swIfIndex: number;
  name: string;
  tag: string;
  up: boolean;
  mac?: string;
}

export interface RouteArgs { prefix: string; vrfId: number; swIfIndex: number; nextHop?: string }
export interface NatStaticMappingArgs { localIp: string; externalIp: string; vrfId: number }
/** A static IPv4 neighbour (ARP entry) on a VPP interface. */
export interface NeighborArgs { swIfIndex: number; ip: string; mac: string }

export interface Vswitch {
  /**
   * tap v2 whose Linux side is created as `hostIfName` in VPP's own namespace (the agent moves it
   * into the pod: tap_create_v2's host_namespace is a string[64], shorter than many netns paths).
   */
  createTap(o: { hostIfName: string; tag: string }): Promise<CreatedInterface>;
  deleteTap(swIfIndex: number): Promise<void>;
  /** af_packet host-interface on an existing Linux interface in VPP's namespace. */
  createAfPacket(o: { hostIfName: string; tag: string }): Promise<CreatedInterface>;
  deleteAfPacket(o: { hostIfName: string; swIfIndex: number }): Promise<void>;
  addMemifSocket(o: { socketId: number; filename: string }): Promise<void>;
  deleteMemifSocket(socketId: number): Promise<void>;
  /** VPP-side master memif, ethernet mode. */
  createMemif(o: { socketId: number; id: number; secret: string; tag: string }): Promise<CreatedInterface>;
  deleteMemif(swIfIndex: number): Promise<void>;
  createLoopback(o: { tag: string }): Promise<CreatedInterface>;
  deleteLoopback(swIfIndex: number): Promise<void>;
  setInterfaceUp(swIfIndex: number, up: boolean): Promise<void>;
  addInterfaceAddress(swIfIndex: number, prefix: string): Promise<void>;
  setUnnumbered(swIfIndex: number, fromSwIfIndex: number): Promise<void>;
  setInterfaceVrf(swIfIndex: number, vrfId: number): Promise<void>;
  addVrf(vrfId: number, name: string): Promise<void>;
  deleteVrf(vrfId: number): Promise<void>;
  addBridgeDomain(bdId: number): Promise<void>;
  deleteBridgeDomain(bdId: number): Promise<void>;
  setInterfaceBridge(swIfIndex: number, bdId: number): Promise<void>;
  addRoute(r: RouteArgs): Promise<void>;
  deleteRoute(r: RouteArgs): Promise<void>;
  /** Static, so VPP forwards the first packet to a pod instead of dropping it while it resolves. */
  addNeighbor(n: NeighborArgs): Promise<void>;
  deleteNeighbor(n: NeighborArgs): Promise<void>;
  addNatStaticMapping(m: NatStaticMappingArgs): Promise<void>;
  deleteNatStaticMapping(m: NatStaticMappingArgs): Promise<void>;
  dumpInterfaces(): Promise<VswitchInterface[]>;
  /** Calls `cb` each time the connection to the vswitch is back after it went away (VPP restarted). */
  onReconnected?(cb: () => void): void;
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
