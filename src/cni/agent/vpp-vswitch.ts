// Vswitch over the VPP binary API client (src/vppapi/client). One request per operation; VPP's
// negative retvals become VswitchError, with notFound set for the "nothing to delete" answers so
// that DEL stays idempotent.
import { VppApiError, type VppClient } from '../../vppapi/client/index.js';
import { VswitchError, type CreatedInterface, type NatStaticMappingArgs, type RouteArgs, type Vswitch, type VswitchInterface } from './vswitch.js';

// Enum values from the .api.json definitions (interface_types, memif, af_packet, nat_types, fib_types).
const IF_STATUS_API_FLAG_ADMIN_UP = 1;
const MEMIF_ROLE_API_MASTER = 0;
const MEMIF_MODE_API_ETHERNET = 0;
const AF_PACKET_API_MODE_ETHERNET = 1;
const NAT_IS_ADDR_ONLY = 8;
const FIB_API_PATH_NH_PROTO_IP4 = 0;
const ADDRESS_IP4 = 0;
const NO_SW_IF_INDEX = 0xffffffff;
/** fib_path.label_stack is a fixed array of 16 fib_mpls_label. */
const NO_LABELS = Array.from({ length: 16 }, () => ({ is_uniform: 0, label: 0, ttl: 0, exp: 0 }));

/** retvals that mean "the thing to delete is not there". */
const NOT_FOUND = new Set([
  'VNET_API_ERROR_NO_SUCH_ENTRY', 'VNET_API_ERROR_INVALID_SW_IF_INDEX', 'VNET_API_ERROR_NO_SUCH_FIB',
  'VNET_API_ERROR_NO_SUCH_TABLE', 'VNET_API_ERROR_ADDRESS_NOT_FOUND_FOR_INTERFACE',
]);
const ALREADY = new Set(['VNET_API_ERROR_FEATURE_ALREADY_ENABLED']);
const VALUE_EXIST = -81; // VNET_API_ERROR_VALUE_EXIST

const ip4Bytes = (s: string) => Uint8Array.from(s.split('.').map(Number));
const macString = (b: Uint8Array | undefined) => (b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined);

/** vl_api_prefix_t of an IPv4 CIDR (host bits allowed: interface addresses have them). */
function prefix(cidr: string) {
  const [a, l] = cidr.split('/');
  return { address: { af: ADDRESS_IP4, un: { ip4: ip4Bytes(a!) } }, len: Number(l) };
}

export class VppVswitch implements Vswitch {
  private natEnabled = false;
  constructor(readonly client: VppClient) {
    // A restarted VPP has the NAT plugin disabled again.
    client.on('reconnected', () => { this.natEnabled = false; });
  }

  onReconnected(cb: () => void): void {
    this.client.on('reconnected', cb);
  }

  private async call<T = Record<string, any>>(op: string, name: string, value: Record<string, unknown>, deleting = false): Promise<T> {
    try {
      return await this.client.request<T>(name, value);
    } catch (e) {
      if (e instanceof VppApiError) {
        throw new VswitchError(op, `${e.message}`, deleting && (NOT_FOUND.has(e.errorName) || (name === 'af_packet_delete' && e.errorName === 'VNET_API_ERROR_SYSCALL_ERROR_1')
          // VPP memif_delete_socket_file: an unknown socket id is INVALID_ARGUMENT ("socket file with id N does not exist"),
          // e.g. after VPP restarted; the agent never deletes ids 0/~0, the other INVALID_ARGUMENT cases.
          || (name === 'memif_socket_filename_add_del_v2' && e.errorName === 'VNET_API_ERROR_INVALID_ARGUMENT')), e.retval);
      }
      throw new VswitchError(op, (e as Error).message);
    }
  }

  private async tag(swIfIndex: number, tag: string): Promise<void> {
    await this.call('tag interface', 'sw_interface_tag_add_del', { is_add: true, sw_if_index: swIfIndex, tag });
  }

  private async macOf(swIfIndex: number): Promise<string | undefined> {
    const d = await this.client.dump<Record<string, any>>('sw_interface_dump', { sw_if_index: swIfIndex, name_filter_valid: false, name_filter: '' });
    return macString(d.find((x) => x.sw_if_index === swIfIndex)?.l2_address);
  }

  async createTap(o: { hostIfName: string; hostNamespace: string; tag: string }): Promise<CreatedInterface> {
    const r = await this.call<{ sw_if_index: number }>('create tap', 'tap_create_v2', {
      id: 0xffffffff, use_random_mac: true, num_rx_queues: 1,
      host_namespace_set: true, host_namespace: o.hostNamespace,
      host_if_name_set: true, host_if_name: o.hostIfName, tag: o.tag,
    });
    return { swIfIndex: r.sw_if_index, ...(await this.macOpt(r.sw_if_index)) };
  }

  private async macOpt(swIfIndex: number): Promise<{ mac?: string }> {
    const mac = await this.macOf(swIfIndex).catch(() => undefined);
    return mac ? { mac } : {};
  }

  async deleteTap(swIfIndex: number): Promise<void> { await this.call('delete tap', 'tap_delete_v2', { sw_if_index: swIfIndex }, true); }

  async createAfPacket(o: { hostIfName: string; tag: string }): Promise<CreatedInterface> {
    const r = await this.call<{ sw_if_index: number }>('create af_packet', 'af_packet_create_v3', {
      mode: AF_PACKET_API_MODE_ETHERNET, use_random_hw_addr: true, host_if_name: o.hostIfName, num_rx_queues: 1, num_tx_queues: 1,
    });
    try { await this.tag(r.sw_if_index, o.tag); } catch (e) {
      await this.deleteAfPacket({ hostIfName: o.hostIfName, swIfIndex: r.sw_if_index }).catch(() => undefined);
      throw e;
    }
    return { swIfIndex: r.sw_if_index, ...(await this.macOpt(r.sw_if_index)) };
  }

  async deleteAfPacket(o: { hostIfName: string; swIfIndex: number }): Promise<void> {
    await this.call('delete af_packet', 'af_packet_delete', { host_if_name: o.hostIfName }, true);
  }

  async addMemifSocket(o: { socketId: number; filename: string }): Promise<void> {
    await this.call('add memif socket', 'memif_socket_filename_add_del_v2', { is_add: true, socket_id: o.socketId, socket_filename: o.filename });
  }

  async deleteMemifSocket(socketId: number): Promise<void> {
    await this.call('delete memif socket', 'memif_socket_filename_add_del_v2', { is_add: false, socket_id: socketId, socket_filename: '' }, true);
  }

  async createMemif(o: { socketId: number; id: number; secret: string; tag: string }): Promise<CreatedInterface> {
    const r = await this.call<{ sw_if_index: number }>('create memif', 'memif_create_v2', {
      role: MEMIF_ROLE_API_MASTER, mode: MEMIF_MODE_API_ETHERNET, rx_queues: 1, tx_queues: 1, id: o.id, socket_id: o.socketId,
      ring_size: 1024, buffer_size: 2048, no_zero_copy: false, use_dma: false, secret: o.secret,
    });
    try { await this.tag(r.sw_if_index, o.tag); } catch (e) {
      await this.deleteMemif(r.sw_if_index).catch(() => undefined);
      throw e;
    }
    return { swIfIndex: r.sw_if_index, ...(await this.macOpt(r.sw_if_index)) };
  }

  async deleteMemif(swIfIndex: number): Promise<void> { await this.call('delete memif', 'memif_delete', { sw_if_index: swIfIndex }, true); }

  async createLoopback(o: { tag: string }): Promise<CreatedInterface> {
    const r = await this.call<{ sw_if_index: number }>('create loopback', 'create_loopback', { mac_address: new Uint8Array(6) });
    try { await this.tag(r.sw_if_index, o.tag); } catch (e) {
      await this.deleteLoopback(r.sw_if_index).catch(() => undefined);
      throw e;
    }
    return { swIfIndex: r.sw_if_index }; // nobody needs a loopback's MAC: no dump for it
  }

  async deleteLoopback(swIfIndex: number): Promise<void> { await this.call('delete loopback', 'delete_loopback', { sw_if_index: swIfIndex }, true); }

  async setInterfaceUp(swIfIndex: number, up: boolean): Promise<void> {
    await this.call('set interface state', 'sw_interface_set_flags', { sw_if_index: swIfIndex, flags: up ? IF_STATUS_API_FLAG_ADMIN_UP : 0 });
  }

  async addInterfaceAddress(swIfIndex: number, cidr: string): Promise<void> {
    await this.call('add interface address', 'sw_interface_add_del_address', { sw_if_index: swIfIndex, is_add: true, del_all: false, prefix: prefix(cidr) });
  }

  async setUnnumbered(swIfIndex: number, fromSwIfIndex: number): Promise<void> {
    // sw_if_index = the interface that has the address, unnumbered_sw_if_index = the borrower.
    await this.call('set unnumbered', 'sw_interface_set_unnumbered', { sw_if_index: fromSwIfIndex, unnumbered_sw_if_index: swIfIndex, is_add: true });
  }

  async setInterfaceVrf(swIfIndex: number, vrfId: number): Promise<void> {
    await this.call('set interface VRF', 'sw_interface_set_table', { sw_if_index: swIfIndex, is_ipv6: false, vrf_id: vrfId });
  }

  async addVrf(vrfId: number, name: string): Promise<void> {
    await this.call('add VRF', 'ip_table_add_del', { is_add: true, table: { table_id: vrfId, is_ip6: false, name } });
  }

  async deleteVrf(vrfId: number): Promise<void> {
    await this.call('delete VRF', 'ip_table_add_del', { is_add: false, table: { table_id: vrfId, is_ip6: false, name: '' } }, true);
  }

  async addBridgeDomain(bdId: number): Promise<void> {
    await this.call('add bridge domain', 'bridge_domain_add_del_v2', { bd_id: bdId, flood: true, uu_flood: true, forward: true, learn: true, arp_term: false, arp_ufwd: false, mac_age: 0, bd_tag: '', is_add: true });
  }

  async deleteBridgeDomain(bdId: number): Promise<void> {
    await this.call('delete bridge domain', 'bridge_domain_add_del_v2', { bd_id: bdId, is_add: false, bd_tag: '' }, true);
  }

  async setInterfaceBridge(swIfIndex: number, bdId: number): Promise<void> {
    await this.call('add interface to bridge domain', 'sw_interface_set_l2_bridge', { rx_sw_if_index: swIfIndex, bd_id: bdId, port_type: 0, shg: 0, enable: true });
  }

  private route(r: RouteArgs, isAdd: boolean) {
    const nh = r.nextHop ? ip4Bytes(r.nextHop) : new Uint8Array(4);
    return {
      is_add: isAdd, is_multipath: false,
      route: {
        table_id: r.vrfId, stats_index: 0, prefix: prefix(r.prefix), n_paths: 1,
        paths: [{ sw_if_index: r.swIfIndex, table_id: r.vrfId, rpf_id: 0, weight: 1, preference: 0, type: 0, flags: 0, proto: FIB_API_PATH_NH_PROTO_IP4,
          nh: { address: { ip4: nh }, via_label: 0, obj_id: 0, classify_table_index: 0xffffffff }, n_labels: 0, label_stack: NO_LABELS }],
      },
    };
  }

  async addRoute(r: RouteArgs): Promise<void> { await this.call('add route', 'ip_route_add_del', this.route(r, true)); }
  async deleteRoute(r: RouteArgs): Promise<void> { await this.call('delete route', 'ip_route_add_del', this.route(r, false), true); }

  private async ensureNat(): Promise<void> {
    if (this.natEnabled) return;
    try {
      await this.client.request('nat44_ed_plugin_enable_disable', { enable: true, inside_vrf: 0, outside_vrf: 0, sessions: 0, session_memory: 0, flags: 0 });
    } catch (e) {
      if (!(e instanceof VppApiError && ALREADY.has(e.errorName))) throw new VswitchError('enable nat44-ed', (e as Error).message);
    }
    this.natEnabled = true;
  }

  private nat(m: NatStaticMappingArgs, isAdd: boolean) {
    return {
      is_add: isAdd, match_pool: false, flags: NAT_IS_ADDR_ONLY, pool_ip_address: new Uint8Array(4),
      local_ip_address: ip4Bytes(m.localIp), external_ip_address: ip4Bytes(m.externalIp), protocol: 0, local_port: 0, external_port: 0,
      external_sw_if_index: NO_SW_IF_INDEX, vrf_id: m.vrfId, tag: 'tsvpp',
    };
  }

  async addNatStaticMapping(m: NatStaticMappingArgs): Promise<void> {
    await this.ensureNat();
    try {
      await this.call('add NAT44 static mapping', 'nat44_add_del_static_mapping_v2', this.nat(m, true));
    } catch (e) {
      // The same mapping (same local and external address) is there already: re-wiring after a
      // partial loss may add it again.
      if (e instanceof VswitchError && e.retval === VALUE_EXIST) return;
      throw e;
    }
  }

  async deleteNatStaticMapping(m: NatStaticMappingArgs): Promise<void> {
    await this.ensureNat();
    await this.call('delete NAT44 static mapping', 'nat44_add_del_static_mapping_v2', this.nat(m, false), true);
  }

  async dumpInterfaces(): Promise<VswitchInterface[]> {
    const d = await this.client.dump<Record<string, any>>('sw_interface_dump', { sw_if_index: NO_SW_IF_INDEX, name_filter_valid: false, name_filter: '' });
    return d.map((x) => ({
      swIfIndex: x.sw_if_index, name: String(x.interface_name ?? ''), tag: String(x.tag ?? ''),
      up: ((x.flags ?? 0) & IF_STATUS_API_FLAG_ADMIN_UP) !== 0, ...(macString(x.l2_address) ? { mac: macString(x.l2_address)! } : {}),
    }));
  }

  async close(): Promise<void> { await this.client.close(); }
}

