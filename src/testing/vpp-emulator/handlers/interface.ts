// TEST DOUBLE handlers: interface.api (dump, flags, addresses, table, unnumbered).
// Return codes follow VPP's interface_api.c / ip code where checked (see docs/vppapi-client.md).
import type { Handler, HandlerContext } from '../handler.js';
import { fail, iface, statusFlags } from '../handler.js';
import type { ApiPrefix, EmuInterface } from '../state.js';

export function interfaceDetails(i: EmuInterface): Record<string, unknown> {
  return {
    sw_if_index: i.swIfIndex, sup_sw_if_index: i.swIfIndex, l2_address: i.mac, flags: statusFlags(i),
    type: 0 /* IF_API_TYPE_HARDWARE */, link_duplex: 0 /* unknown: what VPP reports for loopback, memif, af_packet */, link_speed: 0,
    link_mtu: i.mtu, mtu: [i.mtu, 0, 0, 0], interface_name: i.name, interface_dev_type: i.devType, tag: i.tag,
  };
}

export function prefixKey(p: ApiPrefix): string {
  const b = p.address.af === 1 ? p.address.un.ip6 : p.address.un.ip4;
  return `${p.address.af}:${Buffer.from(b ?? []).toString('hex')}/${p.len}`;
}

export function setAdmin(ctx: HandlerContext, i: EmuInterface, up: boolean): void {
  if (i.adminUp === up) return;
  i.adminUp = up;
  // tap (virtio), af_packet (device.c: link follows admin) and loopback carriers follow admin
  // state; memif links come up only when a peer connects (emulator.setLinkState).
  if (i.kind === 'tap' || i.kind === 'af_packet' || i.kind === 'loopback') i.linkUp = up;
  ctx.interfaceEvent(i);
}

/** Does a/alen contain b, or b/blen contain a (ip4_destination_matches_route both ways)? */
function overlaps(a: ApiPrefix, b: ApiPrefix): boolean {
  if (a.address.af !== b.address.af) return false;
  const x = (a.address.af === 1 ? a.address.un.ip6 : a.address.un.ip4) ?? new Uint8Array(0);
  const y = (b.address.af === 1 ? b.address.un.ip6 : b.address.un.ip4) ?? new Uint8Array(0);
  const within = (len: number) => {
    for (let bit = 0; bit < len; bit++) if (((x[bit >> 3]! >> (7 - (bit & 7))) & 1) !== ((y[bit >> 3]! >> (7 - (bit & 7))) & 1)) return false;
    return true;
  };
  return within(Math.min(a.len, b.len));
}

const sameAddress = (a: ApiPrefix, b: ApiPrefix) => prefixKey({ ...a, len: 0 }) === prefixKey({ ...b, len: 0 });

export const interfaceHandlers: Record<string, Handler> = {
  // Return codes as in VPP's interface_api.c / vnet ethernet (create_loopback, delete_loopback).
  // The instance is the lowest free one (loopback_instance_alloc), the default MAC de:ad:00:00:00:<instance>.
  create_loopback: (req, ctx) => {
    let instance = 0;
    while (ctx.state.loopbackInstances.has(instance)) instance++;
    ctx.state.loopbackInstances.add(instance);
    const given = req.mac_address && [...(req.mac_address as Uint8Array)].some((b) => b !== 0);
    const mac = given ? req.mac_address : Uint8Array.from([0xde, 0xad, 0, 0, 0, instance & 0xff]);
    const i = ctx.state.addInterface({ kind: 'loopback', name: `loop${instance}`, devType: 'Loopback', mac, loopback: { instance } });
    return { sw_if_index: i.swIfIndex };
  },

  delete_loopback: (req, ctx) => {
    const i = ctx.state.interfaces.get(req.sw_if_index);
    if (!i || i.kind !== 'loopback') fail('INVALID_SW_IF_INDEX', `sw_if_index ${req.sw_if_index} is not a loopback`);
    ctx.state.loopbackInstances.delete(i.loopback!.instance);
    ctx.state.removeInterface(i.swIfIndex);
    return {};
  },

  sw_interface_tag_add_del: (req, ctx) => {
    const i = iface(ctx, req.sw_if_index);
    i.tag = req.is_add ? String(req.tag ?? '') : '';
    return {};
  },

  sw_interface_dump: (req, ctx) => {
    const want = req.sw_if_index >>> 0;
    const filter = req.name_filter_valid ? String(req.name_filter ?? '') : '';
    for (const i of [...ctx.state.interfaces.values()].sort((a, b) => a.swIfIndex - b.swIfIndex)) {
      if (want !== 0xffffffff && i.swIfIndex !== want) continue;
      if (filter && !i.name.includes(filter)) continue; // VPP uses strstr
      ctx.details('sw_interface_details', interfaceDetails(i));
    }
    return undefined;
  },

  // interface_api.c: an ethernet interface only (local0, an IP-mode memif → FEATURE_DISABLED) whose
  // driver can change its frame size (loopbacks cannot → UNSUPPORTED; af_packet, tap, memif, vxlan can).
  hw_interface_set_mtu: (req, ctx) => {
    const i = iface(ctx, req.sw_if_index);
    if (i.kind === 'local' || (i.kind === 'memif' && i.memif!.mode !== 0)) fail('FEATURE_DISABLED', `sw_if_index ${i.swIfIndex} is not an ethernet interface`);
    if (i.kind === 'loopback') fail('UNSUPPORTED', `sw_if_index ${i.swIfIndex}: underlying driver doesn't support changing Max Frame Size`);
    i.mtu = req.mtu;
    return {};
  },

  sw_interface_set_flags: (req, ctx) => {
    const i = iface(ctx, req.sw_if_index);
    setAdmin(ctx, i, (req.flags & 1) !== 0);
    return {};
  },

  sw_interface_add_del_address: (req, ctx) => {
    const i = iface(ctx, req.sw_if_index);
    if (req.del_all) {
      i.addresses = [];
      return {};
    }
    const p = req.prefix as ApiPrefix;
    const key = prefixKey(p);
    const have = i.addresses.findIndex((a) => prefixKey(a) === key);
    if (req.is_add) {
      // ip4_add_del_interface_address_internal: no overlapping subnets in one table, the same
      // address again included; only other addresses of the same length on the same interface may.
      const vrf = p.address.af === 1 ? i.table.ip6 : i.table.ip4;
      for (const o of ctx.state.interfaces.values()) {
        if ((p.address.af === 1 ? o.table.ip6 : o.table.ip4) !== vrf) continue;
        for (const a of o.addresses) {
          if (!overlaps(a, p) || (o === i && a.len === p.len && !sameAddress(a, p))) continue;
          fail('ADDRESS_IN_USE', `${key} on sw_if_index ${i.swIfIndex} conflicts with ${prefixKey(a)} on sw_if_index ${o.swIfIndex}`);
        }
      }
      i.addresses.push(p);
    } else {
      if (have < 0) fail('ADDRESS_NOT_FOUND_FOR_INTERFACE', `${key} not on sw_if_index ${i.swIfIndex}`);
      i.addresses.splice(have, 1);
    }
    return {};
  },

  // ip_address_dump: an interface's own addresses of one family (not the ones it borrows as
  // unnumbered); an unknown sw_if_index gives none.
  ip_address_dump: (req, ctx) => {
    const i = ctx.state.interfaces.get(req.sw_if_index >>> 0);
    for (const a of i?.addresses ?? []) {
      if (a.address.af !== (req.is_ipv6 ? 1 : 0)) continue;
      ctx.details('ip_address_details', { sw_if_index: i!.swIfIndex, prefix: a });
    }
    return undefined;
  },

  // ip_table_bind: the table must exist; an interface with addresses of that family cannot move.
  sw_interface_set_table: (req, ctx) => {
    const i = iface(ctx, req.sw_if_index);
    const af = req.is_ipv6 ? 1 : 0;
    const vrf = req.vrf_id >>> 0;
    if (!ctx.state.ipTables.has(`${af ? 6 : 4}:${vrf}`)) fail('NO_SUCH_FIB', `ip${af ? 6 : 4} table ${vrf} does not exist`);
    if ((af ? i.table.ip6 : i.table.ip4) === vrf) return {};
    if (i.addresses.some((a) => a.address.af === af)) fail('ADDRESS_FOUND_FOR_INTERFACE', `sw_if_index ${i.swIfIndex} has ip${af ? 6 : 4} addresses`);
    if (af) i.table.ip6 = vrf;
    else i.table.ip4 = vrf;
    return {};
  },

  sw_interface_get_table: (req, ctx) => {
    const i = iface(ctx, req.sw_if_index);
    return { vrf_id: req.is_ipv6 ? i.table.ip6 : i.table.ip4 };
  },

  // interface_api.c: the borrower (unnumbered_sw_if_index) is checked first, the lender only when
  // adding; both must be in the same tables (vnet_sw_interface_check_table_same).
  sw_interface_set_unnumbered: (req, ctx) => {
    const u = iface(ctx, req.unnumbered_sw_if_index);
    if (!req.is_add) { u.unnumberedVia = null; return {}; }
    const from = iface(ctx, req.sw_if_index, 'INVALID_SW_IF_INDEX_2');
    if (from.table.ip4 !== u.table.ip4 || from.table.ip6 !== u.table.ip6) {
      fail('UNEXPECTED_INTF_STATE', `sw_if_index ${u.swIfIndex} and ${from.swIfIndex} are in different tables`);
    }
    u.unnumberedVia = from.swIfIndex;
    return {};
  },

  // ip_api.c: one index sends its binding if it is unnumbered; a bad index ends the dump with nothing.
  ip_unnumbered_dump: (req, ctx) => {
    const all = req.sw_if_index >>> 0 === 0xffffffff;
    for (const i of ctx.state.interfaces.values()) {
      if ((all || i.swIfIndex === req.sw_if_index >>> 0) && i.unnumberedVia !== null) ctx.details('ip_unnumbered_details', { sw_if_index: i.swIfIndex, ip_sw_if_index: i.unnumberedVia });
    }
    return undefined;
  },

  // The emulator keeps no counters: only the index is checked (~0: every interface).
  sw_interface_clear_stats: (req, ctx) => {
    if (req.sw_if_index >>> 0 !== 0xffffffff) iface(ctx, req.sw_if_index);
    return {};
  },
};
