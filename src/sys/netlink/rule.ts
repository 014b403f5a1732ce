// rtnetlink policy routing rules (RTM_*RULE): "from ADDRESS lookup TABLE priority N" the way
// `ip rule add` sends it, and dumping them.
import { attrTable, decodeStruct, readU32, u32, type NlAttr, type NlRequest } from './wire.js';
import { NL, STRUCTS, encodeStruct } from './layout.js';
import { formatIp, ipv4Prefix } from './inet.js';

export interface NewRule {
  /** "a.b.c.d" (/32), "a.b.c.d/len", or "all". */
  from: string;
  table: number;
  priority: number;
}

/** `ip rule add from FROM lookup TABLE priority N`: EEXIST when the same rule is there. */
export function addRule(r: NewRule): NlRequest {
  const src = r.from === 'all' ? undefined : ipv4Prefix(r.from);
  const attrs: NlAttr[] = [
    ...(src && src.len > 0 ? [{ type: NL.FRA_SRC, value: src.addr }] : []),
    { type: NL.FRA_PRIORITY, value: u32(r.priority) },
    // As `ip rule` does: the table in the header when it fits 8 bits, else as FRA_TABLE.
    ...(r.table >= 256 ? [{ type: NL.FRA_TABLE, value: u32(r.table) }] : []),
  ];
  return {
    type: NL.RTM_NEWRULE, flags: NL.NLM_F_REQUEST | NL.NLM_F_ACK | NL.NLM_F_CREATE | NL.NLM_F_EXCL,
    header: encodeStruct('fib_rule_hdr', { family: NL.AF_INET, src_len: src?.len ?? 0, table: r.table < 256 ? r.table : NL.RT_TABLE_UNSPEC, action: NL.FR_ACT_TO_TBL }),
    attrs,
  };
}

export function dumpRules(family: number = NL.AF_INET): NlRequest {
  return { type: NL.RTM_GETRULE, flags: NL.NLM_F_REQUEST | NL.NLM_F_DUMP, header: encodeStruct('fib_rule_hdr', { family }), attrs: [] };
}

export interface RuleMessage {
  family: number;
  srcLen: number;
  /** FRA_TABLE when present, else the header's. */
  table: number;
  /** FR_ACT_* */
  action: number;
  priority?: number;
  src?: string;
}

export function parseRule(payload: Uint8Array): RuleMessage {
  const h = decodeStruct(payload, 'fib_rule_hdr');
  const t = attrTable(payload, STRUCTS.fib_rule_hdr.size);
  const m: RuleMessage = { family: h.family, srcLen: h.src_len, table: h.table, action: h.action };
  const table = t.get(NL.FRA_TABLE), prio = t.get(NL.FRA_PRIORITY), src = t.get(NL.FRA_SRC);
  if (table) m.table = readU32(table, 'FRA_TABLE');
  if (prio) m.priority = readU32(prio, 'FRA_PRIORITY');
  if (src) m.src = formatIp(src);
  return m;
}

/** A table as `ip` prints it: local, main, default by name, the others by number. */
export function tableName(t: number): string {
  return t === NL.RT_TABLE_LOCAL ? 'local' : t === NL.RT_TABLE_MAIN ? 'main' : t === NL.RT_TABLE_DEFAULT ? 'default' : String(t);
}
