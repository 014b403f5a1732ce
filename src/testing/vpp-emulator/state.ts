// TEST DOUBLE state: the parts of a VPP's configuration the emulator's handlers keep.
// Plain data so tests (and the CNI engineer) can inspect and seed it directly.

export type IfKind = 'local' | 'memif' | 'tap' | 'af_packet' | 'loopback' | 'vxlan';

/** IP address as the codec represents vl_api_address_t: {af: 0|1, un: {ip4}|{ip6}}. */
export interface ApiAddress { af: number; un: { ip4?: Uint8Array; ip6?: Uint8Array } }
export interface ApiPrefix { address: ApiAddress; len: number }

export interface MemifInfo {
  id: number; socketId: number; role: number; mode: number; ringSize: number; bufferSize: number;
  zeroCopy: boolean; secret: string; rxQueues: number; txQueues: number;
}

export interface TapInfo {
  id: number; hostIfName: string; hostNamespace: string; hostBridge: string; hostMtu: number;
  request: Record<string, unknown>;
}

export interface VxlanInfo {
  src: string; dst: string; vni: number; encapVrfId: number; srcPort: number; dstPort: number; decapNextIndex: number;
  /** The name's number (user_instance) and the tunnel's pool index (dev_instance). */
  instance: number; devInstance: number;
}

export interface EmuInterface {
  swIfIndex: number;
  name: string;
  devType: string;
  kind: IfKind;
  mac: Uint8Array;
  adminUp: boolean;
  linkUp: boolean;
  mtu: number;
  tag: string;
  /** VRF ids bound with sw_interface_set_table. */
  table: { ip4: number; ip6: number };
  addresses: ApiPrefix[];
  /** sw_if_index this interface borrows its address from (sw_interface_set_unnumbered). */
  unnumberedVia: number | null;
  l2: { bdId: number; portType: number; shg: number } | null;
  memif?: MemifInfo;
  tap?: TapInfo;
  afPacket?: { hostIfName: string };
  /** create_loopback's instance: the N of loopN. */
  loopback?: { instance: number };
  vxlan?: VxlanInfo;
}

export interface MemifSocket {
  socketId: number;
  filename: string;
  /** Interfaces using it; a socket is either all-master (listener) or all-slave. */
  refCnt: number;
  isListener: boolean;
  ids: Set<number>;
}

export interface BridgeDomain {
  bdId: number; flood: boolean; uuFlood: boolean; forward: boolean; learn: boolean;
  arpTerm: boolean; arpUfwd: boolean; macAge: number; tag: string;
}

export interface IpTable { tableId: number; isIp6: boolean; name: string }
export interface Route { tableId: number; isIp6: boolean; prefix: ApiPrefix; paths: Record<string, unknown>[] }

export interface StaticMapping { key: string; request: Record<string, unknown> }

/** cnat: translations as the request gave them (by pool index), the source NAT policy entry of VRF 0. */
export interface CnatState {
  translations: Map<number, Record<string, any>>;
  snat: { ip4: Uint8Array; flags: number; policy: number; tables: Map<number, Set<number>> } | null;
  /**
   * Interfaces with feature_cnat_enable_disable on, and how many times (VPP counts enables; it
   * leaves the policy's interface bits behind on delete, and so does this).
   */
  featureIfs: Map<number, number>;
}
export interface Neighbor { swIfIndex: number; ipAddress: ApiAddress; mac: Uint8Array; flags: number }

export class VppState {
  readonly interfaces = new Map<number, EmuInterface>();
  readonly memifSockets = new Map<number, MemifSocket>();
  readonly bridgeDomains = new Map<number, BridgeDomain>();
  /** Key `${isIp6 ? 6 : 4}:${tableId}`; table 0 of both families always exists. */
  readonly ipTables = new Map<string, IpTable>();
  /** Key `${family}:${tableId}:${prefix text}`. */
  readonly routes = new Map<string, Route>();
  readonly tapIds = new Set<number>();
  /** Loopback instances in use: VPP names a new loopback after the lowest free one (ethernet/interface.c). */
  readonly loopbackInstances = new Set<number>();
  /** The static seeds of VPP's unused-id searches (memif.c, l2_bd.c): 0 when a VPP process starts. */
  readonly idSeeds = { memifSocket: 0, bridgeDomain: 0 };
  /** Key `${swIfIndex}/${family}:${address hex}`. */
  readonly neighbors = new Map<string, Neighbor>();
  /** vxlan.c: user instances in use, and its tunnel pool (VPP pools reuse the last freed index first). */
  readonly vxlanInstances = new Set<number>();
  readonly vxlanPool = { size: 0, free: [] as number[] };
  readonly nat = { enabled: false, staticMappings: new Map<string, StaticMapping>(), outputInterfaces: [] as number[] };
  readonly cnat: CnatState = { translations: new Map(), snat: null, featureIfs: new Map() };
  private freeIndices: number[] = [];
  private nextIndex = 0;

  constructor(runtimeDir: string) {
    this.addInterface({ kind: 'local', name: 'local0', devType: 'local', mac: new Uint8Array(6), linkUp: false, mtu: 0 });
    this.ipTables.set('4:0', { tableId: 0, isIp6: false, name: 'ipv4-VRF:0' });
    this.ipTables.set('6:0', { tableId: 0, isIp6: true, name: 'ipv6-VRF:0' });
    // memif_init pre-registers socket id 0 as <runtime dir>/memif.sock.
    this.memifSockets.set(0, { socketId: 0, filename: `${runtimeDir}/memif.sock`, refCnt: 0, isListener: false, ids: new Set() });
  }

  /** Allocate an index like a vppinfra pool: the most recently freed index first. */
  addInterface(p: Pick<EmuInterface, 'kind' | 'name' | 'devType' | 'mac'> & Partial<EmuInterface>): EmuInterface {
    const swIfIndex = this.freeIndices.length ? this.freeIndices.pop()! : this.nextIndex++;
    const i: EmuInterface = {
      swIfIndex, adminUp: false, linkUp: false, mtu: 9000, tag: '', table: { ip4: 0, ip6: 0 }, addresses: [],
      unnumberedVia: null, l2: null, ...p,
    };
    this.interfaces.set(swIfIndex, i);
    return i;
  }

  removeInterface(swIfIndex: number): void {
    if (this.interfaces.delete(swIfIndex)) this.freeIndices.push(swIfIndex);
    this.cnat.featureIfs.delete(swIfIndex);
    for (const [k, n] of this.neighbors) if (n.swIfIndex === swIfIndex) this.neighbors.delete(k);
  }

  /** Bridge-domain members (interfaces in L2 mode on that BD). */
  bdMembers(bdId: number): EmuInterface[] {
    return [...this.interfaces.values()].filter((i) => i.l2?.bdId === bdId);
  }
}
