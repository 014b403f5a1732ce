// Pod-side memif configuration for a labelled pod (contivpp.io/microservice-label), in the ligato
// vpp-agent etcd layout, so that an unmodified vpp-agent in the pod (started with that label as
// its microservice label) configures its own VPP:
//   /vnf-agent/<label>/config/vpp/v2/interfaces/<name> = ligato.vpp.interfaces.Interface
//   /vnf-agent/<label>/config/vpp/v2/arp/<interface>/<ip_address> = ligato.vpp.l3.ARPEntry
//   /vnf-agent/<label>/config/vpp/v2/route/if/<interface>/vrf/<vrf>/dst/<ip>/<len>/gw/<next hop>
//                                                             = ligato.vpp.l3.Route
// (key templates as vpp-agent v3's models register them: proto/ligato/vpp/l3/models.go). Field
// names as in the .proto files (snake_case, protojson with UseProtoNames; enums by name):
// Interface name, type, enabled, phys_address, ip_addresses, memif {mode, master, id,
// socket_filename, secret}; ARPEntry interface, ip_address, phys_address, static; Route
// dst_network, next_hop_addr, outgoing_interface (type INTRA_VRF and vrf_id 0 left at their
// defaults).

export const VNF_AGENT_PREFIX = '/vnf-agent/';

/** Everything vpp-agent with this label applies to its VPP. */
export function vnfVppPrefix(label: string): string {
  if (!label || /[/\s]/.test(label)) throw new Error(`microservice label ${JSON.stringify(label)}: must be non-empty without '/' or whitespace`);
  return `${VNF_AGENT_PREFIX}${label}/config/vpp/v2/`;
}

export function vnfInterfacesPrefix(label: string): string {
  return `${vnfVppPrefix(label)}interfaces/`;
}

const part = (what: string, v: string) => {
  if (!v || /[/\s]/.test(v)) throw new Error(`${what} ${JSON.stringify(v)}: must be non-empty without '/' or whitespace`);
  return v;
};

export function vnfInterfaceKey(label: string, name: string): string {
  return vnfInterfacesPrefix(label) + part('interface name', name);
}

/** ligato.vpp.l3.ARPEntry: a static neighbour on the pod's VPP. */
export interface VnfArpEntry { interface: string; ip_address: string; phys_address: string; static: boolean }

export function vnfArpKey(label: string, e: Pick<VnfArpEntry, 'interface' | 'ip_address'>): string {
  return `${vnfVppPrefix(label)}arp/${part('interface name', e.interface)}/${part('ARP address', e.ip_address)}`;
}

/** ligato.vpp.l3.Route in VRF 0 through an interface (type INTRA_VRF). */
export interface VnfRoute { dst_network: string; next_hop_addr: string; outgoing_interface: string }

export function vnfRouteKey(label: string, r: VnfRoute): string {
  const [ip, len] = r.dst_network.split('/');
  return `${vnfVppPrefix(label)}route/if/${part('interface name', r.outgoing_interface)}/vrf/0/dst/${part('route destination', ip ?? '')}/${part('route prefix length', len ?? '')}/gw/${part('next hop', r.next_hop_addr)}`;
}

/** What a key under vnfVppPrefix is: one of the kinds tsvpp writes, or something else. */
export type VnfKeyKind = 'interface' | 'arp' | 'route' | 'other';

export function vnfKeyKind(label: string, key: string): VnfKeyKind {
  const rest = key.startsWith(vnfVppPrefix(label)) ? key.slice(vnfVppPrefix(label).length) : '';
  return rest.startsWith('interfaces/') ? 'interface' : rest.startsWith('arp/') ? 'arp' : rest.startsWith('route/') ? 'route' : 'other';
}

export type MemifModeName = 'ETHERNET' | 'IP' | 'PUNT_INJECT';

/** ligato.vpp.interfaces.Interface, the MEMIF subset tsvpp writes. */
export interface VnfMemifInterface {
  name: string;
  type: 'MEMIF';
  enabled: boolean;
  /** The pod end's MAC: the vswitch has it as the static neighbour of the pod's address. */
  phys_address?: string;
  ip_addresses?: string[];
  memif: { mode: MemifModeName; master: boolean; id: number; socket_filename: string; secret: string };
}

export function vnfMemifInterface(o: { name: string; id: number; socketFilename: string; secret: string; mac?: string; ipAddresses?: string[]; mode?: MemifModeName }): VnfMemifInterface {
  return {
    name: o.name,
    type: 'MEMIF',
    enabled: true,
    ...(o.mac ? { phys_address: o.mac } : {}),
    ...(o.ipAddresses?.length ? { ip_addresses: [...o.ipAddresses] } : {}),
    memif: { mode: o.mode ?? 'ETHERNET', master: false, id: o.id, socket_filename: o.socketFilename, secret: o.secret },
  };
}

/** Parses a value written by vnfMemifInterface (or by hand): the memif-agent's input. */
export function parseVnfMemifInterface(key: string, raw: string): VnfMemifInterface {
  let v: any;
  try { v = JSON.parse(raw); } catch (e) { throw new Error(`${key}: not JSON: ${(e as Error).message}`); }
  const where = (f: string) => `${key}: field ${f}`;
  if (typeof v !== 'object' || v === null) throw new Error(`${key}: not a JSON object`);
  if (typeof v.name !== 'string' || !v.name) throw new Error(`${where('name')}: missing`);
  if (v.type !== 'MEMIF' && v.type !== 4) throw new Error(`${where('type')}: ${JSON.stringify(v.type)} is not MEMIF`);
  const m = v.memif;
  if (typeof m !== 'object' || m === null) throw new Error(`${where('memif')}: missing`);
  if (typeof m.socket_filename !== 'string' || !m.socket_filename) throw new Error(`${where('memif.socket_filename')}: missing`);
  const id = m.id ?? 0;
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new Error(`${where('memif.id')}: ${JSON.stringify(m.id)} is not a uint32`);
  const modes: Record<string, MemifModeName> = { ETHERNET: 'ETHERNET', IP: 'IP', PUNT_INJECT: 'PUNT_INJECT', 0: 'ETHERNET', 1: 'IP', 2: 'PUNT_INJECT' };
  const mode = modes[String(m.mode ?? 'ETHERNET')];
  if (!mode) throw new Error(`${where('memif.mode')}: ${JSON.stringify(m.mode)} is not ETHERNET, IP or PUNT_INJECT`);
  if (v.phys_address !== undefined && (typeof v.phys_address !== 'string' || !MAC.test(v.phys_address))) throw new Error(`${where('phys_address')}: ${JSON.stringify(v.phys_address)} is not a MAC address`);
  return {
    name: v.name, type: 'MEMIF', enabled: v.enabled === true,
    ...(v.phys_address ? { phys_address: v.phys_address } : {}),
    ...(Array.isArray(v.ip_addresses) ? { ip_addresses: v.ip_addresses.map(String) } : {}),
    memif: { mode, master: m.master === true, id, socket_filename: m.socket_filename, secret: typeof m.secret === 'string' ? m.secret : '' },
  };
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const IP4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const CIDR4 = new RegExp(`^${IP4.source.slice(1, -1)}/([12]?\\d|3[0-2])$`);

function jsonObject(key: string, raw: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(raw); } catch (e) { throw new Error(`${key}: not JSON: ${(e as Error).message}`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${key}: not a JSON object`);
  return v as Record<string, unknown>;
}

function field(key: string, v: Record<string, unknown>, f: string, re: RegExp, what: string): string {
  const x = v[f];
  if (typeof x !== 'string' || !re.test(x)) throw new Error(`${key}: field ${f}: ${JSON.stringify(x)} is not ${what}`);
  return x;
}

/** Parses an ARP entry value (the memif-agent's input). */
export function parseVnfArpEntry(key: string, raw: string): VnfArpEntry {
  const v = jsonObject(key, raw);
  return {
    interface: field(key, v, 'interface', /^[^/\s]+$/, 'an interface name'), ip_address: field(key, v, 'ip_address', IP4, 'an IPv4 address'),
    phys_address: field(key, v, 'phys_address', MAC, 'a MAC address'), static: v.static === true,
  };
}

/** Parses a route value (the memif-agent's input): VRF 0, through an interface, via a next hop. */
export function parseVnfRoute(key: string, raw: string): VnfRoute {
  const v = jsonObject(key, raw);
  if ((v.vrf_id ?? 0) !== 0) throw new Error(`${key}: field vrf_id: ${JSON.stringify(v.vrf_id)} (only VRF 0 is served)`);
  if ((v.type ?? 'INTRA_VRF') !== 'INTRA_VRF' && v.type !== 0) throw new Error(`${key}: field type: ${JSON.stringify(v.type)} (only INTRA_VRF is served)`);
  return {
    dst_network: field(key, v, 'dst_network', CIDR4, 'an IPv4 CIDR'),
    next_hop_addr: field(key, v, 'next_hop_addr', IP4, 'an IPv4 address'),
    outgoing_interface: field(key, v, 'outgoing_interface', /^[^/\s]+$/, 'an interface name'),
  };
}
