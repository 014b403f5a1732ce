// rtnetlink routes (RTM_*ROUTE): adding and deleting an IPv4 unicast route of the main table the
// way `ip route add|replace|del` does (protocol boot unless told; scope link when there is no
// gateway), and dumping them.
import { attrTable, decodeStruct, readU32, u32, type NlAttr, type NlRequest } from './wire.js';
import { NL, STRUCTS, encodeStruct } from './layout.js';
import { formatIp, ipv4Bytes, ipv4Prefix } from './inet.js';

export const RT_SCOPE = {
  universe: NL.RT_SCOPE_UNIVERSE, site: NL.RT_SCOPE_SITE, link: NL.RT_SCOPE_LINK, host: NL.RT_SCOPE_HOST, nowhere: NL.RT_SCOPE_NOWHERE,
} as const;
export type RouteScope = keyof typeof RT_SCOPE;
/** A scope as `ip` prints it (universe is "global"). */
export function scopeName(s: number): string {
  for (const [k, v] of Object.entries(RT_SCOPE)) if (v === s) return k === 'universe' ? 'global' : k;
  return String(s);
}

const TYPES = new Map<number, string>((['LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE', 'UNREACHABLE', 'PROHIBIT', 'THROW', 'NAT'] as const)
  .map((n) => [NL[`RTN_${n}`], n.toLowerCase()]));
/** A route type as `ip` prints it; undefined for unicast, which it leaves out. */
export const routeTypeName = (t: number): string | undefined => (t === NL.RTN_UNICAST ? undefined : TYPES.get(t) ?? String(t));

const NH_FLAGS = (['DEAD', 'PERVASIVE', 'ONLINK', 'LINKDOWN'] as const).map((n) => [NL[`RTNH_F_${n}`], n.toLowerCase()] as const);
/** RTNH_F_* flags as `ip` prints them. */
export const routeFlagNames = (flags: number): string[] => NH_FLAGS.filter(([bit]) => flags & bit).map(([, n]) => n);

export interface NewRoute {
  /** "a.b.c.d/len", a bare address (/32) or "default". */
  dst: string;
  via?: string;
  /** Output interface index (absent: the kernel picks the interface the gateway is on). */
  oif?: number;
  /** RTPROT_* or a number of one's own, which marks the route as someone's (default: boot). */
  protocol?: number;
  /** The source address for packets the host itself sends on the route. */
  prefsrc?: string;
  /** Default: link without a gateway, universe with one (as `ip route add`). */
  scope?: RouteScope;
  onlink?: boolean;
  /** The routing table (default: main). */
  table?: number;
}

/** What a delete matches on besides the destination: a field left out matches anything. */
export type RouteMatch = Omit<NewRoute, 'scope' | 'onlink' | 'prefsrc'>;

function route(type: number, flags: number, r: NewRoute, del = false): NlRequest {
  const { addr, len } = ipv4Prefix(r.dst);
  const attrs: NlAttr[] = [];
  if (len > 0) attrs.push({ type: NL.RTA_DST, value: addr });
  if (r.via !== undefined) attrs.push({ type: NL.RTA_GATEWAY, value: ipv4Bytes(r.via) });
  if (r.prefsrc !== undefined) attrs.push({ type: NL.RTA_PREFSRC, value: ipv4Bytes(r.prefsrc) });
  // As `ip route` does: the table in the header when it fits 8 bits, else as RTA_TABLE.
  const table = r.table ?? NL.RT_TABLE_MAIN;
  if (table >= 256) attrs.push({ type: NL.RTA_TABLE, value: u32(table) });
  if (r.oif !== undefined) attrs.push({ type: NL.RTA_OIF, value: u32(r.oif) });
  return {
    type, flags,
    header: encodeStruct('rtmsg', {
      // A delete as `ip route del` sends it: any protocol, type and scope unless given.
      rtm_family: NL.AF_INET, rtm_dst_len: len, rtm_table: table < 256 ? table : NL.RT_TABLE_UNSPEC,
      rtm_protocol: r.protocol ?? (del ? NL.RTPROT_UNSPEC : NL.RTPROT_BOOT),
      rtm_scope: del ? RT_SCOPE.nowhere : RT_SCOPE[r.scope ?? (r.via === undefined ? 'link' : 'universe')],
      rtm_type: del ? NL.RTN_UNSPEC : NL.RTN_UNICAST, rtm_flags: r.onlink ? NL.RTNH_F_ONLINK : 0,
    }),
    attrs,
  };
}

/** `ip route add DST [via GW] dev OIF [scope S] [onlink]`: EEXIST when the route is there. */
export function addRoute(r: NewRoute): NlRequest {
  return route(NL.RTM_NEWROUTE, NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_EXCL, r);
}

/** `ip route replace DST [via GW] [dev OIF] [src S] [proto P]`: the route, whether it was there or not. */
export function replaceRoute(r: NewRoute): NlRequest {
  return route(NL.RTM_NEWROUTE, NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_REPLACE, r);
}

/**
 * `ip route del DST [via GW] [dev OIF] [proto P] [table T]`: the route to DST that matches what is
 * given (`proto P` alone: the one of that protocol, whatever its next hop); ESRCH when there is none.
 */
export function deleteRoute(r: RouteMatch): NlRequest {
  return route(NL.RTM_DELROUTE, NL.NLM_F_REQUEST | NL.NLM_F_ACK, r, true);
}

export function dumpRoutes(family: number = NL.AF_INET): NlRequest {
  return { type: NL.RTM_GETROUTE, flags: NL.NLM_F_REQUEST | NL.NLM_F_DUMP, header: encodeStruct('rtmsg', { rtm_family: family }), attrs: [] };
}

export interface RouteMessage {
  family: number;
  dstLen: number;
  /** RTA_TABLE when present (tables above 255), else the header's. */
  table: number;
  protocol: number;
  scope: number;
  /** RTN_* */
  type: number;
  /** RTNH_F_* */
  flags: number;
  dst?: string;
  gateway?: string;
  oif?: number;
  prefsrc?: string;
  priority?: number;
}

export function parseRoute(payload: Uint8Array): RouteMessage {
  const h = decodeStruct(payload, 'rtmsg');
  const t = attrTable(payload, STRUCTS.rtmsg.size);
  const m: RouteMessage = { family: h.rtm_family, dstLen: h.rtm_dst_len, table: h.rtm_table, protocol: h.rtm_protocol, scope: h.rtm_scope, type: h.rtm_type, flags: h.rtm_flags };
  const v = (k: number) => t.get(k);
  if (v(NL.RTA_TABLE)) m.table = readU32(v(NL.RTA_TABLE)!, 'RTA_TABLE');
  if (v(NL.RTA_DST)) m.dst = formatIp(v(NL.RTA_DST)!);
  if (v(NL.RTA_GATEWAY)) m.gateway = formatIp(v(NL.RTA_GATEWAY)!);
  if (v(NL.RTA_OIF)) m.oif = readU32(v(NL.RTA_OIF)!, 'RTA_OIF');
  if (v(NL.RTA_PREFSRC)) m.prefsrc = formatIp(v(NL.RTA_PREFSRC)!);
  if (v(NL.RTA_PRIORITY)) m.priority = readU32(v(NL.RTA_PRIORITY)!, 'RTA_PRIORITY');
  return m;
}
