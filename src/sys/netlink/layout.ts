// The netlink and rtnetlink wire layouts, in one table: every struct this package writes or reads
// with each field's offset and type under the kernel's own names, and every number it uses
// (message types, flags, attribute types, scopes, states) under the kernel's name for it. Host byte
// order, which is little endian on every platform this package runs on (x86-64, aarch64), except
// the fields the kernel declares __be16/__be32 (network order: be16, be32).
// test/sys/netlink-wire.test.ts checks the whole table against the kernel's uapi headers.

/** A field: its offset and a scalar type, or a struct of this table laid out there. */
type Scalar = 'u8' | 'u16' | 's16' | 'u32' | 's32' | 'be16' | 'be32';
type Field = readonly [offset: number, type: Scalar | 'nlmsghdr'];
interface Layout { readonly size: number; readonly fields: Readonly<Record<string, Field>> }

export const STRUCTS = {
  // linux/netlink.h
  nlmsghdr: { size: 16, fields: { nlmsg_len: [0, 'u32'], nlmsg_type: [4, 'u16'], nlmsg_flags: [6, 'u16'], nlmsg_seq: [8, 'u32'], nlmsg_pid: [12, 'u32'] } },
  nlattr: { size: 4, fields: { nla_len: [0, 'u16'], nla_type: [2, 'u16'] } },
  /** The request's header follows `error` (all of the request without NETLINK_CAP_ACK), then the extended-ack TLVs. */
  nlmsgerr: { size: 20, fields: { error: [0, 's32'], msg: [4, 'nlmsghdr'] } },
  sockaddr_nl: { size: 12, fields: { nl_family: [0, 'u16'], nl_pid: [4, 'u32'], nl_groups: [8, 'u32'] } },
  // linux/rtnetlink.h
  ifinfomsg: { size: 16, fields: { ifi_family: [0, 'u8'], ifi_type: [2, 'u16'], ifi_index: [4, 's32'], ifi_flags: [8, 'u32'], ifi_change: [12, 'u32'] } },
  rtmsg: {
    size: 12,
    fields: {
      rtm_family: [0, 'u8'], rtm_dst_len: [1, 'u8'], rtm_src_len: [2, 'u8'], rtm_tos: [3, 'u8'],
      rtm_table: [4, 'u8'], rtm_protocol: [5, 'u8'], rtm_scope: [6, 'u8'], rtm_type: [7, 'u8'], rtm_flags: [8, 'u32'],
    },
  },
  // linux/fib_rules.h
  fib_rule_hdr: {
    size: 12,
    fields: { family: [0, 'u8'], dst_len: [1, 'u8'], src_len: [2, 'u8'], tos: [3, 'u8'], table: [4, 'u8'], action: [7, 'u8'], flags: [8, 'u32'] },
  },
  // linux/if_addr.h
  ifaddrmsg: { size: 8, fields: { ifa_family: [0, 'u8'], ifa_prefixlen: [1, 'u8'], ifa_flags: [2, 'u8'], ifa_scope: [3, 'u8'], ifa_index: [4, 'u32'] } },
  // linux/neighbour.h
  ndmsg: { size: 12, fields: { ndm_family: [0, 'u8'], ndm_ifindex: [4, 's32'], ndm_state: [8, 'u16'], ndm_flags: [10, 'u8'], ndm_type: [11, 'u8'] } },
  // linux/rtnetlink.h: traffic control (qdiscs, filters)
  tcmsg: { size: 20, fields: { tcm_family: [0, 'u8'], tcm_ifindex: [4, 's32'], tcm_handle: [8, 'u32'], tcm_parent: [12, 'u32'], tcm_info: [16, 'u32'] } },
  // linux/pkt_cls.h: the u32 classifier's selector, followed by its nkeys keys
  tc_u32_sel: {
    size: 16,
    fields: {
      flags: [0, 'u8'], offshift: [1, 'u8'], nkeys: [2, 'u8'], offmask: [4, 'be16'], off: [6, 'u16'], offoff: [8, 's16'], hoff: [10, 's16'], hmask: [12, 'be32'],
    },
  },
  tc_u32_key: { size: 16, fields: { mask: [0, 'be32'], val: [4, 'be32'], off: [8, 's32'], offmask: [12, 's32'] } },
  // linux/tc_act/tc_mirred.h (its first five fields are pkt_cls.h's tc_gen)
  tc_mirred: {
    size: 28,
    fields: { index: [0, 'u32'], capab: [4, 'u32'], action: [8, 's32'], refcnt: [12, 's32'], bindcnt: [16, 's32'], eaction: [20, 's32'], ifindex: [24, 'u32'] },
  },
} as const satisfies Record<string, Layout>;

export type StructName = keyof typeof STRUCTS;
type Fields<N extends StructName> = (typeof STRUCTS)[N]['fields'];
/** A struct's value: every field by its kernel name (a nested struct as its own value). */
export type Struct<N extends StructName> = {
  -readonly [F in keyof Fields<N>]: Fields<N>[F] extends readonly [number, infer T] ? (T extends StructName ? Struct<T> : number) : never;
};

/** The numbers, each under the kernel's name (the header it comes from in the comment). */
export const NL = {
  // linux/netlink.h: message types, flags, extended ack
  NLMSG_NOOP: 1, NLMSG_ERROR: 2, NLMSG_DONE: 3, NLMSG_OVERRUN: 4,
  NLM_F_REQUEST: 0x1, NLM_F_MULTI: 0x2, NLM_F_ACK: 0x4, NLM_F_DUMP_INTR: 0x10,
  NLM_F_ROOT: 0x100, NLM_F_MATCH: 0x200, NLM_F_DUMP: 0x300,
  NLM_F_REPLACE: 0x100, NLM_F_EXCL: 0x200, NLM_F_CREATE: 0x400,
  NLM_F_CAPPED: 0x100, NLM_F_ACK_TLVS: 0x200,
  NLMSGERR_ATTR_MSG: 1, NLMSGERR_ATTR_OFFS: 2,
  NLA_F_NESTED: 0x8000, NLA_F_NET_BYTEORDER: 0x4000, NLA_TYPE_MASK: 0x3fff,
  NETLINK_ROUTE: 0, NETLINK_CAP_ACK: 10, NETLINK_EXT_ACK: 11,
  // linux/rtnetlink.h: multicast groups (NETLINK_ADD_MEMBERSHIP)
  RTNLGRP_LINK: 1,
  // linux/rtnetlink.h: message types
  RTM_NEWLINK: 16, RTM_DELLINK: 17, RTM_GETLINK: 18,
  RTM_NEWADDR: 20, RTM_DELADDR: 21, RTM_GETADDR: 22,
  RTM_NEWROUTE: 24, RTM_DELROUTE: 25, RTM_GETROUTE: 26,
  RTM_NEWNEIGH: 28, RTM_DELNEIGH: 29, RTM_GETNEIGH: 30,
  RTM_NEWRULE: 32, RTM_DELRULE: 33, RTM_GETRULE: 34,
  // linux/rtnetlink.h: routes
  RTA_DST: 1, RTA_OIF: 4, RTA_GATEWAY: 5, RTA_PRIORITY: 6, RTA_PREFSRC: 7, RTA_TABLE: 15,
  RT_TABLE_UNSPEC: 0, RT_TABLE_DEFAULT: 253, RT_TABLE_MAIN: 254, RT_TABLE_LOCAL: 255, RTPROT_UNSPEC: 0, RTPROT_BOOT: 3,
  RTN_UNSPEC: 0, RTN_UNICAST: 1, RTN_LOCAL: 2, RTN_BROADCAST: 3, RTN_ANYCAST: 4, RTN_MULTICAST: 5, RTN_BLACKHOLE: 6,
  RTN_UNREACHABLE: 7, RTN_PROHIBIT: 8, RTN_THROW: 9, RTN_NAT: 10,
  RT_SCOPE_UNIVERSE: 0, RT_SCOPE_SITE: 200, RT_SCOPE_LINK: 253, RT_SCOPE_HOST: 254, RT_SCOPE_NOWHERE: 255,
  RTNH_F_DEAD: 1, RTNH_F_PERVASIVE: 2, RTNH_F_ONLINK: 4, RTNH_F_LINKDOWN: 16,
  RTEXT_FILTER_SKIP_STATS: 1 << 3,
  RTM_NEWQDISC: 36, RTM_DELQDISC: 37, RTM_GETQDISC: 38,
  RTM_NEWTFILTER: 44, RTM_DELTFILTER: 45, RTM_GETTFILTER: 46,
  // linux/fib_rules.h: policy routing rules
  FRA_DST: 1, FRA_SRC: 2, FRA_PRIORITY: 6, FRA_TABLE: 15, FR_ACT_TO_TBL: 1,
  // linux/if_link.h: links
  IFLA_ADDRESS: 1, IFLA_IFNAME: 3, IFLA_MTU: 4, IFLA_MASTER: 10, IFLA_OPERSTATE: 16, IFLA_LINKINFO: 18,
  IFLA_GROUP: 27, IFLA_NET_NS_FD: 28, IFLA_EXT_MASK: 29, IFLA_GSO_MAX_SEGS: 40,
  IFLA_INFO_KIND: 1, IFLA_INFO_DATA: 2,
  // linux/veth.h
  VETH_INFO_PEER: 1,
  // linux/if_link.h: VXLAN links (IFLA_INFO_DATA of kind "vxlan")
  IFLA_VXLAN_ID: 1, IFLA_VXLAN_LINK: 3, IFLA_VXLAN_LOCAL: 4, IFLA_VXLAN_LEARNING: 7, IFLA_VXLAN_PORT: 15,
  // linux/if.h: link flags and operational states
  IFF_UP: 0x1, IFF_BROADCAST: 0x2, IFF_DEBUG: 0x4, IFF_LOOPBACK: 0x8, IFF_POINTOPOINT: 0x10, IFF_NOTRAILERS: 0x20,
  IFF_RUNNING: 0x40, IFF_NOARP: 0x80, IFF_PROMISC: 0x100, IFF_ALLMULTI: 0x200, IFF_MASTER: 0x400, IFF_SLAVE: 0x800,
  IFF_MULTICAST: 0x1000, IFF_PORTSEL: 0x2000, IFF_AUTOMEDIA: 0x4000, IFF_DYNAMIC: 0x8000,
  IFF_LOWER_UP: 0x10000, IFF_DORMANT: 0x20000, IFF_ECHO: 0x40000,
  IF_OPER_UNKNOWN: 0, IF_OPER_NOTPRESENT: 1, IF_OPER_DOWN: 2, IF_OPER_LOWERLAYERDOWN: 3, IF_OPER_TESTING: 4, IF_OPER_DORMANT: 5, IF_OPER_UP: 6,
  // linux/if_arp.h: link types
  ARPHRD_ETHER: 1, ARPHRD_TUNNEL: 768, ARPHRD_SIT: 776, ARPHRD_IPGRE: 778, ARPHRD_LOOPBACK: 772, ARPHRD_NONE: 0xfffe, ARPHRD_VOID: 0xffff,
  // linux/if_addr.h: addresses
  IFA_ADDRESS: 1, IFA_LOCAL: 2, IFA_LABEL: 3, IFA_FLAGS: 8,
  // linux/neighbour.h: neighbours
  NDA_DST: 1, NDA_LLADDR: 2, NUD_NOARP: 0x40, NUD_PERMANENT: 0x80, NTF_SELF: 0x02,
  // linux/socket.h
  AF_INET: 2, AF_BRIDGE: 7, AF_INET6: 10,
  // linux/if_ether.h
  ETH_P_ALL: 0x0003,
  // linux/rtnetlink.h and linux/pkt_sched.h: traffic control attributes and handles (major:minor, 16 bits each)
  TCA_KIND: 1, TCA_OPTIONS: 2,
  TC_H_CLSACT: 0xfffffff1, TC_H_MIN_INGRESS: 0xfff2, TC_H_MAJ_MASK: 0xffff0000,
  // linux/pkt_cls.h: the u32 classifier and actions
  TCA_U32_SEL: 5, TCA_U32_ACT: 7, TC_U32_TERMINAL: 1,
  TCA_ACT_KIND: 1, TCA_ACT_OPTIONS: 2, TC_ACT_STOLEN: 4,
  // linux/tc_act/tc_mirred.h
  TCA_MIRRED_PARMS: 2, TCA_EGRESS_REDIR: 1,
} as const;

const SIZES: Record<Scalar, number> = { u8: 1, u16: 2, s16: 2, u32: 4, s32: 4, be16: 2, be32: 4 };

/** The bytes of one field (a nested struct: its size). */
export function fieldSize(t: Field[1]): number {
  return t === 'nlmsghdr' ? STRUCTS.nlmsghdr.size : SIZES[t];
}

/** Writes `v` (fields left out are zero, as in a zeroed C struct) at `off`. */
export function writeStruct<N extends StructName>(dv: DataView, off: number, name: N, v: Partial<Struct<N>>): void {
  const fields: Readonly<Record<string, Field>> = STRUCTS[name].fields;
  for (const [f, [at, t]] of Object.entries(fields)) {
    const x = (v as Record<string, unknown>)[f];
    if (t === 'nlmsghdr') { writeStruct(dv, off + at, t, (x ?? {}) as Partial<Struct<'nlmsghdr'>>); continue; }
    const n = (x ?? 0) as number;
    switch (t) {
      case 'u8': dv.setUint8(off + at, n); break;
      case 'u16': dv.setUint16(off + at, n, true); break;
      case 's16': dv.setInt16(off + at, n, true); break;
      case 'u32': dv.setUint32(off + at, n >>> 0, true); break;
      case 's32': dv.setInt32(off + at, n, true); break;
      case 'be16': dv.setUint16(off + at, n, false); break;
      case 'be32': dv.setUint32(off + at, n >>> 0, false); break;
      default: { const never: never = t; throw new Error(`field type ${String(never)}`); }
    }
  }
}

export function encodeStruct<N extends StructName>(name: N, v: Partial<Struct<N>>): Uint8Array {
  const b = new Uint8Array(STRUCTS[name].size);
  writeStruct(new DataView(b.buffer), 0, name, v);
  return b;
}

/** The struct at `off` of `dv`; the caller has checked that it fits. */
export function readStruct<N extends StructName>(dv: DataView, off: number, name: N): Struct<N> {
  const out: Record<string, unknown> = {};
  const fields: Readonly<Record<string, Field>> = STRUCTS[name].fields;
  for (const [f, [at, t]] of Object.entries(fields)) {
    switch (t) {
      case 'u8': out[f] = dv.getUint8(off + at); break;
      case 'u16': out[f] = dv.getUint16(off + at, true); break;
      case 's16': out[f] = dv.getInt16(off + at, true); break;
      case 'u32': out[f] = dv.getUint32(off + at, true); break;
      case 's32': out[f] = dv.getInt32(off + at, true); break;
      case 'be16': out[f] = dv.getUint16(off + at, false); break;
      case 'be32': out[f] = dv.getUint32(off + at, false); break;
      case 'nlmsghdr': out[f] = readStruct(dv, off + at, t); break;
      default: { const never: never = t; throw new Error(`field type ${String(never)}`); }
    }
  }
  return out as Struct<N>;
}
