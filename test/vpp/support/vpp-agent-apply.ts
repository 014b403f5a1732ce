// What ligato vpp-agent in a pod does with the keys under /vnf-agent/<label>/config/vpp/v2/, for the
// kinds the CNI agent writes, against the pod's own VPP: a MEMIF interface (its socket registered,
// memif_create_v2 as slave with the id, secret and phys_address as MAC, the ip_addresses, admin
// up), static ARP entries (ip_neighbor_add_del, flag static) and routes (ip_route_add_del in VRF 0
// through the outgoing interface to the next hop). Interfaces first, as vpp-agent's dependency
// order has it. `podPath` maps socket_filename (the pod's view) to where it is on this host.
import type { VppClient } from '../../../src/vppapi/client/index.js';
import { parseVnfArpEntry, parseVnfMemifInterface, parseVnfRoute, vnfKeyKind } from '../../../src/cni/etcd/vnf-config.js';

const ip4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
const mac = (s: string) => Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));
const prefix = (cidr: string) => { const [a, l] = cidr.split('/'); return { address: { af: 0, un: { ip4: ip4(a!) } }, len: Number(l) }; };

export interface Applied { interfaces: Map<string, number>; arps: number; routes: number }

export async function applyAsVppAgent(api: VppClient, label: string, kv: Record<string, string>, podPath: (p: string) => string): Promise<Applied> {
  const out: Applied = { interfaces: new Map(), arps: 0, routes: 0 };
  const keys = Object.keys(kv).sort();
  let socketId = 100;
  for (const key of keys.filter((k) => vnfKeyKind(label, k) === 'interface')) {
    const i = parseVnfMemifInterface(key, kv[key]!);
    const id = socketId++;
    await api.request('memif_socket_filename_add_del_v2', { is_add: true, socket_id: id, socket_filename: podPath(i.memif.socket_filename) });
    const r = await api.request<{ sw_if_index: number }>('memif_create_v2', {
      role: i.memif.master ? 0 : 1, mode: { ETHERNET: 0, IP: 1, PUNT_INJECT: 2 }[i.memif.mode], id: i.memif.id, socket_id: id,
      secret: i.memif.secret, ring_size: 1024, buffer_size: 2048, rx_queues: 1, tx_queues: 1, hw_addr: i.phys_address ? mac(i.phys_address) : new Uint8Array(6),
    });
    for (const a of i.ip_addresses ?? []) await api.request('sw_interface_add_del_address', { sw_if_index: r.sw_if_index, is_add: true, del_all: false, prefix: prefix(a) });
    if (i.enabled) await api.request('sw_interface_set_flags', { sw_if_index: r.sw_if_index, flags: 1 });
    out.interfaces.set(i.name, r.sw_if_index);
  }
  const sw = (name: string, key: string) => {
    const x = out.interfaces.get(name);
    if (x === undefined) throw new Error(`${key}: interface ${name} is not configured (vpp-agent would wait for it)`);
    return x;
  };
  for (const key of keys.filter((k) => vnfKeyKind(label, k) === 'arp')) {
    const e = parseVnfArpEntry(key, kv[key]!);
    await api.request('ip_neighbor_add_del', {
      is_add: true, neighbor: { sw_if_index: sw(e.interface, key), flags: e.static ? 1 : 0, mac_address: mac(e.phys_address), ip_address: { af: 0, un: { ip4: ip4(e.ip_address) } } },
    });
    out.arps++;
  }
  for (const key of keys.filter((k) => vnfKeyKind(label, k) === 'route')) {
    const r = parseVnfRoute(key, kv[key]!);
    await api.request('ip_route_add_del', {
      is_add: true, is_multipath: false,
      route: { table_id: 0, prefix: prefix(r.dst_network), n_paths: 1, paths: [{ sw_if_index: sw(r.outgoing_interface, key), table_id: 0, weight: 1, proto: 0, nh: { address: { ip4: ip4(r.next_hop_addr) } } }] },
    });
    out.routes++;
  }
  return out;
}
