// TEST DOUBLE handlers: IP tables/routes, bridge domains, L2 bridging.
//  ip_table_add_del: create is idempotent, delete of an absent table is a no-op (rv 0), table 0 stays.
//  ip_route_add_del: table must exist → else NO_SUCH_FIB; deleting an absent route is rv 0 like
//  fib_table_entry_path_remove; paths are stored, not validated. ip_route_dump lists a table's routes
//  with the paths as given.
//  bridge_domain_add_del (l2_bd.c bd_add_del): add existing → BD_ALREADY_EXISTS; id > 16M-1 →
//  BD_ID_EXCEED_MAX; delete bd 0 → BD_NOT_MODIFIABLE, absent → NO_SUCH_ENTRY, with members → BD_IN_USE.
//  _v2 with bd_id ~0 allocates an unused id as bd_get_unused_id does (a random walk from a static
//  seed, 7271263 first) and returns it.
//  sw_interface_set_l2_bridge: unknown rx interface → INVALID_SW_IF_INDEX; the BD is created on
//  demand (bd_find_or_add_bd_index); a second BVI → BD_ALREADY_HAS_BVI.
import type { Handler, HandlerContext, Value } from '../handler.js';
import { fail, iface, unusedId } from '../handler.js';
import { prefixKey } from './interface.js';
import type { BridgeDomain } from '../state.js';

const L2_BD_ID_MAX = (1 << 24) - 1;

function newBd(bdId: number, req: Value): BridgeDomain {
  return {
    bdId, flood: !!req.flood, uuFlood: !!req.uu_flood, forward: !!req.forward, learn: !!req.learn,
    arpTerm: !!req.arp_term, arpUfwd: !!req.arp_ufwd, macAge: req.mac_age ?? 0, tag: String(req.bd_tag ?? ''),
  };
}

function bdAddDel(ctx: HandlerContext, bdId: number, req: Value): void {
  const bds = ctx.state.bridgeDomains;
  if (req.is_add) {
    if (bds.has(bdId)) fail('BD_ALREADY_EXISTS', `bridge domain ${bdId} exists`);
    if (bdId > L2_BD_ID_MAX) fail('BD_ID_EXCEED_MAX', `bridge domain ${bdId} > ${L2_BD_ID_MAX}`);
    bds.set(bdId, newBd(bdId, req));
    return;
  }
  if (bdId === 0) fail('BD_NOT_MODIFIABLE', 'bridge domain 0');
  if (!bds.has(bdId)) fail('NO_SUCH_ENTRY', `bridge domain ${bdId} does not exist`);
  if (ctx.state.bdMembers(bdId).length) fail('BD_IN_USE', `bridge domain ${bdId} has members`);
  bds.delete(bdId);
}

export const ipL2Handlers: Record<string, Handler> = {
  ip_table_add_del: (req, ctx) => {
    const t = req.table;
    const key = `${t.is_ip6 ? 6 : 4}:${t.table_id >>> 0}`;
    if (req.is_add) {
      if (!ctx.state.ipTables.has(key)) ctx.state.ipTables.set(key, { tableId: t.table_id >>> 0, isIp6: !!t.is_ip6, name: String(t.name ?? '') });
    } else if (t.table_id !== 0) {
      ctx.state.ipTables.delete(key);
      for (const [k, r] of ctx.state.routes) if (r.tableId === t.table_id && r.isIp6 === !!t.is_ip6) ctx.state.routes.delete(k);
    }
    return {};
  },

  ip_route_add_del: (req, ctx) => {
    const r = req.route;
    const isIp6 = r.prefix.address.af === 1;
    const tableId = r.table_id >>> 0;
    if (!ctx.state.ipTables.has(`${isIp6 ? 6 : 4}:${tableId}`)) fail('NO_SUCH_FIB', `ip${isIp6 ? 6 : 4} table ${tableId} does not exist`);
    const key = `${isIp6 ? 6 : 4}:${tableId}:${prefixKey(r.prefix)}`;
    const have = ctx.state.routes.get(key);
    if (req.is_add) {
      if (have && req.is_multipath) have.paths.push(...r.paths);
      else ctx.state.routes.set(key, { tableId, isIp6, prefix: r.prefix, paths: [...r.paths] });
    } else if (have) {
      ctx.state.routes.delete(key);
    }
    return { stats_index: 0 };
  },

  ip_route_dump: (req, ctx) => {
    const t = req.table;
    for (const r of ctx.state.routes.values()) {
      if (r.tableId !== t.table_id >>> 0 || r.isIp6 !== !!t.is_ip6) continue;
      ctx.details('ip_route_details', { route: { table_id: r.tableId, stats_index: 0, prefix: r.prefix, n_paths: r.paths.length, paths: r.paths } });
    }
    return undefined;
  },

  bridge_domain_add_del: (req, ctx) => {
    bdAddDel(ctx, req.bd_id >>> 0, req);
    return {};
  },

  bridge_domain_add_del_v2: (req, ctx) => {
    let bdId = req.bd_id >>> 0;
    if (req.is_add && bdId === 0xffffffff) bdId = unusedId(ctx, 'bridgeDomain', L2_BD_ID_MAX, 0, (id) => ctx.state.bridgeDomains.has(id));
    bdAddDel(ctx, bdId, req);
    return { bd_id: bdId };
  },

  sw_interface_set_l2_bridge: (req, ctx) => {
    const i = iface(ctx, req.rx_sw_if_index);
    if (req.port_type > 2) fail('INVALID_VALUE', `port_type ${req.port_type}`);
    if (!req.enable) {
      i.l2 = null;
      return {};
    }
    const bdId = req.bd_id >>> 0;
    if (bdId > L2_BD_ID_MAX) fail('BD_ID_EXCEED_MAX', `bridge domain ${bdId}`);
    if (!ctx.state.bridgeDomains.has(bdId)) ctx.state.bridgeDomains.set(bdId, newBd(bdId, { flood: 1, uu_flood: 1, forward: 1, learn: 1 }));
    if (req.port_type === 1 && ctx.state.bdMembers(bdId).some((m) => m !== i && m.l2?.portType === 1)) {
      fail('BD_ALREADY_HAS_BVI', `bridge domain ${bdId} already has a BVI`);
    }
    i.l2 = { bdId, portType: req.port_type, shg: req.shg };
    return {};
  },
};
