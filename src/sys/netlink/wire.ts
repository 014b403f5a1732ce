// Netlink framing (linux/netlink.h), pure: struct nlmsghdr, the attribute TLVs (struct nlattr,
// rtattr's twin) and struct nlmsgerr with its extended-ack TLVs, laid out as ./layout.ts says.
// Everything a peer wrote is bounds-checked before use; a malformed buffer is a
// NetlinkDecodeError naming what was wrong.

import { NL, STRUCTS, readStruct, writeStruct, type Struct, type StructName } from './layout.js';

export const NLMSG_HDRLEN = STRUCTS.nlmsghdr.size;
export const NLA_HDRLEN = STRUCTS.nlattr.size;

/** Netlink pads every header, message and attribute to 4 bytes. */
export const align4 = (n: number): number => (n + 3) & ~3;

export class NetlinkDecodeError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'NetlinkDecodeError';
  }
}

// --- encoding ------------------------------------------------------------------------------------

/** An attribute to encode: raw bytes, or attributes nested in it. */
export interface NlAttr {
  type: number;
  value: Uint8Array | readonly NlAttr[];
}

/** A request: the family's fixed header (ifinfomsg, rtmsg, ...) and its attributes. */
export interface NlRequest {
  type: number;
  flags: number;
  header: Uint8Array;
  attrs: readonly NlAttr[];
}

export function attrsLength(attrs: readonly NlAttr[]): number {
  let n = 0;
  for (const a of attrs) n += align4(attrLength(a));
  return n;
}

/** nla_len of one attribute: header and payload, without the trailing pad. */
function attrLength(a: NlAttr): number {
  return NLA_HDRLEN + (a.value instanceof Uint8Array ? a.value.length : attrsLength(a.value));
}

/** nlmsg_len of a request. */
export function requestLength(r: NlRequest): number {
  return NLMSG_HDRLEN + align4(r.header.length) + attrsLength(r.attrs);
}

function writeAttrs(out: Uint8Array, dv: DataView, off: number, attrs: readonly NlAttr[]): number {
  for (const a of attrs) {
    const len = attrLength(a);
    if (len > 0xffff) throw new RangeError(`netlink attribute ${a.type} is ${len} bytes; nla_len is 16 bits`);
    if (a.type < 0 || a.type > 0xffff || !Number.isInteger(a.type)) throw new RangeError(`netlink attribute type ${a.type} is not a u16`);
    writeStruct(dv, off, 'nlattr', { nla_len: len, nla_type: a.type });
    if (a.value instanceof Uint8Array) out.set(a.value, off + NLA_HDRLEN);
    else writeAttrs(out, dv, off + NLA_HDRLEN, a.value);
    off += align4(len); // pad bytes stay as the caller's buffer has them: zero (fresh buffer)
  }
  return off;
}

/** Attributes alone, as some attributes carry them after a struct of their own (VETH_INFO_PEER). */
export function encodeAttrs(attrs: readonly NlAttr[]): Uint8Array {
  const out = new Uint8Array(attrsLength(attrs));
  writeAttrs(out, new DataView(out.buffer), 0, attrs);
  return out;
}

export function concatBytes(...xs: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0));
  let off = 0;
  for (const x of xs) { out.set(x, off); off += x.length; }
  return out;
}

/**
 * Encodes requests back to back into one buffer (one sendmsg: the kernel handles them in order),
 * numbered seq0, seq0 + 1, ... Port id 0: the kernel fills in the sender's.
 */
export function encodeRequests(reqs: readonly NlRequest[], seq0: number): Uint8Array {
  let total = 0;
  for (const r of reqs) total += requestLength(r);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let off = 0;
  reqs.forEach((r, i) => {
    const len = requestLength(r);
    writeStruct(dv, off, 'nlmsghdr', { nlmsg_len: len, nlmsg_type: r.type, nlmsg_flags: r.flags, nlmsg_seq: (seq0 + i) >>> 0, nlmsg_pid: 0 });
    out.set(r.header, off + NLMSG_HDRLEN);
    writeAttrs(out, dv, off + NLMSG_HDRLEN + align4(r.header.length), r.attrs);
    off += len;
  });
  return out;
}

// Attribute payloads.
export const u8 = (v: number): Uint8Array => Uint8Array.of(v);
export function u16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v, true);
  return b;
}
export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}
export function s32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}
/** A NUL-terminated string, as the kernel's NLA_STRING/NLA_NUL_STRING policies take names. */
export function cstring(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  if (bytes.includes(0)) throw new RangeError(`netlink string ${JSON.stringify(s)} contains a NUL byte`);
  const b = new Uint8Array(bytes.length + 1);
  b.set(bytes);
  return b;
}

// --- decoding ------------------------------------------------------------------------------------

/** One received message; payload is a view of the receive buffer after the 16-byte header. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

/** Splits a datagram into messages. Every nlmsg_len must cover its header and fit the buffer. */
export function decodeMessages(buf: Uint8Array): NlMessage[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NlMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN) throw new NetlinkDecodeError(`netlink message at byte ${off}: ${buf.length - off} bytes left, a header is ${NLMSG_HDRLEN}`);
    const h = readStruct(dv, off, 'nlmsghdr'), len = h.nlmsg_len;
    if (len < NLMSG_HDRLEN) throw new NetlinkDecodeError(`netlink message at byte ${off}: nlmsg_len ${len} is shorter than its header`);
    if (len > buf.length - off) throw new NetlinkDecodeError(`netlink message at byte ${off}: nlmsg_len ${len} runs past the ${buf.length}-byte datagram`);
    out.push({ type: h.nlmsg_type, flags: h.nlmsg_flags, seq: h.nlmsg_seq, pid: h.nlmsg_pid, payload: buf.subarray(off + NLMSG_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** One received attribute: its type without the flag bits, and a view of its payload. */
export interface RawAttr {
  type: number;
  nested: boolean;
  value: Uint8Array;
}

/** The attributes in `buf` from `offset` (a family header's aligned length) to the end. */
export function decodeAttrs(buf: Uint8Array, offset = 0): RawAttr[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RawAttr[] = [];
  let off = offset;
  while (off < buf.length) {
    if (buf.length - off < NLA_HDRLEN) throw new NetlinkDecodeError(`netlink attribute at byte ${off}: ${buf.length - off} bytes left, a header is ${NLA_HDRLEN}`);
    const { nla_len: len, nla_type: type } = readStruct(dv, off, 'nlattr');
    if (len < NLA_HDRLEN) throw new NetlinkDecodeError(`netlink attribute ${type & NL.NLA_TYPE_MASK} at byte ${off}: nla_len ${len} is shorter than its header`);
    if (len > buf.length - off) throw new NetlinkDecodeError(`netlink attribute ${type & NL.NLA_TYPE_MASK} at byte ${off}: nla_len ${len} runs past the ${buf.length}-byte payload`);
    out.push({ type: type & NL.NLA_TYPE_MASK, nested: (type & NL.NLA_F_NESTED) !== 0, value: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (the last one wins when a type repeats, as the kernel's nla_parse does). */
export function attrTable(buf: Uint8Array, offset = 0): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (const a of decodeAttrs(buf, offset)) m.set(a.type, a.value);
  return m;
}

/** The struct `name` at the start of `p`; a NetlinkDecodeError naming `what` when `p` is too short. */
export function decodeStruct<N extends StructName>(p: Uint8Array, name: N, what: string = name): Struct<N> {
  const need = STRUCTS[name].size;
  if (p.length < need) throw new NetlinkDecodeError(`${what}: ${p.length} bytes, needs ${need}`);
  return readStruct(new DataView(p.buffer, p.byteOffset, p.byteLength), 0, name);
}

function fixed(v: Uint8Array, n: number, what: string): DataView {
  if (v.length < n) throw new NetlinkDecodeError(`${what}: ${v.length} bytes, needs ${n}`);
  return new DataView(v.buffer, v.byteOffset, v.byteLength);
}
export const readU8 = (v: Uint8Array, what: string): number => fixed(v, 1, what).getUint8(0);
export const readU16 = (v: Uint8Array, what: string): number => fixed(v, 2, what).getUint16(0, true);
export const readU32 = (v: Uint8Array, what: string): number => fixed(v, 4, what).getUint32(0, true);
export const readS32 = (v: Uint8Array, what: string): number => fixed(v, 4, what).getInt32(0, true);
/** A string attribute, up to its first NUL (the kernel NUL-terminates; a peer might not). */
export function readString(v: Uint8Array): string {
  const nul = v.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? v : v.subarray(0, nul));
}

/** struct nlmsgerr and what extended ack added: the answer to one request. */
export interface NlAck {
  /** 0 for success, else a negative errno. */
  error: number;
  /** The header of the request it answers. */
  request: { len: number; type: number; flags: number; seq: number; pid: number };
  /** NLMSGERR_ATTR_MSG: the kernel's reason, when it gave one. */
  message?: string;
  /** NLMSGERR_ATTR_OFFS: where in the request the offending attribute starts. */
  offset?: number;
}

/** Decodes an NLMSG_ERROR payload (`flags` is that message's nlmsg_flags). */
export function decodeAck(payload: Uint8Array, flags: number): NlAck {
  const e = decodeStruct(payload, 'nlmsgerr', 'NLMSG_ERROR payload');
  const r = e.msg;
  const ack: NlAck = { error: e.error, request: { len: r.nlmsg_len, type: r.nlmsg_type, flags: r.nlmsg_flags, seq: r.nlmsg_seq, pid: r.nlmsg_pid } };
  if (flags & NL.NLM_F_ACK_TLVS) {
    // The TLVs follow the echoed request: its header only when capped, else all of it.
    const echoed = flags & NL.NLM_F_CAPPED ? NLMSG_HDRLEN : ack.request.len;
    const start = 4 + align4(echoed);
    if (start > payload.length) throw new NetlinkDecodeError(`NLMSG_ERROR: echoed request of ${echoed} bytes runs past the ${payload.length}-byte payload`);
    Object.assign(ack, extAck(payload, start));
  }
  return ack;
}

/** The extended-ack TLVs of an NLMSG_ERROR (after the echo) or an NLMSG_DONE (after the int). */
export function extAck(payload: Uint8Array, offset: number): { message?: string; offset?: number } {
  const t = attrTable(payload, offset);
  const msg = t.get(NL.NLMSGERR_ATTR_MSG), offs = t.get(NL.NLMSGERR_ATTR_OFFS);
  return { ...(msg ? { message: readString(msg) } : {}), ...(offs ? { offset: readU32(offs, 'NLMSGERR_ATTR_OFFS') } : {}) };
}
