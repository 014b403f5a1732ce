// Vswitch over the VPP binary API client (src/vppapi/client), spoken through the generated
// bindings (src/vppapi/bindings): message names, fields and enum values are checked at compile
// time, as GoVPP's callers use binapi. One request per operation; VPP's negative retvals become
// VswitchError, with notFound set for the "nothing to delete" answers so that DEL stays idempotent.
import { existsSync } from 'node:fs';
import { typed, vppErrnoCode, VppApiError, VppMessageUnavailableError, type TypedVppClient, type VppClient } from '../../vppapi/client/index.js';
import * as af_packet from '../../vppapi/bindings/af_packet.js';
import * as cnat from '../../vppapi/bindings/cnat.js';
import * as fib_types from '../../vppapi/bindings/fib_types.js';
import * as interface_ from '../../vppapi/bindings/interface.js';
import * as interface_types from '../../vppapi/bindings/interface_types.js';
import * as ip from '../../vppapi/bindings/ip.js';
import * as ip_neighbor from '../../vppapi/bindings/ip_neighbor.js';
import * as ip_types from '../../vppapi/bindings/ip_types.js';
import * as l2 from '../../vppapi/bindings/l2.js';
import * as memif from '../../vppapi/bindings/memif.js';
import * as nat44_ed from '../../vppapi/bindings/nat44_ed.js';
import * as nat_types from '../../vppapi/bindings/nat_types.js';
import * as tapv2 from '../../vppapi/bindings/tapv2.js';
import * as vxlan from '../../vppapi/bindings/vxlan.js';
import {
  VswitchError, type CreatedInterface, type NeighborArgs, type RouteArgs, type ServiceNatRole, type ServiceTranslation, type ServiceTranslationEntry, type Vswitch, type VswitchInterface,
  type VxlanArgs, type VxlanTunnel,
} from './vswitch.js';
import type { LegacyNatMapping } from './state.js';
import type { ServiceProtocol } from '../services/types.js';
import { VHOST_NET } from './config.js';
import { exhaustive } from '../exhaustive.js';

/** The VPP modules the agent speaks. */
type Messages = af_packet.Messages & cnat.Messages & interface_.Messages & ip.Messages & ip_neighbor.Messages & l2.Messages & memif.Messages & nat44_ed.Messages
  & tapv2.Messages & vxlan.Messages;
type Replies = typeof af_packet.replies & typeof cnat.replies & typeof interface_.replies & typeof ip.replies & typeof ip_neighbor.replies & typeof l2.replies
  & typeof memif.replies & typeof nat44_ed.replies & typeof tapv2.replies & typeof vxlan.replies;

const ADMIN_UP = interface_types.IfStatusFlags.IF_STATUS_API_FLAG_ADMIN_UP;
/** ~0: "no interface" / "allocate one" in VPP's API. */
const NONE = 0xffffffff;

const codes = (...names: string[]): ReadonlySet<number> => new Set(names.map(vppErrnoCode));
/** retvals that mean "the thing to delete is not there". */
const NOT_FOUND = codes('NO_SUCH_ENTRY', 'INVALID_SW_IF_INDEX', 'NO_SUCH_FIB', 'NO_SUCH_TABLE', 'ADDRESS_NOT_FOUND_FOR_INTERFACE');
/** NAT44-ED: the plugin disabled (UNSUPPORTED) has no static mappings either. */
const NOT_FOUND_NAT = new Set([...NOT_FOUND, ...codes('UNSUPPORTED')]);
const NOT_FOUND_AF_PACKET = new Set([...NOT_FOUND, ...codes('SYSCALL_ERROR_1')]);
// VPP memif_delete_socket_file: an unknown socket id is INVALID_ARGUMENT ("socket file with id N does
// not exist"), e.g. after VPP restarted; the agent never deletes ids 0/~0, the other INVALID_ARGUMENT cases.
const NOT_FOUND_MEMIF_SOCKET = new Set([...NOT_FOUND, ...codes('INVALID_ARGUMENT')]);

const ip4Bytes = (s: string) => Uint8Array.from(s.split('.').map(Number));
const ip4String = (b: Uint8Array) => [...b].join('.');
const address4 = (s: string) => ({ af: ip_types.AddressFamily.ADDRESS_IP4, un: { ip4: ip4Bytes(s) } });

const IP_PROTO: { [P in ServiceProtocol]: ip_types.IpProto } = {
  TCP: ip_types.IpProto.IP_API_PROTO_TCP, UDP: ip_types.IpProto.IP_API_PROTO_UDP, SCTP: ip_types.IpProto.IP_API_PROTO_SCTP,
};
const protoOf = (p: number): ServiceProtocol | undefined => (Object.keys(IP_PROTO) as ServiceProtocol[]).find((k) => IP_PROTO[k] === p);
/** cnat endpoint of an address and port (sw_if_index ~0: the address is given, not an interface's). */
const endpoint = (ip: string, port: number) => ({ addr: address4(ip), sw_if_index: NONE, if_af: ip_types.AddressFamily.ADDRESS_IP4, port });
const macBytes = (s: string) => Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));
/** An IPv4 vl_api_address_t as text ('' for an IPv6 one). */
const addressString = (a: ip_types.Address) => ('ip4' in a.un ? ip4String(a.un.ip4) : '');

/**
 * What VPP's tap_create_v2 retvals mean (plugins/tap/tap.c): -11 is only the open of /dev/vhost-net,
 * -12 opening the namespace or /dev/net/tun, -13 setns or a tun ioctl (e.g. the name is taken).
 */
function tapFailureCause(retval: number | undefined, o: { hostIfName: string }): string | undefined {
  switch (retval) {
    case vppErrnoCode('SYSCALL_ERROR_1'): return existsSync(VHOST_NET)
      ? `VPP could not open ${VHOST_NET} (permissions, or VPP runs where it does not see it)`
      : `VPP's tap v2 needs ${VHOST_NET}, which this node does not have (load the vhost_net kernel module; pod eth0 can use eth0Kind veth-afpacket instead)`;
    case vppErrnoCode('SYSCALL_ERROR_2'): return 'VPP could not open /dev/net/tun, or the tun driver lacks what tap v2 needs (vnet headers)';
    // tap.c's _IOCTL: TUNSETIFF fails for a name another device has in VPP's namespace.
    case vppErrnoCode('SYSCALL_ERROR_3'): return `VPP could not set up the tun device (is ${o.hostIfName} taken in VPP's namespace?)`;
    default: return undefined;
  }
}
const macString = (b: Uint8Array | undefined) => (b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined);

/** vl_api_prefix_t of an IPv4 CIDR (host bits allowed: interface addresses have them). */
function prefix(cidr: string) {
  const [a, l] = cidr.split('/');
  return { address: { af: ip_types.AddressFamily.ADDRESS_IP4, un: { ip4: ip4Bytes(a!) } }, len: Number(l) };
}

export class VppVswitch implements Vswitch {
  private readonly api: TypedVppClient<Messages, Replies>;

  constructor(readonly client: VppClient) {
    this.api = typed<Messages, Replies>(client);
  }

  onReconnected(cb: () => void): void {
    this.client.on('reconnected', cb);
  }

  async ping(): Promise<void> {
    await this.run('control ping', () => this.client.request('control_ping', {}));
  }

  /** Runs one call; `gone` are the retvals that mean the object to delete is not there. */
  private async run<T>(op: string, call: () => Promise<T>, gone?: ReadonlySet<number>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof VppApiError) throw new VswitchError(op, e.message, gone?.has(e.retval) ?? false, e.retval);
      throw new VswitchError(op, (e as Error).message);
    }
  }

  /**
   * Tags an interface VPP just created (its create message takes no tag); deletes it if tagging
   * fails, since an untagged interface is one the agent would not recognise as its own.
   */
  private async tagOrDelete(swIfIndex: number, tag: string, del: () => Promise<void>): Promise<void> {
    try {
      await this.run('tag interface', () => this.api.request('sw_interface_tag_add_del', { is_add: true, sw_if_index: swIfIndex, tag }));
    } catch (e) {
      await del().catch(() => undefined);
      throw e;
    }
  }

  /** tagOrDelete and created at once: the tag and the dump are in flight together (VPP answers in order). */
  private async taggedCreated(swIfIndex: number, tag: string, del: () => Promise<void>): Promise<CreatedInterface> {
    const [, c] = await Promise.all([this.tagOrDelete(swIfIndex, tag, del), this.created(swIfIndex)]);
    return c;
  }

  private async created(swIfIndex: number): Promise<CreatedInterface> {
    const d = await this.api.dump('sw_interface_dump', { sw_if_index: swIfIndex, name_filter_valid: false, name_filter: '' }).catch(() => []);
    const mac = macString(d.find((x) => x.sw_if_index === swIfIndex)?.l2_address);
    return { swIfIndex, ...(mac ? { mac } : {}) };
  }

  async createTap(o: { hostIfName: string; tag: string }): Promise<CreatedInterface> {
    const r = await this.run('create tap', () => this.api.request('tap_create_v2', {
      id: NONE, use_random_mac: true, num_rx_queues: 1,
      host_if_name_set: true, host_if_name: o.hostIfName, tag: o.tag,
    })).catch((e: VswitchError) => {
      const cause = tapFailureCause(e.retval, o);
      throw cause ? new VswitchError('create tap', `${e.message.replace(/^create tap: /, '')}: ${cause}`, false, e.retval) : e;
    });
    return this.created(r.sw_if_index);
  }

  async deleteTap(swIfIndex: number): Promise<void> {
    await this.run('delete tap', () => this.api.request('tap_delete_v2', { sw_if_index: swIfIndex }), NOT_FOUND);
  }

  async createAfPacket(o: { hostIfName: string; tag: string; txFrames?: number }): Promise<CreatedInterface> {
    const r = await this.run('create af_packet', () => this.api.request('af_packet_create_v3', {
      mode: af_packet.AfPacketMode.AF_PACKET_API_MODE_ETHERNET, use_random_hw_addr: true, host_if_name: o.hostIfName, num_rx_queues: 1, num_tx_queues: 1,
      // 0: VPP's default. The frame size stays VPP's (66 KB): VPP copies a GSO packet into one TX
      // frame without checking its size.
      tx_frames_per_block: o.txFrames ?? 0,
      // As VPP's own CLI and af_packet_create(_v2) default: with CKSUM_GSO VPP reads the kernel's
      // virtio-net header, so a pod's TCP/UDP sent with the checksum left to offload (what a veth
      // does) gets it computed before VPP sends it on; without it the receiver drops the segment.
      flags: af_packet.AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS | af_packet.AfPacketFlags.AF_PACKET_API_FLAG_CKSUM_GSO,
    }));
    return this.taggedCreated(r.sw_if_index, o.tag, () => this.deleteAfPacket({ hostIfName: o.hostIfName, swIfIndex: r.sw_if_index }));
  }

  async deleteAfPacket(o: { hostIfName: string; swIfIndex: number }): Promise<void> {
    await this.run('delete af_packet', () => this.api.request('af_packet_delete', { host_if_name: o.hostIfName }), NOT_FOUND_AF_PACKET);
  }

  async addMemifSocket(o: { socketId: number; filename: string }): Promise<void> {
    await this.run('add memif socket', () => this.api.request('memif_socket_filename_add_del_v2', { is_add: true, socket_id: o.socketId, socket_filename: o.filename }));
  }

  async deleteMemifSocket(socketId: number): Promise<void> {
    await this.run('delete memif socket', () => this.api.request('memif_socket_filename_add_del_v2', { is_add: false, socket_id: socketId, socket_filename: '' }), NOT_FOUND_MEMIF_SOCKET);
  }

  async createMemif(o: { socketId: number; id: number; secret: string; tag: string; mac?: string }): Promise<CreatedInterface> {
    const r = await this.run('create memif', () => this.api.request('memif_create_v2', {
      role: memif.MemifRole.MEMIF_ROLE_API_MASTER, mode: memif.MemifMode.MEMIF_MODE_API_ETHERNET, rx_queues: 1, tx_queues: 1, id: o.id, socket_id: o.socketId,
      ring_size: 1024, buffer_size: 2048, no_zero_copy: false, use_dma: false, secret: o.secret, hw_addr: o.mac ? macBytes(o.mac) : new Uint8Array(6),
    }));
    return this.taggedCreated(r.sw_if_index, o.tag, () => this.deleteMemif(r.sw_if_index));
  }

  async deleteMemif(swIfIndex: number): Promise<void> {
    await this.run('delete memif', () => this.api.request('memif_delete', { sw_if_index: swIfIndex }), NOT_FOUND);
  }

  async createLoopback(o: { tag: string; mac?: string }): Promise<CreatedInterface> {
    const r = await this.run('create loopback', () => this.api.request('create_loopback', { mac_address: o.mac ? macBytes(o.mac) : new Uint8Array(6) }));
    await this.tagOrDelete(r.sw_if_index, o.tag, () => this.deleteLoopback(r.sw_if_index));
    return { swIfIndex: r.sw_if_index }; // nobody needs a loopback's MAC: no dump for it
  }

  async deleteLoopback(swIfIndex: number): Promise<void> {
    await this.run('delete loopback', () => this.api.request('delete_loopback', { sw_if_index: swIfIndex }), NOT_FOUND);
  }

  async setInterfaceUp(swIfIndex: number, up: boolean): Promise<void> {
    await this.run('set interface state', () => this.api.request('sw_interface_set_flags', { sw_if_index: swIfIndex, flags: up ? ADMIN_UP : 0 }));
  }

  async setInterfaceMtu(swIfIndex: number, mtu: number): Promise<void> {
    await this.run('set interface MTU', () => this.api.request('hw_interface_set_mtu', { sw_if_index: swIfIndex, mtu }));
  }

  async interfaceAddresses(swIfIndex: number): Promise<string[]> {
    const d = await this.run('list interface addresses', () => this.api.dump('ip_address_dump', { sw_if_index: swIfIndex, is_ipv6: false }));
    return d.map((x) => `${addressString(x.prefix.address)}/${x.prefix.len}`);
  }

  async addInterfaceAddress(swIfIndex: number, cidr: string): Promise<void> {
    await this.run('add interface address', () => this.api.request('sw_interface_add_del_address', { sw_if_index: swIfIndex, is_add: true, del_all: false, prefix: prefix(cidr) }));
  }

  async setUnnumbered(swIfIndex: number, fromSwIfIndex: number): Promise<void> {
    // sw_if_index = the interface that has the address, unnumbered_sw_if_index = the borrower.
    await this.run('set unnumbered', () => this.api.request('sw_interface_set_unnumbered', { sw_if_index: fromSwIfIndex, unnumbered_sw_if_index: swIfIndex, is_add: true }));
  }

  async unsetUnnumbered(swIfIndex: number): Promise<void> {
    // VPP checks the lender (sw_if_index) only when adding: the borrower stands in for it.
    await this.run('unset unnumbered', () => this.api.request('sw_interface_set_unnumbered', { sw_if_index: swIfIndex, unnumbered_sw_if_index: swIfIndex, is_add: false }));
  }

  async unnumberedFrom(swIfIndex: number): Promise<number | undefined> {
    const d = await this.run('list unnumbered', () => this.api.dump('ip_unnumbered_dump', { sw_if_index: swIfIndex }));
    return d.find((x) => x.sw_if_index === swIfIndex)?.ip_sw_if_index;
  }

  async interfaceVrf(swIfIndex: number): Promise<number> {
    return (await this.run('get interface VRF', () => this.api.request('sw_interface_get_table', { sw_if_index: swIfIndex, is_ipv6: false }))).vrf_id;
  }

  async clearCounters(swIfIndex: number): Promise<void> {
    await this.run('clear interface counters', () => this.api.request('sw_interface_clear_stats', { sw_if_index: swIfIndex }));
  }

  async setInterfaceVrf(swIfIndex: number, vrfId: number): Promise<void> {
    await this.run('set interface VRF', () => this.api.request('sw_interface_set_table', { sw_if_index: swIfIndex, is_ipv6: false, vrf_id: vrfId }));
  }

  async addVrf(vrfId: number, name: string): Promise<void> {
    await this.run('add VRF', () => this.api.request('ip_table_add_del', { is_add: true, table: { table_id: vrfId, is_ip6: false, name } }));
  }

  async deleteVrf(vrfId: number): Promise<void> {
    await this.run('delete VRF', () => this.api.request('ip_table_add_del', { is_add: false, table: { table_id: vrfId, is_ip6: false, name: '' } }), NOT_FOUND);
  }

  async addBridgeDomain(bdId: number): Promise<void> {
    await this.run('add bridge domain', () => this.api.request('bridge_domain_add_del_v2', {
      bd_id: bdId, flood: true, uu_flood: true, forward: true, learn: true, arp_term: false, arp_ufwd: false, mac_age: 0, bd_tag: '', is_add: true,
    }));
  }

  async deleteBridgeDomain(bdId: number): Promise<void> {
    await this.run('delete bridge domain', () => this.api.request('bridge_domain_add_del_v2', { bd_id: bdId, is_add: false, bd_tag: '' }), NOT_FOUND);
  }

  async setInterfaceBridge(swIfIndex: number, bdId: number, o: { bvi?: boolean; shg?: number } = {}): Promise<void> {
    await this.run('add interface to bridge domain', () => this.api.request('sw_interface_set_l2_bridge', {
      rx_sw_if_index: swIfIndex, bd_id: bdId, port_type: o.bvi ? l2.L2PortType.L2_API_PORT_TYPE_BVI : l2.L2PortType.L2_API_PORT_TYPE_NORMAL, shg: o.shg ?? 0, enable: true,
    }));
  }

  async tagInterface(swIfIndex: number, tag: string): Promise<void> {
    await this.run('tag interface', () => this.api.request('sw_interface_tag_add_del', { is_add: true, sw_if_index: swIfIndex, tag }));
  }

  /** Unicast IPv4, encap in VRF 0, VPP's port 4789, bridged (decap to l2-input). */
  private vxlan(t: VxlanArgs, isAdd: boolean) {
    return this.api.request('vxlan_add_del_tunnel_v3', {
      is_add: isAdd, instance: NONE, src_address: address4(t.src), dst_address: address4(t.dst), src_port: 0, dst_port: 0,
      mcast_sw_if_index: NONE, encap_vrf_id: 0, decap_next_index: NONE, vni: t.vni, is_l3: false,
    });
  }

  async createVxlanTunnel(t: VxlanArgs): Promise<CreatedInterface> {
    const r = await this.run('create VXLAN tunnel', () => this.vxlan(t, true));
    return { swIfIndex: r.sw_if_index };
  }

  async deleteVxlanTunnel(t: VxlanArgs): Promise<void> {
    await this.run('delete VXLAN tunnel', () => this.vxlan(t, false), NOT_FOUND);
  }

  async dumpVxlanTunnels(): Promise<VxlanTunnel[]> {
    const d = await this.run('list VXLAN tunnels', () => this.api.dump('vxlan_tunnel_v2_dump', { sw_if_index: NONE }));
    return d.map((x) => ({
      swIfIndex: x.sw_if_index, instance: x.instance, src: addressString(x.src_address), dst: addressString(x.dst_address), vni: x.vni,
      encapVrfId: x.encap_vrf_id, srcPort: x.src_port, dstPort: x.dst_port,
    }));
  }

  /** The route to r.prefix through r.swIfIndex (next hop r.nextHop) in VRF r.vrfId. */
  private route(r: RouteArgs, isAdd: boolean) {
    return this.api.request('ip_route_add_del', {
      is_add: isAdd, is_multipath: false,
      route: {
        table_id: r.vrfId, prefix: prefix(r.prefix),
        paths: [{
          sw_if_index: r.swIfIndex, table_id: r.vrfId, weight: 1, type: fib_types.FibPathType.FIB_API_PATH_TYPE_NORMAL,
          proto: fib_types.FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4,
          nh: { address: { ip4: r.nextHop ? ip4Bytes(r.nextHop) : new Uint8Array(4) }, classify_table_index: NONE },
        }],
      },
    });
  }

  async addRoute(r: RouteArgs): Promise<void> { await this.run('add route', () => this.route(r, true)); }
  async deleteRoute(r: RouteArgs): Promise<void> { await this.run('delete route', () => this.route(r, false), NOT_FOUND); }

  private neighbor(n: NeighborArgs, isAdd: boolean) {
    return this.api.request('ip_neighbor_add_del', {
      is_add: isAdd,
      neighbor: {
        sw_if_index: n.swIfIndex, flags: ip_neighbor.IpNeighborFlags.IP_API_NEIGHBOR_FLAG_STATIC, mac_address: macBytes(n.mac),
        ip_address: { af: ip_types.AddressFamily.ADDRESS_IP4, un: { ip4: ip4Bytes(n.ip) } },
      },
    });
  }

  async addNeighbor(n: NeighborArgs): Promise<void> { await this.run('add neighbour', () => this.neighbor(n, true)); }
  async deleteNeighbor(n: NeighborArgs): Promise<void> { await this.run('delete neighbour', () => this.neighbor(n, false), NOT_FOUND); }

  async dumpNeighbors(swIfIndex: number): Promise<Array<NeighborArgs & { static: boolean }>> {
    const d = await this.run('list neighbours', () => this.api.dump('ip_neighbor_dump', { sw_if_index: swIfIndex, af: ip_types.AddressFamily.ADDRESS_IP4 }));
    return d.map((x) => ({
      swIfIndex: x.neighbor.sw_if_index, ip: addressString(x.neighbor.ip_address), mac: macString(x.neighbor.mac_address) ?? '00:00:00:00:00:00',
      static: (x.neighbor.flags & ip_neighbor.IpNeighborFlags.IP_API_NEIGHBOR_FLAG_STATIC) !== 0,
    }));
  }

  async putServiceTranslation(t: ServiceTranslation): Promise<number> {
    const r = await this.run('put service translation', () => this.api.request('cnat_translation_update', {
      translation: {
        vip: endpoint(t.vip, t.port), id: 0, ip_proto: IP_PROTO[t.proto],
        // A "real" VIP interposes on what the FIB already has for the address (the reject route of
        // a ClusterIP, the receive entry of a NodePort address) instead of replacing it: ports and
        // protocols without a translation keep that behaviour.
        is_real_ip: 1, flags: 0,
        // Affinity: hash the client's address only; maglev keeps most clients on their backend when
        // the backend set changes.
        lb_type: t.affinity ? cnat.CnatLbType.CNAT_LB_TYPE_MAGLEV : cnat.CnatLbType.CNAT_LB_TYPE_DEFAULT,
        flow_hash_config: t.affinity ? ip.IpFlowHashConfigV2.IP_API_V2_FLOW_HASH_SRC_IP : 0,
        n_paths: t.backends.length,
        paths: t.backends.map((b) => ({ dst_ep: endpoint(b.ip, b.port), src_ep: endpoint('0.0.0.0', 0), flags: 0 })),
      },
    }));
    return r.id;
  }

  async deleteServiceTranslation(id: number): Promise<void> {
    await this.run('delete service translation', () => this.api.request('cnat_translation_del', { id }), NOT_FOUND);
  }

  async dumpServiceTranslations(): Promise<ServiceTranslationEntry[]> {
    const d = await this.run('dump service translations', () => this.api.dump('cnat_translation_dump', {}));
    const out: ServiceTranslationEntry[] = [];
    for (const { translation: t } of d) {
      const proto = protoOf(t.ip_proto);
      const vip = 'ip4' in t.vip.addr.un ? ip4String(t.vip.addr.un.ip4) : undefined;
      if (!proto || !vip) continue; // not one of ours (IPv6, another protocol)
      out.push({
        id: t.id, vip, port: t.vip.port, proto, affinity: t.lb_type === cnat.CnatLbType.CNAT_LB_TYPE_MAGLEV,
        backends: t.paths.map((p) => ({ ip: 'ip4' in p.dst_ep.addr.un ? ip4String(p.dst_ep.addr.un.ip4) : '', port: p.dst_ep.port })),
      });
    }
    return out;
  }

  async setServiceSnat(addr: string): Promise<void> {
    await this.run('set service source NAT address', () => this.api.request('cnat_set_snat_addresses_v2', {
      fwd_fib_index: 0, ret_fib_index: 0, snat_ip4: ip4Bytes(addr), snat_ip6: new Uint8Array(16), sw_if_index: NONE,
      // NO_CLIENT: return traffic is found by the per-interface session lookup; a FIB entry of cnat's
      // for the address would hide what the FIB has for it (the address may be a gateway's).
      flags: cnat.CnatSnatPolicyFlags.CNAT_SNAT_POLICY_F_NO_CLIENT | cnat.CnatSnatPolicyFlags.CNAT_SNAT_POLICY_F_USE_AS_DEFAULT,
    }));
    await this.run('set service source NAT policy', () => this.api.request('cnat_set_snat_policy', { policy: cnat.CnatSnatPolicies.CNAT_POLICY_K8S }));
  }

  async enableServiceNat(swIfIndex: number, role: ServiceNatRole): Promise<void> {
    await this.run('enable service NAT', () => this.api.request('feature_cnat_enable_disable', { sw_if_index: swIfIndex, enable_disable: true }));
    switch (role) {
      case 'pod':
        await this.run('mark pod interface for service NAT', () => this.api.request('cnat_snat_policy_add_del_if', {
          sw_if_index: swIfIndex, is_add: 1, table: cnat.CnatSnatPolicyTable.CNAT_POLICY_POD,
        }));
        return;
      case 'uplink': return; // neither pod nor "host" (cnat's host table never source-NATs what leaves there)
      default: exhaustive(role, 'service NAT role');
    }
  }

  async disableServiceNat(swIfIndex: number, role: ServiceNatRole): Promise<void> {
    // Both are no-ops in VPP where nothing was enabled (a feature's count, a policy's bitmap).
    switch (role) {
      case 'pod':
        await this.run('unmark pod interface for service NAT', () => this.api.request('cnat_snat_policy_add_del_if', {
          sw_if_index: swIfIndex, is_add: 0, table: cnat.CnatSnatPolicyTable.CNAT_POLICY_POD,
        }));
        break;
      case 'uplink': break;
      default: exhaustive(role, 'service NAT role');
    }
    await this.run('disable service NAT', () => this.api.request('feature_cnat_enable_disable', { sw_if_index: swIfIndex, enable_disable: false }));
  }

  /** The ICMP-unreachable route of ip/32 in VRF 0. */
  private rejectRoute(addr: string, isAdd: boolean) {
    return this.api.request('ip_route_add_del', {
      is_add: isAdd, is_multipath: false,
      route: {
        table_id: 0, prefix: prefix(`${addr}/32`),
        paths: [{ sw_if_index: NONE, table_id: 0, weight: 1, type: fib_types.FibPathType.FIB_API_PATH_TYPE_ICMP_PROHIBIT, proto: fib_types.FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4 }],
      },
    });
  }

  async addRejectRoute(addr: string): Promise<void> { await this.run('add reject route', () => this.rejectRoute(addr, true)); }
  async deleteRejectRoute(addr: string): Promise<void> { await this.run('delete reject route', () => this.rejectRoute(addr, false), NOT_FOUND); }

  async dumpRejectRoutes(): Promise<string[]> {
    const d = await this.run('dump routes', () => this.api.dump('ip_route_dump', { table: { table_id: 0, is_ip6: false, name: '' } }));
    return d.filter(({ route: r }) => r.prefix.len === 32 && r.paths.length > 0 && r.paths.every((p) => p.type === fib_types.FibPathType.FIB_API_PATH_TYPE_ICMP_PROHIBIT))
      .map(({ route: r }) => ('ip4' in r.prefix.address.un ? ip4String(r.prefix.address.un.ip4) : ''))
      .filter((a) => a !== '');
  }

  async routesThrough(swIfIndex: number, vrfId: number): Promise<string[]> {
    const d = await this.run('dump routes', () => this.api.dump('ip_route_dump', { table: { table_id: vrfId, is_ip6: false, name: '' } }));
    return d.filter(({ route: r }) => r.paths.some((p) => p.sw_if_index === swIfIndex))
      .map(({ route: r }) => `${'ip4' in r.prefix.address.un ? ip4String(r.prefix.address.un.ip4) : '?'}/${r.prefix.len}`);
  }

  async deleteLegacyNatMapping(m: LegacyNatMapping): Promise<void> {
    const op = 'delete NAT44 static mapping';
    try {
      // As the agents before the cnat Services added it (address-only, tag tsvpp).
      await this.api.request('nat44_add_del_static_mapping_v2', {
        is_add: false, match_pool: false, flags: nat_types.NatConfigFlags.NAT_IS_ADDR_ONLY, pool_ip_address: new Uint8Array(4),
        local_ip_address: ip4Bytes(m.localIp), external_ip_address: ip4Bytes(m.externalIp), protocol: 0, local_port: 0, external_port: 0,
        external_sw_if_index: NONE, vrf_id: m.vrfId, tag: 'tsvpp',
      });
    } catch (e) {
      if (e instanceof VppMessageUnavailableError) throw new VswitchError(op, `${e.message} (no NAT44 plugin, so no mapping)`, true);
      if (e instanceof VppApiError) throw new VswitchError(op, e.message, NOT_FOUND_NAT.has(e.retval), e.retval);
      throw new VswitchError(op, (e as Error).message);
    }
  }

  async dumpInterfaces(swIfIndex?: number): Promise<VswitchInterface[]> {
    // One index: VPP sends nothing for an index it does not have, and everything for 0 (local0).
    const d = await this.api.dump('sw_interface_dump', { sw_if_index: swIfIndex ?? NONE, name_filter_valid: false, name_filter: '' });
    return d.filter((x) => swIfIndex === undefined || x.sw_if_index === swIfIndex).map((x) => {
      const mac = macString(x.l2_address);
      return { swIfIndex: x.sw_if_index, name: x.interface_name, tag: x.tag, up: (x.flags & ADMIN_UP) !== 0, ...(mac ? { mac } : {}), ...(x.link_mtu ? { mtu: x.link_mtu } : {}) };
    });
  }

  async close(): Promise<void> { await this.client.close(); }
}
