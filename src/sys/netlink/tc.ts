// rtnetlink traffic control (RTM_*QDISC, RTM_*TFILTER): struct tcmsg, the clsact qdisc, and an
// ingress u32 filter that matches every packet and redirects it out of another device with the
// mirred action — the kernel's own patch cable between two links, built from what every kernel
// with tc has (no matchall, no flower). The encodings match what iproute2's `tc` sends for
//   tc qdisc add dev X clsact
//   tc filter add dev X ingress u32 match u32 0 0 action mirred egress redirect dev P
//   tc filter del dev X ingress
//   tc filter show dev X ingress
import { NetlinkDecodeError, attrTable, concatBytes, cstring, decodeAttrs, decodeStruct, readString, type NlRequest } from './wire.js';
import { NL, STRUCTS, encodeStruct, type Struct } from './layout.js';

/** The clsact qdisc's handle (ffff:) and the parent its ingress filters hang from (ffff:fff2). */
const CLSACT_HANDLE = (NL.TC_H_CLSACT & NL.TC_H_MAJ_MASK) >>> 0;
const INGRESS_PARENT = (CLSACT_HANDLE | NL.TC_H_MIN_INGRESS) >>> 0;

/** tcm_info of a filter: its priority above, its protocol (network order, as a u16) below. */
function filterInfo(prio: number, protocol: number): number {
  return ((prio << 16) | ((protocol & 0xff) << 8) | (protocol >> 8)) >>> 0;
}

function tcHeader(ifindex: number, v: Partial<Struct<'tcmsg'>>): Uint8Array {
  if (!Number.isInteger(ifindex) || ifindex <= 0) throw new RangeError(`interface index ${ifindex}: must be a positive integer`);
  return encodeStruct('tcmsg', { ...v, tcm_ifindex: ifindex });
}

/** `tc qdisc add dev X clsact`: EEXIST when the device has one already (clsact or ingress). */
export function addClsact(ifindex: number): NlRequest {
  return {
    type: NL.RTM_NEWQDISC, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_EXCL,
    header: tcHeader(ifindex, { tcm_handle: CLSACT_HANDLE, tcm_parent: NL.TC_H_CLSACT }),
    attrs: [{ type: NL.TCA_KIND, value: cstring('clsact') }],
  };
}

/** `tc filter del dev X ingress`: priority 0 deletes every ingress filter (none is no error). */
export function deleteIngressFilters(ifindex: number): NlRequest {
  return { type: NL.RTM_DELTFILTER, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK, header: tcHeader(ifindex, { tcm_parent: INGRESS_PARENT }), attrs: [] };
}

/**
 * `tc filter add dev X ingress u32 match u32 0 0 action mirred egress redirect dev TO`: every
 * packet arriving on X leaves through `to` (an index in the same namespace). Protocol all, priority
 * and handle chosen by the kernel (the first filter gets priority 49152, handle 800::800).
 */
export function addIngressRedirect(ifindex: number, to: number): NlRequest {
  if (!Number.isInteger(to) || to <= 0) throw new RangeError(`redirect target index ${to}: must be a positive integer`);
  // One key, mask 0 value 0 at offset 0: matches anything. Terminal: no further hashing.
  const sel = concatBytes(encodeStruct('tc_u32_sel', { flags: NL.TC_U32_TERMINAL, nkeys: 1 }), encodeStruct('tc_u32_key', {}));
  // STOLEN: the packet is consumed here (the redirect owns it), as `tc` sets it for a redirect.
  const parms = encodeStruct('tc_mirred', { action: NL.TC_ACT_STOLEN, eaction: NL.TCA_EGRESS_REDIR, ifindex: to });
  return {
    type: NL.RTM_NEWTFILTER, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_EXCL,
    header: tcHeader(ifindex, { tcm_parent: INGRESS_PARENT, tcm_info: filterInfo(0, NL.ETH_P_ALL) }),
    attrs: [
      { type: NL.TCA_KIND, value: cstring('u32') },
      {
        type: NL.TCA_OPTIONS, value: [
          // The actions, numbered from 1 in the order they run.
          { type: NL.TCA_U32_ACT, value: [{ type: 1, value: [
            { type: NL.TCA_ACT_KIND, value: cstring('mirred') },
            { type: NL.TCA_ACT_OPTIONS | NL.NLA_F_NESTED, value: [{ type: NL.TCA_MIRRED_PARMS, value: parms }] },
          ] }] },
          { type: NL.TCA_U32_SEL, value: sel },
        ],
      },
    ],
  };
}

/** `tc filter show dev X ingress`: answered with one RTM_NEWTFILTER per filter node. */
export function dumpIngressFilters(ifindex: number): NlRequest {
  return { type: NL.RTM_GETTFILTER, flags: NL.NLM_F_REQUEST | NL.NLM_F_DUMP, header: tcHeader(ifindex, { tcm_parent: INGRESS_PARENT }), attrs: [] };
}

/** A mirred action: where it sends packets (TCA_EGRESS_REDIR, ...) and to which device. */
export interface MirredAction { eaction: number; ifindex: number }

/** An RTM_NEWTFILTER answer, decoded. A u32 filter is dumped as several nodes: its priority,
 *  its hash table (800:) and each key (800::800), which alone carries the selector and actions. */
export interface FilterMessage {
  ifindex: number;
  parent: number;
  handle: number;
  prio: number;
  /** ETH_P_* in host order. */
  protocol: number;
  /** TCA_KIND: u32, ... */
  kind?: string;
  /** The node's mirred actions, in order. */
  mirred: MirredAction[];
}

export function parseFilter(payload: Uint8Array): FilterMessage {
  const h = decodeStruct(payload, 'tcmsg', 'RTM_NEWTFILTER');
  const t = attrTable(payload, STRUCTS.tcmsg.size);
  const proto = h.tcm_info & 0xffff;
  const m: FilterMessage = {
    ifindex: h.tcm_ifindex, parent: h.tcm_parent, handle: h.tcm_handle, prio: h.tcm_info >>> 16, protocol: ((proto & 0xff) << 8) | (proto >> 8), mirred: [],
  };
  const kind = t.get(NL.TCA_KIND);
  if (kind) m.kind = readString(kind);
  const opts = t.get(NL.TCA_OPTIONS);
  // TCA_U32_ACT is u32's own attribute: other kinds number their options differently.
  const acts = m.kind === 'u32' && opts ? attrTable(opts).get(NL.TCA_U32_ACT) : undefined;
  for (const a of acts ? decodeAttrs(acts) : []) {
    const at = attrTable(a.value);
    const k = at.get(NL.TCA_ACT_KIND), o = at.get(NL.TCA_ACT_OPTIONS);
    if (!k || readString(k) !== 'mirred') continue;
    const parms = o && attrTable(o).get(NL.TCA_MIRRED_PARMS);
    if (!parms) throw new NetlinkDecodeError(`RTM_NEWTFILTER on index ${h.tcm_ifindex}: mirred action ${a.type} has no TCA_MIRRED_PARMS`);
    const p = decodeStruct(parms, 'tc_mirred', 'TCA_MIRRED_PARMS');
    m.mirred.push({ eaction: p.eaction, ifindex: p.ifindex });
  }
  return m;
}
