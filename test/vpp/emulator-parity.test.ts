// The VPP emulator (the CI test double) against VPP itself: one script of requests — what the agent
// sends, and the error cases around it (duplicates, unknown ids, deleting twice, deleting what is
// in use) — runs against a fresh real VPP and a fresh emulator with the same definitions, and
// every answer is compared: retval (by VPP's error name), reply fields, interface names,
// sw_if_index allocation and dumps. Any difference fails, listed step by step; the fix is to make
// the emulator answer like VPP (and give that behaviour a CI test in test/vppapi).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppApiError, VppTimeoutError, type VppClient } from '../../src/vppapi/client/index.js';
import { deleteLinkIfExists, createVeth } from '../../src/cni/linux/ip.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { Vpp } from './support/vpp.js';
import { VppClient as Client } from '../../src/vppapi/client/index.js';

type V = Record<string, any>;
interface Step {
  what: string;
  msg: string;
  req?: (v: V) => V;
  dump?: boolean;
  /** What of the answer is compared (default: nothing but the retval). */
  pick?: (r: any, v: V) => unknown;
  /** Remember something of the answer for later steps. */
  save?: (r: any, v: V) => void;
}

const rnd = randomBytes(3).toString('hex');
const VETH = `tvp${rnd}a`, PEER = `tvp${rnd}b`;
const NO_INDEX = 0xffffffff;
const ip4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
const str4 = (b: Uint8Array) => [...b].join('.');
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
const pfx = (cidr: string) => { const [a, l] = cidr.split('/'); return { address: { af: 0, un: { ip4: ip4(a!) } }, len: Number(l) }; };
const ifDump = (sw = NO_INDEX) => ({ sw_if_index: sw, name_filter_valid: false, name_filter: '' });
const ifFields = (d: any[]) => d.map((i) => ({
  sw_if_index: i.sw_if_index, name: i.interface_name, dev_type: i.interface_dev_type, flags: i.flags, type: i.type,
  link_mtu: i.link_mtu, mtu: i.mtu, tag: i.tag, sup: i.sup_sw_if_index, duplex: i.link_duplex,
  mac_prefix: hex(i.l2_address).slice(0, 5),
}));
const route = (cidr: string, sw: number, table = 0, isAdd = true) => ({
  is_add: isAdd, is_multipath: false,
  route: {
    table_id: table, prefix: pfx(cidr), n_paths: 1,
    paths: [{ sw_if_index: sw, table_id: table, weight: 1, proto: 0, nh: { address: { ip4: ip4(cidr.split('/')[0]!) } } }],
  },
});
const nat = (isAdd: boolean) => ({
  is_add: isAdd, flags: 8, local_ip_address: ip4('10.210.0.3'), external_ip_address: ip4('10.210.0.2'),
  external_sw_if_index: NO_INDEX, vrf_id: 0, tag: 'tsvpp',
});
const snat = (a: string) => ({ fwd_fib_index: 0, ret_fib_index: 0, snat_ip4: ip4(a), snat_ip6: new Uint8Array(16), sw_if_index: NO_INDEX, flags: 6 });
const endpoint = (a: string, port: number) => ({ addr: { af: 0, un: { ip4: ip4(a) } }, sw_if_index: NO_INDEX, if_af: 0, port });
const translation = (proto: number, port: number, backends: string[], lb = 0) => ({
  translation: {
    vip: endpoint('10.96.0.10', port), id: 0, ip_proto: proto, is_real_ip: 1, flags: 0, lb_type: lb, flow_hash_config: lb ? 2 : 0,
    n_paths: backends.length, paths: backends.map((b) => ({ dst_ep: endpoint(b, 8080), src_ep: endpoint('0.0.0.0', 0), flags: 0 })),
  },
});
const prohibit = (isAdd: boolean) => ({
  is_add: isAdd, is_multipath: false,
  route: { table_id: 0, prefix: pfx('10.96.0.10/32'), n_paths: 1, paths: [{ sw_if_index: NO_INDEX, table_id: 0, weight: 1, type: 6, proto: 0 }] },
});
const memifCreate = (socketId: number, id: number, role = 0, ringSize = 1024) => ({
  role, mode: 0, rx_queues: 1, tx_queues: 1, id, socket_id: socketId, ring_size: ringSize, buffer_size: 2048, secret: 's',
});
const vxlan = (isAdd: boolean, src: string, dst: string, vni: number) => ({
  is_add: isAdd, instance: NO_INDEX, src_address: { af: 0, un: { ip4: ip4(src) } }, dst_address: { af: 0, un: { ip4: ip4(dst) } },
  src_port: 0, dst_port: 0, mcast_sw_if_index: NO_INDEX, encap_vrf_id: 0, decap_next_index: NO_INDEX, vni, is_l3: false,
});
const neighbor = (sw: number, isAdd: boolean, addr = '10.210.0.5') => ({
  is_add: isAdd, neighbor: { sw_if_index: sw, flags: 1, mac_address: Uint8Array.from([2, 0, 0, 0, 0, 5]), ip_address: { af: 0, un: { ip4: ip4(addr) } } },
});

function script(memifFile: string, memifFile2: string, longPath: (bytes: number) => string): Step[] {
  return [
    { what: 'show_version', msg: 'show_version', pick: (r) => r.program },
    { what: 'interfaces at start', msg: 'sw_interface_dump', dump: true, req: () => ifDump(), pick: ifFields },
    { what: 'create loopback', msg: 'create_loopback', req: () => ({ mac_address: new Uint8Array(6) }), save: (r, v) => { v.loop = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'the new loopback', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.loop), pick: ifFields },
    { what: 'tag it', msg: 'sw_interface_tag_add_del', req: (v) => ({ is_add: true, sw_if_index: v.loop, tag: 'tsvpp-net:x' }) },
    { what: 'tag an unknown index', msg: 'sw_interface_tag_add_del', req: () => ({ is_add: true, sw_if_index: 9999, tag: 'x' }) },
    { what: 'address', msg: 'sw_interface_add_del_address', req: (v) => ({ sw_if_index: v.loop, is_add: true, prefix: pfx('10.210.0.1/24') }) },
    { what: 'the same address again', msg: 'sw_interface_add_del_address', req: (v) => ({ sw_if_index: v.loop, is_add: true, prefix: pfx('10.210.0.1/24') }) },
    { what: 'delete an address it does not have', msg: 'sw_interface_add_del_address', req: (v) => ({ sw_if_index: v.loop, is_add: false, prefix: pfx('10.210.9.1/24') }) },
    { what: 'admin up', msg: 'sw_interface_set_flags', req: (v) => ({ sw_if_index: v.loop, flags: 1 }) },
    { what: 'flags of an unknown index', msg: 'sw_interface_set_flags', req: () => ({ sw_if_index: 9999, flags: 1 }) },
    { what: 'the loopback after tag, address, up', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.loop), pick: ifFields },
    { what: 'VRF 5', msg: 'ip_table_add_del', req: () => ({ is_add: true, table: { table_id: 5, is_ip6: false, name: 'five' } }) },
    { what: 'VRF 5 again', msg: 'ip_table_add_del', req: () => ({ is_add: true, table: { table_id: 5, is_ip6: false, name: 'five' } }) },
    { what: 'second loopback', msg: 'create_loopback', req: () => ({ mac_address: new Uint8Array(6) }), save: (r, v) => { v.loop2 = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'bind it to VRF 5', msg: 'sw_interface_set_table', req: (v) => ({ sw_if_index: v.loop2, is_ipv6: false, vrf_id: 5 }) },
    { what: 'bind it to VRF 99 (absent)', msg: 'sw_interface_set_table', req: (v) => ({ sw_if_index: v.loop2, is_ipv6: false, vrf_id: 99 }) },
    { what: 'bind the addressed loopback to VRF 5', msg: 'sw_interface_set_table', req: (v) => ({ sw_if_index: v.loop, is_ipv6: false, vrf_id: 5 }) },
    { what: 'its table', msg: 'sw_interface_get_table', req: (v) => ({ sw_if_index: v.loop2, is_ipv6: false }), pick: (r) => r.vrf_id },
    { what: 'unnumbered loop2 -> loop', msg: 'sw_interface_set_unnumbered', req: (v) => ({ sw_if_index: v.loop, unnumbered_sw_if_index: v.loop2, is_add: true }) },
    { what: 'unnumbered with an unknown borrower', msg: 'sw_interface_set_unnumbered', req: (v) => ({ sw_if_index: v.loop, unnumbered_sw_if_index: 9999, is_add: true }) },
    { what: 'unnumbered from an unknown index', msg: 'sw_interface_set_unnumbered', req: (v) => ({ sw_if_index: 9999, unnumbered_sw_if_index: v.loop2, is_add: true }) },
    { what: 'route via loop in VRF 0', msg: 'ip_route_add_del', req: (v) => route('10.210.0.5/32', v.loop) },
    { what: 'route in absent VRF 99', msg: 'ip_route_add_del', req: (v) => route('10.210.0.6/32', v.loop, 99) },
    { what: 'delete the route', msg: 'ip_route_add_del', req: (v) => route('10.210.0.5/32', v.loop, 0, false) },
    { what: 'delete the route again', msg: 'ip_route_add_del', req: (v) => route('10.210.0.5/32', v.loop, 0, false) },
    { what: 'delete a route in absent VRF 99', msg: 'ip_route_add_del', req: (v) => route('10.210.0.5/32', v.loop, 99, false) },
    { what: 'overlapping address on another interface', msg: 'sw_interface_add_del_address', req: (v) => ({ sw_if_index: v.loop2, is_add: true, prefix: pfx('10.210.0.9/16') }) },
    { what: 'second address, same length, same interface', msg: 'sw_interface_add_del_address', req: (v) => ({ sw_if_index: v.loop, is_add: true, prefix: pfx('10.210.0.2/24') }) },
    { what: 'delete it', msg: 'sw_interface_add_del_address', req: (v) => ({ sw_if_index: v.loop, is_add: false, prefix: pfx('10.210.0.2/24') }) },
    { what: 'delete VRF 5 while loop2 is bound to it', msg: 'ip_table_add_del', req: () => ({ is_add: false, table: { table_id: 5, is_ip6: false, name: '' } }) },
    { what: 'delete VRF 5 again', msg: 'ip_table_add_del', req: () => ({ is_add: false, table: { table_id: 5, is_ip6: false, name: '' } }) },
    // memif
    { what: 'memif socket 7', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: 7, socket_filename: memifFile }), pick: (r) => r.socket_id },
    { what: 'memif socket 7 again, same file', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: 7, socket_filename: memifFile }) },
    { what: 'memif socket 7 again, other file', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: 7, socket_filename: memifFile2 }) },
    { what: 'memif socket id 0', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: 0, socket_filename: memifFile2 }) },
    { what: 'memif socket id ~0 (allocate)', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: NO_INDEX, socket_filename: memifFile2 }), save: (r, v) => { v.sock2 = r.socket_id; }, pick: (r) => r.socket_id },
    { what: 'memif socket in a missing directory', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: 9, socket_filename: '/nonexistent/dir/m.sock' }) },
    { what: 'master memif 7/1', msg: 'memif_create_v2', req: () => memifCreate(7, 1), save: (r, v) => { v.memif = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'master memif 7/1 again', msg: 'memif_create_v2', req: () => memifCreate(7, 1) },
    { what: 'slave memif on master socket 7', msg: 'memif_create_v2', req: () => memifCreate(7, 2, 1) },
    { what: 'memif on unknown socket 99', msg: 'memif_create_v2', req: () => memifCreate(99, 1) },
    { what: 'memif with ring size 1000', msg: 'memif_create_v2', req: () => memifCreate(7, 3, 0, 1000) },
    { what: 'master memif on the socket in a missing directory', msg: 'memif_create_v2', req: () => memifCreate(9, 1), save: (r, v) => { v.memif9 = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'delete that memif', msg: 'memif_delete', req: (v) => ({ sw_if_index: v.memif9 ?? 9999 }) },
    // The longest socket path VPP binds (the agent checks pod socket paths against it).
    { what: 'memif socket 10, a 107-byte path', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: 10, socket_filename: longPath(107) }) },
    { what: 'master memif on socket 10', msg: 'memif_create_v2', req: () => memifCreate(10, 1), save: (r, v) => { v.memif10 = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'memif socket 11, a 106-byte path', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: true, socket_id: 11, socket_filename: longPath(106) }) },
    { what: 'master memif on socket 11', msg: 'memif_create_v2', req: () => memifCreate(11, 1), save: (r, v) => { v.memif11 = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'delete the memif on socket 11', msg: 'memif_delete', req: (v) => ({ sw_if_index: v.memif11 ?? 9999 }) },
    { what: 'delete the memif on socket 10', msg: 'memif_delete', req: (v) => ({ sw_if_index: v.memif10 ?? 9999 }) },
    { what: 'delete socket 10', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: false, socket_id: 10, socket_filename: '' }) },
    { what: 'delete socket 11', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: false, socket_id: 11, socket_filename: '' }) },
    { what: 'the memif interface', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.memif), pick: ifFields },
    { what: 'memif_dump', msg: 'memif_dump', dump: true, pick: (d: any[]) => d.map((m) => ({ sw: m.sw_if_index, id: m.id, role: m.role, mode: m.mode, zc: m.zero_copy, sock: m.socket_id, ring: m.ring_size, buf: m.buffer_size, flags: m.flags, name: m.if_name })) },
    { what: 'memif_socket_filename_dump', msg: 'memif_socket_filename_dump', dump: true, pick: (d: any[]) => d.map((s) => s.socket_id).sort() },
    { what: 'delete socket 7 in use', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: false, socket_id: 7, socket_filename: '' }) },
    { what: 'memif_delete of a loopback', msg: 'memif_delete', req: (v) => ({ sw_if_index: v.loop }) },
    { what: 'memif_delete', msg: 'memif_delete', req: (v) => ({ sw_if_index: v.memif }) },
    { what: 'memif_delete again', msg: 'memif_delete', req: (v) => ({ sw_if_index: v.memif }) },
    { what: 'delete socket 7', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: false, socket_id: 7, socket_filename: '' }) },
    { what: 'delete socket 7 again', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: false, socket_id: 7, socket_filename: '' }) },
    { what: 'delete socket id 0', msg: 'memif_socket_filename_add_del_v2', req: () => ({ is_add: false, socket_id: 0, socket_filename: '' }) },
    // af_packet
    { what: 'af_packet on a veth', msg: 'af_packet_create_v3', req: () => ({ mode: 1, use_random_hw_addr: true, host_if_name: VETH, num_rx_queues: 1, num_tx_queues: 1 }), save: (r, v) => { v.af = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'af_packet on the same veth again', msg: 'af_packet_create_v3', req: () => ({ mode: 1, use_random_hw_addr: true, host_if_name: VETH, num_rx_queues: 1, num_tx_queues: 1 }) },
    { what: 'af_packet on a missing interface', msg: 'af_packet_create_v3', req: () => ({ mode: 1, use_random_hw_addr: true, host_if_name: `nx${rnd}`, num_rx_queues: 1, num_tx_queues: 1 }) },
    { what: 'the af_packet interface', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.af), pick: ifFields },
    { what: 'af_packet_dump', msg: 'af_packet_dump', dump: true, pick: (d: any[]) => d.map((x) => [x.sw_if_index, x.host_if_name]) },
    { what: 'admin up af_packet', msg: 'sw_interface_set_flags', req: (v) => ({ sw_if_index: v.af, flags: 1 }) },
    { what: 'the af_packet interface when up', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.af), pick: ifFields },
    // neighbours
    { what: 'static neighbour', msg: 'ip_neighbor_add_del', req: (v) => neighbor(v.af, true), pick: (r) => r.stats_index === undefined },
    { what: 'static neighbour again', msg: 'ip_neighbor_add_del', req: (v) => neighbor(v.af, true) },
    { what: 'neighbour on an unknown index', msg: 'ip_neighbor_add_del', req: () => neighbor(9999, true) },
    { what: 'delete the neighbour', msg: 'ip_neighbor_add_del', req: (v) => neighbor(v.af, false) },
    { what: 'delete the neighbour again', msg: 'ip_neighbor_add_del', req: (v) => neighbor(v.af, false) },
    // bridge domains
    { what: 'bridge domain 3', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 3, flood: true, uu_flood: true, forward: true, learn: true, is_add: true }), pick: (r) => r.bd_id },
    { what: 'bridge domain 3 again', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 3, flood: true, uu_flood: true, forward: true, learn: true, is_add: true }) },
    { what: 'af_packet into bridge domain 3', msg: 'sw_interface_set_l2_bridge', req: (v) => ({ rx_sw_if_index: v.af, bd_id: 3, port_type: 0, shg: 0, enable: true }) },
    { what: 'unknown index into bridge domain 3', msg: 'sw_interface_set_l2_bridge', req: () => ({ rx_sw_if_index: 9999, bd_id: 3, port_type: 0, shg: 0, enable: true }) },
    { what: 'bridge domain ~0 (allocate)', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: NO_INDEX, flood: true, uu_flood: true, forward: true, learn: true, is_add: true }), save: (r, v) => { v.bdAuto = r.bd_id; }, pick: (r) => r.bd_id },
    { what: 'delete the allocated bridge domain', msg: 'bridge_domain_add_del_v2', req: (v) => ({ bd_id: v.bdAuto ?? 77, is_add: false }) },
    { what: 'loop2 into absent bridge domain 5', msg: 'sw_interface_set_l2_bridge', req: (v) => ({ rx_sw_if_index: v.loop2, bd_id: 5, port_type: 0, shg: 0, enable: true }) },
    { what: 'loop2 out of bridge domain 5', msg: 'sw_interface_set_l2_bridge', req: (v) => ({ rx_sw_if_index: v.loop2, bd_id: 5, port_type: 0, shg: 0, enable: false }) },
    { what: 'delete bridge domain 5', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 5, is_add: false }) },
    { what: 'delete bridge domain 3 with a member', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 3, is_add: false }) },
    { what: 'delete bridge domain 0', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 0, is_add: false }) },
    { what: 'delete absent bridge domain 44', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 44, is_add: false }) },
    // MTU and addresses (the cluster reconciler lowers af_packet MTUs and reads the host link's address)
    { what: 'hw MTU 1500 on the af_packet', msg: 'hw_interface_set_mtu', req: (v) => ({ sw_if_index: v.af, mtu: 1500 }) },
    { what: 'the af_packet after its MTU', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.af), pick: ifFields },
    { what: 'hw MTU on a loopback', msg: 'hw_interface_set_mtu', req: (v) => ({ sw_if_index: v.loop, mtu: 1400 }) },
    { what: 'the loopback after its MTU', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.loop), pick: ifFields },
    { what: 'hw MTU on local0', msg: 'hw_interface_set_mtu', req: () => ({ sw_if_index: 0, mtu: 1400 }) },
    { what: 'hw MTU on an unknown index', msg: 'hw_interface_set_mtu', req: () => ({ sw_if_index: 9999, mtu: 1400 }) },
    { what: 'ip_address_dump of the loopback', msg: 'ip_address_dump', dump: true, req: (v) => ({ sw_if_index: v.loop, is_ipv6: false }), pick: (d: any[]) => d.map((x) => [x.sw_if_index, str4(x.prefix.address.un.ip4), x.prefix.len]) },
    { what: 'ip_address_dump of the unnumbered loopback', msg: 'ip_address_dump', dump: true, req: (v) => ({ sw_if_index: v.loop2, is_ipv6: false }), pick: (d: any[]) => d.length },
    { what: 'ip_address_dump of an unknown index', msg: 'ip_address_dump', dump: true, req: () => ({ sw_if_index: 9999, is_ipv6: false }), pick: (d: any[]) => d.length },
    // VXLAN (the cluster's CustomNetwork segments)
    { what: 'vxlan tunnel', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(true, '10.210.0.1', '10.210.0.2', 77), save: (r, v) => { v.vx = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'the vxlan interface', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.vx), pick: ifFields },
    { what: 'vxlan tunnel again', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(true, '10.210.0.1', '10.210.0.2', 77) },
    { what: 'vxlan tunnel on instance 0, taken', msg: 'vxlan_add_del_tunnel_v3', req: () => ({ ...vxlan(true, '10.210.0.1', '10.210.0.3', 77), instance: 0 }) },
    { what: 'vxlan tunnel with src == dst', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(true, '10.210.0.1', '10.210.0.1', 78) },
    { what: 'vxlan tunnel in absent encap VRF 99', msg: 'vxlan_add_del_tunnel_v3', req: () => ({ ...vxlan(true, '10.210.0.1', '10.210.0.4', 79), encap_vrf_id: 99 }) },
    { what: 'second vxlan tunnel, another VNI', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(true, '10.210.0.1', '10.210.0.2', 80), save: (r, v) => { v.vx2 = r.sw_if_index; }, pick: (r) => r.sw_if_index },
    { what: 'vxlan_tunnel_v2_dump', msg: 'vxlan_tunnel_v2_dump', dump: true, req: () => ({ sw_if_index: NO_INDEX }), pick: (d: any[]) => d.map((t) => ({ sw: t.sw_if_index, inst: t.instance, src: str4(t.src_address.un.ip4), dst: str4(t.dst_address.un.ip4), vni: t.vni, ports: [t.src_port, t.dst_port], vrf: t.encap_vrf_id, next: t.decap_next_index, mcast: t.mcast_sw_if_index })) },
    { what: 'vxlan into bridge domain 3, split horizon 1', msg: 'sw_interface_set_l2_bridge', req: (v) => ({ rx_sw_if_index: v.vx, bd_id: 3, port_type: 0, shg: 1, enable: true }) },
    { what: 'delete the vxlan tunnel (in a bridge domain)', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(false, '10.210.0.1', '10.210.0.2', 77), pick: (r) => r.sw_if_index },
    { what: 'delete the vxlan tunnel again', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(false, '10.210.0.1', '10.210.0.2', 77) },
    { what: 'delete the second vxlan tunnel', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(false, '10.210.0.1', '10.210.0.2', 80) },
    { what: 'a new vxlan tunnel takes the lowest instance', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(true, '10.210.0.1', '10.210.0.5', 81), save: (r, v) => { v.vx3 = r.sw_if_index; } },
    { what: 'its interface', msg: 'sw_interface_dump', dump: true, req: (v) => ifDump(v.vx3), pick: ifFields },
    { what: 'delete it', msg: 'vxlan_add_del_tunnel_v3', req: () => vxlan(false, '10.210.0.1', '10.210.0.5', 81) },
    { what: 'af_packet_delete (in a bridge domain)', msg: 'af_packet_delete', req: () => ({ host_if_name: VETH }) },
    { what: 'af_packet_delete again', msg: 'af_packet_delete', req: () => ({ host_if_name: VETH }) },
    { what: 'delete bridge domain 3', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 3, is_add: false }) },
    { what: 'delete bridge domain 3 again', msg: 'bridge_domain_add_del_v2', req: () => ({ bd_id: 3, is_add: false }) },
    // tap (no hooks: the emulator must answer as VPP does on this host)
    { what: 'tap_create_v2', msg: 'tap_create_v2', req: () => ({ id: NO_INDEX, use_random_mac: true, num_rx_queues: 1, host_if_name_set: true, host_if_name: `tp${rnd}` }), save: (r, v) => { v.tap = r.sw_if_index; } },
    { what: 'tap_delete_v2 of a loopback', msg: 'tap_delete_v2', req: (v) => ({ sw_if_index: v.loop }) },
    { what: 'tap_delete_v2 of an unknown index', msg: 'tap_delete_v2', req: () => ({ sw_if_index: 9999 }) },
    // NAT44
    { what: 'NAT44 mapping with the plugin off', msg: 'nat44_add_del_static_mapping_v2', req: () => nat(true) },
    { what: 'NAT44 disable while off', msg: 'nat44_ed_plugin_enable_disable', req: () => ({ enable: false }) },
    { what: 'NAT44 enable', msg: 'nat44_ed_plugin_enable_disable', req: () => ({ enable: true }) },
    { what: 'NAT44 enable again', msg: 'nat44_ed_plugin_enable_disable', req: () => ({ enable: true }) },
    { what: 'NAT44 mapping', msg: 'nat44_add_del_static_mapping_v2', req: () => nat(true) },
    { what: 'NAT44 mapping again', msg: 'nat44_add_del_static_mapping_v2', req: () => nat(true) },
    { what: 'NAT44 delete mapping', msg: 'nat44_add_del_static_mapping_v2', req: () => nat(false) },
    { what: 'NAT44 delete mapping again', msg: 'nat44_add_del_static_mapping_v2', req: () => nat(false) },
    { what: 'NAT44 disable', msg: 'nat44_ed_plugin_enable_disable', req: () => ({ enable: false }) },
    // cnat (the service NAT)
    { what: 'cnat policy interface before any policy', msg: 'cnat_snat_policy_add_del_if', req: (v) => ({ sw_if_index: v.loop, is_add: 1, table: 3 }) },
    { what: 'cnat policy before its addresses', msg: 'cnat_set_snat_policy', req: () => ({ policy: 2 }) },
    { what: 'cnat snat addresses', msg: 'cnat_set_snat_addresses_v2', req: () => snat('10.210.0.1') },
    { what: 'cnat snat addresses again', msg: 'cnat_set_snat_addresses_v2', req: () => snat('10.210.0.1') },
    { what: 'cnat k8s policy', msg: 'cnat_set_snat_policy', req: () => ({ policy: 2 }) },
    { what: 'cnat pod interface', msg: 'cnat_snat_policy_add_del_if', req: (v) => ({ sw_if_index: v.loop, is_add: 1, table: 3 }) },
    { what: 'cnat pod interface again', msg: 'cnat_snat_policy_add_del_if', req: (v) => ({ sw_if_index: v.loop, is_add: 1, table: 3 }) },
    { what: 'cnat policy interface unknown index', msg: 'cnat_snat_policy_add_del_if', req: () => ({ sw_if_index: 9999, is_add: 1, table: 3 }) },
    { what: 'cnat feature on', msg: 'feature_cnat_enable_disable', req: (v) => ({ sw_if_index: v.loop, enable_disable: true }) },
    { what: 'cnat feature on again', msg: 'feature_cnat_enable_disable', req: (v) => ({ sw_if_index: v.loop, enable_disable: true }) },
    { what: 'cnat feature unknown index', msg: 'feature_cnat_enable_disable', req: () => ({ sw_if_index: 9999, enable_disable: true }) },
    { what: 'cnat translation', msg: 'cnat_translation_update', req: () => translation(6, 80, ['10.210.0.5']), save: (r, v) => { v.tr = r.id; }, pick: (r) => r.id },
    { what: 'cnat translation updated', msg: 'cnat_translation_update', req: () => translation(6, 80, ['10.210.0.5', '10.210.0.6'], 1), pick: (r) => r.id },
    { what: 'cnat translation UDP', msg: 'cnat_translation_update', req: () => translation(17, 53, ['10.210.0.6']), save: (r, v) => { v.tr2 = r.id; }, pick: (r) => r.id },
    { what: 'cnat translations', msg: 'cnat_translation_dump', dump: true, pick: (d) => d.map((x: any) => ({ id: x.translation.id, vip: str4(x.translation.vip.addr.un.ip4), port: x.translation.vip.port, proto: x.translation.ip_proto, lb: x.translation.lb_type, paths: x.translation.paths.map((p: any) => `${str4(p.dst_ep.addr.un.ip4)}:${p.dst_ep.port}`) })) },
    { what: 'cnat translation delete', msg: 'cnat_translation_del', req: (v) => ({ id: v.tr }) },
    { what: 'cnat translation delete again', msg: 'cnat_translation_del', req: (v) => ({ id: v.tr }) },
    { what: 'cnat translation delete unknown', msg: 'cnat_translation_del', req: () => ({ id: 999 }) },
    { what: 'cnat translation delete UDP', msg: 'cnat_translation_del', req: (v) => ({ id: v.tr2 }) },
    { what: 'reject (prohibit) route', msg: 'ip_route_add_del', req: () => prohibit(true) },
    { what: 'reject routes', msg: 'ip_route_dump', dump: true, req: () => ({ table: { table_id: 0, is_ip6: false, name: '' } }), pick: (d) => d.filter((x: any) => x.route.paths.some((p: any) => p.type === 6)).map((x: any) => `${str4(x.route.prefix.address.un.ip4)}/${x.route.prefix.len} ${x.route.paths.map((p: any) => p.type)}`) },
    { what: 'reject route delete', msg: 'ip_route_add_del', req: () => prohibit(false) },
    { what: 'reject route delete again', msg: 'ip_route_add_del', req: () => prohibit(false) },
    // events
    { what: 'want_interface_events', msg: 'want_interface_events', req: () => ({ enable_disable: 1, pid: 1 }) },
    { what: 'want_interface_events again', msg: 'want_interface_events', req: () => ({ enable_disable: 1, pid: 1 }) },
    { what: 'want_interface_events off', msg: 'want_interface_events', req: () => ({ enable_disable: 0, pid: 1 }) },
    { what: 'want_interface_events off again', msg: 'want_interface_events', req: () => ({ enable_disable: 0, pid: 1 }) },
    // deleting
    { what: 'delete_loopback of a non-loopback', msg: 'delete_loopback', req: () => ({ sw_if_index: 0 }) },
    { what: 'delete loop2', msg: 'delete_loopback', req: (v) => ({ sw_if_index: v.loop2 }) },
    { what: 'delete loop2 again', msg: 'delete_loopback', req: (v) => ({ sw_if_index: v.loop2 }) },
    { what: 'a new loopback reuses the freed index', msg: 'create_loopback', req: () => ({ mac_address: new Uint8Array(6) }), pick: (r) => r.sw_if_index },
    { what: 'interfaces at the end', msg: 'sw_interface_dump', dump: true, req: () => ifDump(), pick: ifFields },
  ];
}

async function play(c: VppClient, steps: Step[]): Promise<string[]> {
  const v: V = {};
  const out: string[] = [];
  for (const s of steps) {
    let r: any, retval = 'ok';
    try {
      r = s.dump ? await c.dump(s.msg, s.req?.(v) ?? {}) : await c.request(s.msg, s.req?.(v) ?? {});
    } catch (e) {
      if (e instanceof VppTimeoutError) retval = 'no reply';
      else if (e instanceof VppApiError) { retval = e.errorName; r = e.reply; }
      else throw new Error(`${s.what}: ${(e as Error).message}`);
    }
    if (retval === 'ok') s.save?.(r, v);
    out.push(JSON.stringify({ retval, ...(s.pick && retval === 'ok' ? { answer: s.pick(r, v) } : {}) }));
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-parity-'));
let vpp: Vpp;
let emu: VppEmulator;

test.before(async () => {
  await createVeth({ name: VETH, peer: PEER, up: true });
  vpp = await Vpp.start();
  emu = await startVppEmulator({ socketPath: join(dir, 'emu.sock'), registry: vpp.registry(), runtimeDir: join(dir, 'emu-run') });
});

test.after(async () => {
  await emu?.close();
  await vpp?.stop();
  await deleteLinkIfExists(VETH).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('the emulator answers the agent\'s requests and their error cases as VPP does', async () => {
  const steps = script(join(dir, 'm1.sock'), join(dir, 'm2.sock'), (n) => join(dir, 'L'.repeat(n - dir.length - 1)));
  const real = await vpp.connect({ timeoutMs: 3000 });
  const fake = await Client.connect({ socket: join(dir, 'emu.sock'), registry: vpp.registry(), reconnect: false, timeoutMs: 3000 });
  let a: string[], b: string[];
  try {
    a = await play(real, steps);
    b = await play(fake, steps);
  } finally {
    await real.close();
    await fake.close();
  }
  const diffs = steps.map((s, k) => (a[k] === b[k] ? null : `${k + 1}. ${s.what} (${s.msg})\n     VPP:      ${a[k]}\n     emulator: ${b[k]}`)).filter(Boolean);
  if (diffs.length) console.log(diffs.join('\n'));
  assert.equal(diffs, [], `the emulator differs from VPP in ${diffs.length} of ${steps.length} steps:\n${diffs.join('\n')}`);
});

test.run();
