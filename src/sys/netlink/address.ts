// rtnetlink addresses (RTM_*ADDR): adding and deleting an IPv4 address the way `ip addr add|del`
// does (IFA_LOCAL and IFA_ADDRESS both the address), and dumping them.
import { attrTable, decodeStruct, readString, readU32, type NlRequest } from './wire.js';
import { NL, STRUCTS, encodeStruct } from './layout.js';
import { formatIp, ipv4Prefix } from './inet.js';

function address(type: number, flags: number, index: number, cidr: string): NlRequest {
  const { addr, len } = ipv4Prefix(cidr);
  return {
    type, flags,
    header: encodeStruct('ifaddrmsg', { ifa_family: NL.AF_INET, ifa_prefixlen: len, ifa_index: index }),
    attrs: [{ type: NL.IFA_LOCAL, value: addr }, { type: NL.IFA_ADDRESS, value: addr }],
  };
}

/** `ip addr add CIDR dev INDEX`: EEXIST when the link has it already. */
export function addAddress(index: number, cidr: string): NlRequest {
  return address(NL.RTM_NEWADDR, NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_EXCL, index, cidr);
}

/** `ip addr del CIDR dev INDEX`: EADDRNOTAVAIL when the link does not have it. */
export function deleteAddress(index: number, cidr: string): NlRequest {
  return address(NL.RTM_DELADDR, NL.NLM_F_REQUEST | NL.NLM_F_ACK, index, cidr);
}

export function dumpAddresses(): NlRequest {
  return { type: NL.RTM_GETADDR, flags: NL.NLM_F_REQUEST | NL.NLM_F_DUMP, header: encodeStruct('ifaddrmsg', {}), attrs: [] };
}

export interface AddressMessage {
  family: number;
  prefixLen: number;
  /** RT_SCOPE_* */
  scope: number;
  index: number;
  /** IFA_FLAGS when present (32 bits), else the header's 8. */
  flags: number;
  /** The interface's own address: IFA_LOCAL, or IFA_ADDRESS where there is no IFA_LOCAL (IPv6). */
  local?: string;
  /** IFA_ADDRESS: the peer's on point-to-point links, else the same as local. */
  address?: string;
  label?: string;
}

export function parseAddress(payload: Uint8Array): AddressMessage {
  const h = decodeStruct(payload, 'ifaddrmsg');
  const t = attrTable(payload, STRUCTS.ifaddrmsg.size);
  const m: AddressMessage = { family: h.ifa_family, prefixLen: h.ifa_prefixlen, scope: h.ifa_scope, index: h.ifa_index, flags: h.ifa_flags };
  const local = t.get(NL.IFA_LOCAL), address = t.get(NL.IFA_ADDRESS), label = t.get(NL.IFA_LABEL), flags = t.get(NL.IFA_FLAGS);
  if (address) m.address = formatIp(address);
  if (local ?? address) m.local = formatIp((local ?? address)!);
  if (label) m.label = readString(label);
  if (flags) m.flags = readU32(flags, 'IFA_FLAGS');
  return m;
}
