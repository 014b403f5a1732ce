// memif control messages, protocol version 2.0: one 128-byte little-endian memif_msg_t per
// SOCK_SEQPACKET message (libmemif src/memif.h). `type` is a u16 at offset 0 and the union starts
// at offset 2; the offsets below are absolute within the 128 bytes.

export const MEMIF_MSG_SIZE = 128;
export const MEMIF_VERSION_MAJOR = 2;
export const MEMIF_VERSION_MINOR = 0;
export const MEMIF_VERSION = (MEMIF_VERSION_MAJOR << 8) | MEMIF_VERSION_MINOR;
export const MEMIF_NAME_LEN = 32;
export const MEMIF_SECRET_LEN = 24;
export const MEMIF_DISCONNECT_STRING_LEN = 96;
export const MEMIF_MSG_ADD_RING_FLAG_S2M = 1;

export const MsgType = {
  NONE: 0, ACK: 1, HELLO: 2, INIT: 3, ADD_REGION: 4, ADD_RING: 5, CONNECT: 6, CONNECTED: 7, DISCONNECT: 8,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];
const typeNames = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k])) as Record<number, string>;
export const msgTypeName = (t: number): string => typeNames[t] ?? `type ${t}`;

export const InterfaceMode = { ETHERNET: 0, IP: 1, PUNT_INJECT: 2 } as const;
export type InterfaceMode = (typeof InterfaceMode)[keyof typeof InterfaceMode];
export const modeNames: Record<InterfaceMode, 'ethernet' | 'ip' | 'punt-inject'> = { 0: 'ethernet', 1: 'ip', 2: 'punt-inject' };

export interface AckMsg { type: typeof MsgType.ACK }
export interface HelloMsg {
  type: typeof MsgType.HELLO;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** Highest region index the sender accepts (count - 1), as libmemif sends it. */
  maxRegion: number;
  maxM2sRing: number;
  maxS2mRing: number;
  maxLog2RingSize: number;
}
export interface InitMsg { type: typeof MsgType.INIT; version: number; id: number; mode: number; secret: string; name: string }
export interface AddRegionMsg { type: typeof MsgType.ADD_REGION; index: number; size: bigint }
export interface AddRingMsg {
  type: typeof MsgType.ADD_RING;
  flags: number;
  index: number;
  region: number;
  offset: number;
  log2RingSize: number;
  privateHdrSize: number;
}
export interface ConnectMsg { type: typeof MsgType.CONNECT; ifName: string }
export interface ConnectedMsg { type: typeof MsgType.CONNECTED; ifName: string }
export interface DisconnectMsg { type: typeof MsgType.DISCONNECT; code: number; reason: string }

export type MemifMsg = AckMsg | HelloMsg | InitMsg | AddRegionMsg | AddRingMsg | ConnectMsg | ConnectedMsg | DisconnectMsg;

/** A control message that cannot be decoded (or encoded). The message is fit to be a DISCONNECT reason. */
export class MemifProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemifProtocolError';
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

function putString(b: Uint8Array, off: number, len: number, s: string, field: string): void {
  const bytes = enc.encode(s);
  // A NUL would end the string early on the peer's side: refuse rather than send a different name.
  if (bytes.includes(0)) throw new MemifProtocolError(`${field} '${s.replace(/\0/g, '\\0')}' contains a NUL byte`);
  // Fixed char arrays: libmemif copies with strlcpy-like limits, so keep room for the NUL.
  if (bytes.length > len - 1 && !(field === 'secret' && bytes.length <= len)) {
    throw new MemifProtocolError(`${field} '${s}' is ${bytes.length} bytes; at most ${field === 'secret' ? len : len - 1} fit`);
  }
  b.set(bytes, off);
}

function getString(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

function checkUint(v: number, bits: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new MemifProtocolError(`${field} ${v} is not a u${bits}`);
  return v;
}

/** Encodes one message into exactly 128 bytes. */
export function encodeMsg(m: MemifMsg): Uint8Array {
  const b = new Uint8Array(MEMIF_MSG_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, m.type, true);
  switch (m.type) {
    case MsgType.ACK:
      break;
    case MsgType.HELLO:
      putString(b, 2, MEMIF_NAME_LEN, m.name, 'name');
      dv.setUint16(34, checkUint(m.minVersion, 16, 'min_version'), true);
      dv.setUint16(36, checkUint(m.maxVersion, 16, 'max_version'), true);
      dv.setUint16(38, checkUint(m.maxRegion, 16, 'max_region'), true);
      dv.setUint16(40, checkUint(m.maxM2sRing, 16, 'max_m2s_ring'), true);
      dv.setUint16(42, checkUint(m.maxS2mRing, 16, 'max_s2m_ring'), true);
      dv.setUint8(44, checkUint(m.maxLog2RingSize, 8, 'max_log2_ring_size'));
      break;
    case MsgType.INIT:
      dv.setUint16(2, checkUint(m.version, 16, 'version'), true);
      dv.setUint32(4, checkUint(m.id, 32, 'id'), true);
      dv.setUint8(8, checkUint(m.mode, 8, 'mode'));
      putString(b, 9, MEMIF_SECRET_LEN, m.secret, 'secret');
      putString(b, 33, MEMIF_NAME_LEN, m.name, 'name');
      break;
    case MsgType.ADD_REGION:
      dv.setUint16(2, checkUint(m.index, 16, 'region index'), true);
      if (m.size < 0n || m.size >= 2n ** 64n) throw new MemifProtocolError(`region size ${m.size} is not a u64`);
      dv.setBigUint64(4, m.size, true);
      break;
    case MsgType.ADD_RING:
      dv.setUint16(2, checkUint(m.flags, 16, 'flags'), true);
      dv.setUint16(4, checkUint(m.index, 16, 'ring index'), true);
      dv.setUint16(6, checkUint(m.region, 16, 'region'), true);
      dv.setUint32(8, checkUint(m.offset, 32, 'offset'), true);
      dv.setUint8(12, checkUint(m.log2RingSize, 8, 'log2_ring_size'));
      dv.setUint16(13, checkUint(m.privateHdrSize, 16, 'private_hdr_size'), true);
      break;
    case MsgType.CONNECT:
    case MsgType.CONNECTED:
      putString(b, 2, MEMIF_NAME_LEN, m.ifName, 'if_name');
      break;
    case MsgType.DISCONNECT: {
      dv.setUint32(2, checkUint(m.code, 32, 'code'), true);
      // A reason is informative: cut it to fit rather than fail the disconnect.
      // Cut at a UTF-8 character boundary (never before a continuation byte 10xxxxxx), and at a NUL.
      let bytes = enc.encode(m.reason);
      const nul = bytes.indexOf(0);
      if (nul >= 0) bytes = bytes.subarray(0, nul);
      if (bytes.length > MEMIF_DISCONNECT_STRING_LEN - 1) {
        let end = MEMIF_DISCONNECT_STRING_LEN - 1;
        while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
        bytes = bytes.subarray(0, end);
      }
      b.set(bytes, 6);
      break;
    }
    default:
      throw new MemifProtocolError(`cannot encode message type ${(m as { type: number }).type}`);
  }
  return b;
}

/** Decodes one received message; `length` is the datagram's real length (it may exceed bytes.length). */
export function decodeMsg(bytes: Uint8Array, length = bytes.length): MemifMsg {
  if (length !== MEMIF_MSG_SIZE) throw new MemifProtocolError(`Invalid message size ${length} (memif messages are ${MEMIF_MSG_SIZE} bytes)`);
  // Read only the bytes we were given, never what follows the view in its buffer.
  if (bytes.length < MEMIF_MSG_SIZE) throw new MemifProtocolError(`Invalid message: truncated: ${bytes.length} of ${MEMIF_MSG_SIZE} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, MEMIF_MSG_SIZE);
  const type = dv.getUint16(0, true);
  switch (type) {
    case MsgType.ACK:
      return { type };
    case MsgType.HELLO:
      return {
        type,
        name: getString(bytes, 2, MEMIF_NAME_LEN),
        minVersion: dv.getUint16(34, true),
        maxVersion: dv.getUint16(36, true),
        maxRegion: dv.getUint16(38, true),
        maxM2sRing: dv.getUint16(40, true),
        maxS2mRing: dv.getUint16(42, true),
        maxLog2RingSize: dv.getUint8(44),
      };
    case MsgType.INIT:
      return {
        type,
        version: dv.getUint16(2, true),
        id: dv.getUint32(4, true),
        mode: dv.getUint8(8),
        secret: getString(bytes, 9, MEMIF_SECRET_LEN),
        name: getString(bytes, 33, MEMIF_NAME_LEN),
      };
    case MsgType.ADD_REGION:
      return { type, index: dv.getUint16(2, true), size: dv.getBigUint64(4, true) };
    case MsgType.ADD_RING:
      return {
        type,
        flags: dv.getUint16(2, true),
        index: dv.getUint16(4, true),
        region: dv.getUint16(6, true),
        offset: dv.getUint32(8, true),
        log2RingSize: dv.getUint8(12),
        privateHdrSize: dv.getUint16(13, true),
      };
    case MsgType.CONNECT:
    case MsgType.CONNECTED:
      return { type, ifName: getString(bytes, 2, MEMIF_NAME_LEN) };
    case MsgType.DISCONNECT:
      return { type, code: dv.getUint32(2, true), reason: getString(bytes, 6, MEMIF_DISCONNECT_STRING_LEN) };
    default:
      throw new MemifProtocolError(`Unknown message type ${type}`);
  }
}
