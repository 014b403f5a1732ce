// TEST DOUBLE handlers: the cnat plugin (service NAT), what the CNI's service proxy uses. Behaviour
// as in VPP's plugins/cnat (cnat_api.c, cnat_translation.c, cnat_snat_policy.c):
//  cnat_translation_update: one translation per (vip, port, proto): an update of an existing one
//    keeps its id (pool index), its lb_type and its flow hash (cnat_translation_update sets them
//    only at creation; test:vpp's parity script saw it); n_paths 0 is refused here (VPP would
//    vec_validate index ~0).
//  cnat_translation_del: an unknown id → NO_SUCH_ENTRY.
//  cnat_translation_dump: vip, id, ip_proto, lb_type and paths; no flags, is_real_ip or flow hash.
//  cnat_set_snat_addresses_v2: creates or updates VRF 0's policy entry (flags only on creation);
//    all-zero addresses and no interface delete it, absent → FEATURE_DISABLED.
//  cnat_set_snat_policy / cnat_snat_policy_add_del_if without an entry → FEATURE_DISABLED;
//    add_del_if validates sw_if_index first; a table beyond HOST → INVALID_VALUE.
//  feature_cnat_enable_disable: validates sw_if_index; enabling twice is fine.
import type { Handler, Value } from '../handler.js';
import { fail, iface } from '../handler.js';

const key = (t: Value) => `${[...(t.vip.addr.un.ip4 ?? t.vip.addr.un.ip6 ?? [])].join('.')}:${t.vip.port}/${t.ip_proto}`;

export const cnatHandlers: Record<string, Handler> = {
  cnat_translation_update: (req, ctx) => {
    const t = req.translation;
    if (!t.paths?.length) fail('INVALID_VALUE', 'cnat translation without paths (VPP would index path ~0)');
    const m = ctx.state.cnat.translations;
    let id = [...m].find(([, x]) => key(x) === key(t))?.[0];
    if (id === undefined) { id = 0; while (m.has(id)) id++; }
    const had = m.get(id);
    m.set(id, { ...t, id, ...(had ? { lb_type: had.lb_type, flow_hash_config: had.flow_hash_config } : {}) });
    return { id };
  },

  cnat_translation_del: (req, ctx) => {
    if (!ctx.state.cnat.translations.delete(req.id >>> 0)) fail('NO_SUCH_ENTRY', `cnat translation ${req.id} does not exist`);
    return {};
  },

  cnat_translation_dump: (_req, ctx) => {
    for (const [id, t] of [...ctx.state.cnat.translations].sort((a, b) => a[0] - b[0])) {
      ctx.details('cnat_translation_details', {
        translation: { vip: t.vip, id, ip_proto: t.ip_proto, is_real_ip: 0, flags: 0, lb_type: t.lb_type, n_paths: t.paths.length, flow_hash_config: 0, paths: t.paths },
      });
    }
    return undefined;
  },

  cnat_set_snat_addresses_v2: (req, ctx) => {
    const c = ctx.state.cnat;
    const ip4 = req.snat_ip4 as Uint8Array, ip6 = req.snat_ip6 as Uint8Array;
    if (ip4.every((b) => b === 0) && ip6.every((b) => b === 0) && req.sw_if_index >>> 0 === 0xffffffff) {
      if (!c.snat) fail('FEATURE_DISABLED', 'no snat policy for fib 0');
      c.snat = null;
      return {};
    }
    if (c.snat) c.snat.ip4 = ip4;
    else c.snat = { ip4, flags: req.flags, policy: 0, tables: new Map() };
    return {};
  },

  cnat_set_snat_policy: (req, ctx) => {
    if (!ctx.state.cnat.snat) fail('FEATURE_DISABLED', 'no snat policy for fib 0');
    ctx.state.cnat.snat.policy = req.policy;
    return {};
  },

  cnat_snat_policy_add_del_if: (req, ctx) => {
    iface(ctx, req.sw_if_index);
    const snat = ctx.state.cnat.snat;
    if (req.table > 3) fail('INVALID_VALUE', `snat policy table ${req.table}`);
    if (!snat) fail('FEATURE_DISABLED', 'no snat policy for fib 0');
    const set = snat.tables.get(req.table) ?? new Set<number>();
    if (req.is_add) set.add(req.sw_if_index); else set.delete(req.sw_if_index);
    snat.tables.set(req.table, set);
    return {};
  },

  // VPP adds the features once per enable (vnet_config_add_feature keeps duplicates) and removes
  // one per disable; a disable with none left does nothing.
  feature_cnat_enable_disable: (req, ctx) => {
    iface(ctx, req.sw_if_index);
    const ifs = ctx.state.cnat.featureIfs, n = (ifs.get(req.sw_if_index) ?? 0) + (req.enable_disable ? 1 : -1);
    if (n > 0) ifs.set(req.sw_if_index, n); else ifs.delete(req.sw_if_index);
    return {};
  },
};
