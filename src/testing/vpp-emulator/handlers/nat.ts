// TEST DOUBLE handlers: nat44-ed, only what the CNI uses for service endpoints.
// Codes chosen from VPP's nat44_ed plugin behaviour as far as checked; see docs/vppapi-client.md:
//  enable twice → FEATURE_ALREADY_ENABLED, disable when off → FEATURE_ALREADY_DISABLED,
//  static mappings and output interfaces with the plugin off → UNSUPPORTED (nat44_ed.c),
//  duplicate → VALUE_EXIST, delete absent → NO_SUCH_ENTRY.
//  nat44_ed_output_interface_get is a cursor stream (REPLY_AND_DETAILS_MACRO): at most
//  streamPageSize details, then EAGAIN with the cursor to continue from.
import type { Handler, Value } from '../handler.js';
import { E, fail, iface } from '../handler.js';

function mappingKey(req: Value): string {
  const ip = (b: Uint8Array) => [...b].join('.');
  return `${ip(req.external_ip_address)}:${req.external_port}/${req.protocol}@${req.vrf_id >>> 0}/${req.external_sw_if_index >>> 0}`;
}

export const natHandlers: Record<string, Handler> = {
  nat44_ed_plugin_enable_disable: (req, ctx) => {
    if (req.enable) {
      if (ctx.state.nat.enabled) fail('FEATURE_ALREADY_ENABLED', 'nat44-ed already enabled');
      ctx.state.nat.enabled = true;
    } else {
      if (!ctx.state.nat.enabled) fail('FEATURE_ALREADY_DISABLED', 'nat44-ed not enabled');
      ctx.state.nat.enabled = false;
      ctx.state.nat.staticMappings.clear();
      ctx.state.nat.outputInterfaces = [];
    }
    return {};
  },

  nat44_add_del_static_mapping_v2: (req, ctx) => {
    if (!ctx.state.nat.enabled) fail('UNSUPPORTED', 'nat44-ed plugin disabled');
    const key = mappingKey(req);
    const m = ctx.state.nat.staticMappings;
    if (req.is_add) {
      if (m.has(key)) fail('VALUE_EXIST', `static mapping ${key} exists`);
      m.set(key, { key, request: { ...req } });
    } else {
      if (!m.has(key)) fail('NO_SUCH_ENTRY', `static mapping ${key} does not exist`);
      m.delete(key);
    }
    return {};
  },

  nat44_ed_add_del_output_interface: (req, ctx) => {
    if (!ctx.state.nat.enabled) fail('UNSUPPORTED', 'nat44-ed plugin disabled');
    iface(ctx, req.sw_if_index);
    const list = ctx.state.nat.outputInterfaces;
    const at = list.indexOf(req.sw_if_index);
    if (req.is_add) {
      if (at >= 0) fail('VALUE_EXIST', `output interface ${req.sw_if_index} exists`);
      list.push(req.sw_if_index);
    } else {
      if (at < 0) fail('NO_SUCH_ENTRY', `output interface ${req.sw_if_index} not configured`);
      list.splice(at, 1);
    }
    return {};
  },

  nat44_ed_output_interface_get: (req, ctx) => {
    const list = ctx.state.nat.outputInterfaces;
    const start = req.cursor >>> 0;
    const end = Math.min(list.length, start + ctx.streamPageSize);
    for (let k = start; k < end; k++) ctx.details('nat44_ed_output_interface_details', { sw_if_index: list[k] });
    if (end < list.length) return { retval: E('EAGAIN'), cursor: end };
    return { cursor: 0xffffffff };
  },
};
