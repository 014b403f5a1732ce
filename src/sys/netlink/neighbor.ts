// rtnetlink neighbours (RTM_*NEIGH): permanent IPv4 entries, as `ip neigh replace IP lladdr MAC dev
// INDEX nud permanent` sends them, and a VXLAN device's forwarding entries (family AF_BRIDGE), as
// `bridge fdb replace MAC dev INDEX dst IP self permanent` does; dumps of both and their deletes.
import { attrTable, decodeStruct, type NlRequest } from './wire.js';
import { NL, STRUCTS, encodeStruct } from './layout.js';
import { formatIp, formatMac, ipv4Bytes, macBytes } from './inet.js';

export function replaceNeighbor(index: number, ip: string, mac: string): NlRequest {
  return {
    type: NL.RTM_NEWNEIGH, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_REPLACE,
    header: encodeStruct('ndmsg', { ndm_family: NL.AF_INET, ndm_ifindex: index, ndm_state: NL.NUD_PERMANENT }),
    attrs: [{ type: NL.NDA_DST, value: ipv4Bytes(ip) }, { type: NL.NDA_LLADDR, value: macBytes(mac) }],
  };
}

/** `ip neigh del IP dev INDEX`: ENOENT when there is no such entry. */
export function deleteNeighbor(index: number, ip: string): NlRequest {
  return {
    type: NL.RTM_DELNEIGH, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK,
    header: encodeStruct('ndmsg', { ndm_family: NL.AF_INET, ndm_ifindex: index }),
    attrs: [{ type: NL.NDA_DST, value: ipv4Bytes(ip) }],
  };
}

/** A VXLAN forwarding entry: frames to `mac` go to the VTEP at `dst`. */
export function replaceFdb(index: number, mac: string, dst: string): NlRequest {
  return {
    type: NL.RTM_NEWNEIGH, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_REPLACE,
    header: encodeStruct('ndmsg', { ndm_family: NL.AF_BRIDGE, ndm_ifindex: index, ndm_state: NL.NUD_PERMANENT, ndm_flags: NL.NTF_SELF }),
    attrs: [{ type: NL.NDA_LLADDR, value: macBytes(mac) }, { type: NL.NDA_DST, value: ipv4Bytes(dst) }],
  };
}

/** `bridge fdb del MAC dev INDEX dst IP self`: ENOENT when there is no such entry. */
export function deleteFdb(index: number, mac: string, dst: string): NlRequest {
  return {
    type: NL.RTM_DELNEIGH, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK,
    header: encodeStruct('ndmsg', { ndm_family: NL.AF_BRIDGE, ndm_ifindex: index, ndm_flags: NL.NTF_SELF }),
    attrs: [{ type: NL.NDA_LLADDR, value: macBytes(mac) }, { type: NL.NDA_DST, value: ipv4Bytes(dst) }],
  };
}

/** Every neighbour of `family` (AF_INET: `ip -4 neigh`; AF_BRIDGE: `bridge fdb`) in the namespace. */
export function dumpNeighbors(family: number): NlRequest {
  return { type: NL.RTM_GETNEIGH, flags: NL.NLM_F_REQUEST | NL.NLM_F_DUMP, header: encodeStruct('ndmsg', { ndm_family: family }), attrs: [] };
}

/** An RTM_NEWNEIGH answer, decoded (IPv4 addresses only; another NDA_DST is left out). */
export interface NeighborMessage {
  family: number;
  ifindex: number;
  /** NUD_* */
  state: number;
  /** NTF_* */
  flags: number;
  dst?: string;
  lladdr?: string;
}

export function parseNeighbor(payload: Uint8Array): NeighborMessage {
  const h = decodeStruct(payload, 'ndmsg');
  const t = attrTable(payload, STRUCTS.ndmsg.size);
  const m: NeighborMessage = { family: h.ndm_family, ifindex: h.ndm_ifindex, state: h.ndm_state, flags: h.ndm_flags };
  const dst = t.get(NL.NDA_DST), ll = t.get(NL.NDA_LLADDR);
  if (dst && dst.length === 4) m.dst = formatIp(dst);
  if (ll) m.lladdr = formatMac(ll);
  return m;
}
