// Pod-side memif configuration for a labelled pod (contivpp.io/microservice-label), in the ligato
// vpp-agent etcd layout, so that an unmodified vpp-agent in the pod (started with that label as
// its microservice label) configures its own VPP:
//   /vnf-agent/<label>/config/vpp/v2/interfaces/<name> = JSON of ligato.vpp.interfaces.Interface
// Field names as in proto/ligato/vpp/interfaces/interface.proto (snake_case, protojson with
// UseProtoNames; enums by name): name, type, enabled, ip_addresses, memif {mode, master, id,
// socket_filename, secret}.

export const VNF_AGENT_PREFIX = '/vnf-agent/';

export function vnfInterfacesPrefix(label: string): string {
  return `${VNF_AGENT_PREFIX}${label}/config/vpp/v2/interfaces/`;
}

export function vnfInterfaceKey(label: string, name: string): string {
  if (!label || /[/\s]/.test(label)) throw new Error(`microservice label ${JSON.stringify(label)}: must be non-empty without '/' or whitespace`);
  if (!name || /[/\s]/.test(name)) throw new Error(`interface name ${JSON.stringify(name)}: must be non-empty without '/' or whitespace`);
  return vnfInterfacesPrefix(label) + name;
}

export type MemifModeName = 'ETHERNET' | 'IP' | 'PUNT_INJECT';

/** ligato.vpp.interfaces.Interface, the MEMIF subset tsvpp writes. */
export interface VnfMemifInterface {
  name: string;
  type: 'MEMIF';
  enabled: boolean;
  ip_addresses?: string[];
  memif: { mode: MemifModeName; master: boolean; id: number; socket_filename: string; secret: string };
}

export function vnfMemifInterface(o: { name: string; id: number; socketFilename: string; secret: string; ipAddresses?: string[]; mode?: MemifModeName }): VnfMemifInterface {
  return {
    name: o.name,
    type: 'MEMIF',
    enabled: true,
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
  return {
    name: v.name, type: 'MEMIF', enabled: v.enabled === true,
    ...(Array.isArray(v.ip_addresses) ? { ip_addresses: v.ip_addresses.map(String) } : {}),
    memif: { mode, master: m.master === true, id, socket_filename: m.socket_filename, secret: typeof m.secret === 'string' ? m.secret : '' },
  };
}
