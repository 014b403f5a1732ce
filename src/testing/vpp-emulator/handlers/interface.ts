// TEST DOUBLE handlers: interface.api (dump, flags, addresses, table, unnumbered).
// Return codes follow VPP's interface_api.c / ip code where checked (see docs/vppapi-client.md).
import { randomBytes } from 'node:crypto';
import type { Handler, HandlerContext } from '../handler.js';
import { fail, iface, statusFlags } from '../handler.js';
import type { ApiPrefix, EmuInterface } from '../state.js';

export function interfaceDetails(i: EmuInterface): Record<string, unknown> {
  return {
    sw_if_index: i.swIfIndex, sup_sw_if_index: i.swIfIndex, l2_address: i.mac, flags: statusFlags(i),
    type: 0 /* IF_API_TYPE_HARDWARE */, link_duplex: i.kind === 'local' ? 0 : 2, link_speed: 0,
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
  // tap (virtio) and af_packet carriers follow admin state here; memif links come up only
  // when a peer connects (emulator.setLinkState).
  if (i.kind === 'tap' || i.kind === 'af_packet' || i.kind === 'loopback') i.linkUp = up;
  ctx.interfaceEvent(i);
}

let loopbacks = 0;

export const interfaceHandlers: Record<string, Handler> = {
  // Return codes as in VPP's interface_api.c / vnet ethernet (create_loopback, delete_loopback).
  create_loopback: (req, ctx) => {
    const given = req.mac_address && [...(req.mac_address as Uint8Array)].some((b) => b !== 0);
    const mac = given ? req.mac_address : Uint8Array.from([0xde, 0xad, 0, 0, ...randomBytes(2)]);
    const i = ctx.state.addInterface({ kind: 'loopback', name: `loop${loopbacks++}`, devType: 'Loopback', mac });
    return { sw_if_index: i.swIfIndex };
  },

  delete_loopback: (req, ctx) => {
    const i = ctx.state.interfaces.get(req.sw_if_index);
    if (!i || i.kind !== 'loopback') fail('INVALID_SW_IF_INDEX', `sw_if_index ${req.sw_if_index} is not a loopback`);
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
      if (have >= 0) fail('DUPLICATE_IF_ADDRESS', `${key} already on sw_if_index ${i.swIfIndex}`);
      const vrf = p.address.af === 1 ? i.table.ip6 : i.table.ip4;
      for (const o of ctx.state.interfaces.values()) {
        if (o === i || (p.address.af === 1 ? o.table.ip6 : o.table.ip4) !== vrf) continue;
        if (o.addresses.some((a) => prefixKey(a) === key)) fail('DUPLICATE_IF_ADDRESS', `${key} already on sw_if_index ${o.swIfIndex} in the same table`);
      }
      i.addresses.push(p);
    } else {
      if (have < 0) fail('ADDRESS_NOT_FOUND_FOR_INTERFACE', `${key} not on sw_if_index ${i.swIfIndex}`);
      i.addresses.splice(have, 1);
    }
    return {};
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

  sw_interface_set_unnumbered: (req, ctx) => {
    iface(ctx, req.sw_if_index);
    const u = iface(ctx, req.unnumbered_sw_if_index, 'INVALID_SW_IF_INDEX_2');
    u.unnumberedVia = req.is_add ? req.sw_if_index : null;
    return {};
  },
};
