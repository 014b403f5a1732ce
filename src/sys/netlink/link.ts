// rtnetlink links (RTM_*LINK): struct ifinfomsg, the IFLA_* attributes this package sets and reads,
// and the requests: create a veth pair or a VXLAN device, set a link up/down, move or rename it,
// delete it or a whole group, get one or dump all. The encodings match what iproute2's `ip link` sends for the same command.
import {
  NetlinkDecodeError, attrTable, concatBytes, cstring, decodeStruct, encodeAttrs, readString, readU32, readU8, u32, type NlAttr, type NlRequest,
} from './wire.js';
import { NL, STRUCTS, encodeStruct } from './layout.js';
import { formatIp, formatMac, ipv4Bytes, macBytes } from './inet.js';

const { IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_NET_NS_FD } = NL;

/** Which link a request is about: its index in the socket's namespace, or its name there. */
export type LinkRef = { index: number } | { name: string };

function header(ref: LinkRef | undefined, up?: boolean): Uint8Array {
  return encodeStruct('ifinfomsg', {
    ifi_index: ref && 'index' in ref ? ref.index : 0, ifi_flags: up ? NL.IFF_UP : 0, ifi_change: up === undefined ? 0 : NL.IFF_UP,
  });
}

const nameAttr = (ref: LinkRef | undefined): NlAttr[] => (ref && 'name' in ref ? [{ type: IFLA_IFNAME, value: ifname(ref.name) }] : []);

/** An interface name as the kernel takes it: 1..15 bytes, no '/', ':' or white space. */
export function ifname(name: string): Uint8Array {
  const b = cstring(name);
  if (b.length < 2 || b.length > 16 || /[/:\s]/.test(name) || name === '.' || name === '..') {
    throw new RangeError(`interface name ${JSON.stringify(name)}: must be 1 to 15 bytes without '/', ':' or white space`);
  }
  return b;
}

/** A link group as the kernel takes it: a u32; group 0 is every link's default, never deleted as a group (EPERM). */
export function linkGroup(g: number): number {
  if (!Number.isInteger(g) || g < 1 || g > 0xffffffff) throw new RangeError(`link group ${g}: must be an integer from 1 to 4294967295`);
  return g;
}

/** Settings of one end of a new link. */
export interface NewLinkEnd {
  name: string;
  mtu?: number;
  /** The MAC address ("xx:xx:xx:xx:xx:xx"); the kernel picks a random one without it. */
  address?: string;
  /** Created in the namespace this fd refers to instead of the socket's. */
  netnsFd?: number;
  /** Up at once. Not for a veth peer: it is opened before its other end exists (ENOTCONN). */
  up?: boolean;
  /** IFLA_GSO_MAX_SEGS: 1 makes the kernel segment what it sends out of the link itself. */
  gsoMaxSegs?: number;
  /** IFLA_GROUP: links of one group are deleted together (deleteLinkGroup). */
  group?: number;
}

function endAttrs(e: NewLinkEnd): NlAttr[] {
  return [
    ...(e.mtu !== undefined ? [{ type: IFLA_MTU, value: u32(e.mtu) }] : []),
    ...(e.netnsFd !== undefined ? [{ type: IFLA_NET_NS_FD, value: u32(e.netnsFd) }] : []),
    ...(e.address !== undefined ? [{ type: IFLA_ADDRESS, value: macBytes(e.address) }] : []),
    ...(e.gsoMaxSegs !== undefined ? [{ type: NL.IFLA_GSO_MAX_SEGS, value: u32(e.gsoMaxSegs) }] : []),
    ...(e.group !== undefined ? [{ type: NL.IFLA_GROUP, value: u32(linkGroup(e.group)) }] : []),
    { type: IFLA_IFNAME, value: ifname(e.name) },
  ];
}

/** `ip link add NAME type veth peer name PEER [netns NS]`: fails with EEXIST when a name is taken. */
export function createVeth(host: NewLinkEnd, peer: NewLinkEnd): NlRequest {
  if (peer.up) throw new Error(`veth peer ${peer.name}: set it up after the pair exists (the kernel opens it before its other end: ENOTCONN)`);
  return {
    type: NL.RTM_NEWLINK, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_EXCL, header: header(undefined, host.up),
    attrs: [
      ...endAttrs(host),
      {
        type: NL.IFLA_LINKINFO, value: [
          { type: NL.IFLA_INFO_KIND, value: new TextEncoder().encode('veth') },
          // VETH_INFO_PEER holds a struct ifinfomsg followed by the peer's attributes.
          { type: NL.IFLA_INFO_DATA, value: [{ type: NL.VETH_INFO_PEER, value: concatBytes(header(undefined), encodeAttrs(endAttrs(peer))) }] },
        ],
      },
    ],
  };
}

/** A VXLAN device with static forwarding entries only (learning off): what the node overlay uses. */
export interface NewVxlan {
  name: string;
  vni: number;
  /** UDP port the device sends to and listens on. */
  port: number;
  /** Source address of the encapsulated packets. */
  local: string;
  /** The underlay link (its index). */
  link?: number;
  /** The device's MAC address. */
  address: string;
  /** Without it the kernel takes the underlay's less 50 (1500 less 50 without one). */
  mtu?: number;
}

/**
 * `ip link add NAME address MAC [mtu M] type vxlan id VNI local IP [dev LINK] dstport PORT nolearning`:
 * fails with EEXIST when the name (or another device's VNI and port) is taken.
 */
export function createVxlan(v: NewVxlan): NlRequest {
  if (!Number.isInteger(v.vni) || v.vni < 1 || v.vni > 0xffffff) throw new RangeError(`VXLAN ${v.name}: VNI ${v.vni} must be an integer from 1 to 16777215`);
  if (!Number.isInteger(v.port) || v.port < 1 || v.port > 0xffff) throw new RangeError(`VXLAN ${v.name}: port ${v.port} must be an integer from 1 to 65535`);
  return {
    type: NL.RTM_NEWLINK, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_EXCL, header: header(undefined),
    attrs: [
      { type: IFLA_ADDRESS, value: macBytes(v.address) },
      ...(v.mtu !== undefined ? [{ type: IFLA_MTU, value: u32(v.mtu) }] : []),
      { type: IFLA_IFNAME, value: ifname(v.name) },
      {
        type: NL.IFLA_LINKINFO, value: [
          { type: NL.IFLA_INFO_KIND, value: new TextEncoder().encode('vxlan') },
          {
            type: NL.IFLA_INFO_DATA, value: [
              { type: NL.IFLA_VXLAN_ID, value: u32(v.vni) },
              ...(v.link !== undefined ? [{ type: NL.IFLA_VXLAN_LINK, value: u32(v.link) }] : []),
              { type: NL.IFLA_VXLAN_LOCAL, value: ipv4Bytes(v.local) },
              { type: NL.IFLA_VXLAN_LEARNING, value: Uint8Array.of(0) },
              // __be16, as iproute2 sends it (htons, without NLA_F_NET_BYTEORDER).
              { type: NL.IFLA_VXLAN_PORT, value: Uint8Array.of(v.port >> 8, v.port & 0xff) },
            ],
          },
        ],
      },
    ],
  };
}

/** What `ip link set` changes; the link is found by `ref` (an index when it is being renamed). */
export interface LinkChange {
  up?: boolean;
  mtu?: number;
  /** Moves the link into the namespace this fd refers to. */
  netnsFd?: number;
  /** New name (the link must be given by index). */
  name?: string;
  /** New MAC address. */
  address?: string;
}

export function setLink(ref: LinkRef, c: LinkChange): NlRequest {
  if (c.name !== undefined && !('index' in ref)) throw new Error(`renaming ${ref.name} to ${c.name}: give the link by index`);
  return {
    type: NL.RTM_NEWLINK, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK, header: header(ref, c.up),
    attrs: [
      ...nameAttr(ref),
      ...(c.mtu !== undefined ? [{ type: IFLA_MTU, value: u32(c.mtu) }] : []),
      ...(c.address !== undefined ? [{ type: IFLA_ADDRESS, value: macBytes(c.address) }] : []),
      ...(c.netnsFd !== undefined ? [{ type: IFLA_NET_NS_FD, value: u32(c.netnsFd) }] : []),
      ...(c.name !== undefined ? [{ type: IFLA_IFNAME, value: ifname(c.name) }] : []),
    ],
  };
}

export function deleteLink(ref: LinkRef): NlRequest {
  return { type: NL.RTM_DELLINK, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK, header: header(ref), attrs: nameAttr(ref) };
}

/**
 * `ip link del group G`: every link of the group in the socket's namespace, unregistered as one
 * batch (one set of RCU grace periods for all). ENODEV when the group has no link; EOPNOTSUPP
 * (nothing deleted) when one of them cannot be deleted (a physical device).
 */
export function deleteLinkGroup(group: number): NlRequest {
  return { type: NL.RTM_DELLINK, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK, header: header(undefined), attrs: [{ type: NL.IFLA_GROUP, value: u32(linkGroup(group)) }] };
}

const skipStats: NlAttr = { type: NL.IFLA_EXT_MASK, value: u32(NL.RTEXT_FILTER_SKIP_STATS) };

/** One link: the answer is an RTM_NEWLINK, or ENODEV. */
export function getLink(ref: LinkRef): NlRequest {
  return { type: NL.RTM_GETLINK, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK, header: header(ref), attrs: [...nameAttr(ref), skipStats] };
}

export function dumpLinks(): NlRequest {
  return { type: NL.RTM_GETLINK, flags: NL.NLM_F_REQUEST | NL.NLM_F_DUMP, header: header(undefined), attrs: [skipStats] };
}

/** An RTM_NEWLINK answer, decoded. */
export interface LinkMessage {
  index: number;
  name: string;
  /** IFF_* */
  flags: number;
  /** ARPHRD_* */
  type: number;
  mtu?: number;
  /** IF_OPER_* */
  operstate?: number;
  /** Link-layer address as "xx:xx:..". */
  address?: string;
  /** IFLA_INFO_KIND: veth, tun, ... */
  kind?: string;
  master?: number;
  /** IFLA_GROUP (0: the default group). */
  group?: number;
  /** A VXLAN device's settings (kind "vxlan"). */
  vxlan?: { vni: number; port: number; local?: string; link?: number; learning: boolean };
}

export function parseLink(payload: Uint8Array): LinkMessage {
  const h = decodeStruct(payload, 'ifinfomsg');
  const t = attrTable(payload, STRUCTS.ifinfomsg.size);
  const name = t.get(IFLA_IFNAME);
  if (!name) throw new NetlinkDecodeError(`RTM_NEWLINK for index ${h.ifi_index} has no IFLA_IFNAME`);
  const m: LinkMessage = { index: h.ifi_index, name: readString(name), flags: h.ifi_flags, type: h.ifi_type };
  const v = (k: number) => t.get(k);
  if (v(IFLA_MTU)) m.mtu = readU32(v(IFLA_MTU)!, 'IFLA_MTU');
  if (v(NL.IFLA_OPERSTATE)) m.operstate = readU8(v(NL.IFLA_OPERSTATE)!, 'IFLA_OPERSTATE');
  if (v(IFLA_ADDRESS)) m.address = formatMac(v(IFLA_ADDRESS)!);
  if (v(NL.IFLA_MASTER)) m.master = readU32(v(NL.IFLA_MASTER)!, 'IFLA_MASTER');
  if (v(NL.IFLA_GROUP)) m.group = readU32(v(NL.IFLA_GROUP)!, 'IFLA_GROUP');
  const info = v(NL.IFLA_LINKINFO);
  if (info) {
    const it = attrTable(info);
    const kind = it.get(NL.IFLA_INFO_KIND);
    if (kind) m.kind = readString(kind);
    const data = it.get(NL.IFLA_INFO_DATA);
    if (m.kind === 'vxlan' && data) m.vxlan = parseVxlan(data, h.ifi_index);
  }
  return m;
}

function parseVxlan(data: Uint8Array, index: number): NonNullable<LinkMessage['vxlan']> {
  const t = attrTable(data);
  const id = t.get(NL.IFLA_VXLAN_ID), port = t.get(NL.IFLA_VXLAN_PORT);
  if (!id || !port || port.length !== 2) throw new NetlinkDecodeError(`VXLAN link ${index}: no IFLA_VXLAN_ID or IFLA_VXLAN_PORT`);
  const local = t.get(NL.IFLA_VXLAN_LOCAL), link = t.get(NL.IFLA_VXLAN_LINK), learning = t.get(NL.IFLA_VXLAN_LEARNING);
  return {
    vni: readU32(id, 'IFLA_VXLAN_ID'), port: (port[0]! << 8) | port[1]!, learning: learning ? readU8(learning, 'IFLA_VXLAN_LEARNING') !== 0 : true,
    ...(local ? { local: formatIp(local) } : {}), ...(link ? { link: readU32(link, 'IFLA_VXLAN_LINK') } : {}),
  };
}

// The names `ip -j link` prints, so that what the agent reports reads like `ip` output.

/** IFF_* flags by name, in the order `ip` prints them. */
const FLAG_NAMES = (['LOOPBACK', 'BROADCAST', 'POINTOPOINT', 'MULTICAST', 'NOARP', 'ALLMULTI', 'PROMISC', 'MASTER', 'SLAVE', 'DEBUG', 'DYNAMIC',
  'AUTOMEDIA', 'PORTSEL', 'NOTRAILERS', 'UP', 'LOWER_UP', 'DORMANT', 'ECHO'] as const).map((n) => [NL[`IFF_${n}`], n] as const);

export function linkFlagNames(flags: number): string[] {
  const out: string[] = flags & NL.IFF_UP && !(flags & NL.IFF_RUNNING) ? ['NO-CARRIER'] : [];
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) out.push(name);
  return out;
}

const OPERSTATES = new Map<number, string>((['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const).map((n) => [NL[`IF_OPER_${n}`], n]));
export const operstateName = (s: number): string => OPERSTATES.get(s) ?? `${s}`;

const LINK_TYPES: Record<number, string> = {
  [NL.ARPHRD_ETHER]: 'ether', [NL.ARPHRD_LOOPBACK]: 'loopback', [NL.ARPHRD_NONE]: 'none', [NL.ARPHRD_VOID]: 'void',
  [NL.ARPHRD_SIT]: 'sit', [NL.ARPHRD_TUNNEL]: 'ipip', [NL.ARPHRD_IPGRE]: 'gre',
};
export const linkTypeName = (t: number): string => LINK_TYPES[t] ?? `[${t}]`;
