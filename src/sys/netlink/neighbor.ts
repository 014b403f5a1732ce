// rtnetlink neighbours (RTM_*NEIGH): a permanent IPv4 entry, as
// `ip neigh replace IP lladdr MAC dev INDEX nud permanent` sends it.
import type { NlRequest } from './wire.js';
import { NL, encodeStruct } from './layout.js';
import { ipv4Bytes, macBytes } from './inet.js';

export function replaceNeighbor(index: number, ip: string, mac: string): NlRequest {
  return {
    type: NL.RTM_NEWNEIGH, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_REPLACE,
    header: encodeStruct('ndmsg', { ndm_family: NL.AF_INET, ndm_ifindex: index, ndm_state: NL.NUD_PERMANENT }),
    attrs: [{ type: NL.NDA_DST, value: ipv4Bytes(ip) }, { type: NL.NDA_LLADDR, value: macBytes(mac) }],
  };
}
