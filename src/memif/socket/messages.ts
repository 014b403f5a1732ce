// memif control message codec: encodeMsg and decodeMsg walk the field tables of ../wire.ts
// (MSG_LAYOUT), so each offset is written down once, for both directions.
import {
  FIELD_BYTES, MEMIF_MSG_SIZE, MSG_LAYOUT, MSG_TYPE_FIELD, MemifErrorCode,
  type Field, type MemifErrorCode as ErrorCode, type MemifMsg,
} from '../wire.js';

/** A control message that cannot be decoded (or encoded). The message is fit to be a DISCONNECT reason. */
export class MemifProtocolError extends Error {
  constructor(message: string, readonly code: ErrorCode = MemifErrorCode.MFMSG) {
    super(message);
    this.name = 'MemifProtocolError';
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });
const fieldsOf = (t: MemifMsg['type']): [string, Field][] => Object.entries(MSG_LAYOUT[t]) as [string, Field][];

function putString(b: Uint8Array, fd: Field, s: string): void {
  const len = FIELD_BYTES[fd.kind];
  let bytes = enc.encode(s);
  if (fd.kind === 'text') {
    // A reason is informative: cut it to fit rather than fail the disconnect — at a NUL, and at a
    // UTF-8 character boundary (never before a continuation byte 10xxxxxx), keeping the final NUL.
    const nul = bytes.indexOf(0);
    if (nul >= 0) bytes = bytes.subarray(0, nul);
    if (bytes.length > len - 1) {
      let end = len - 1;
      while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
      bytes = bytes.subarray(0, end);
    }
  } else {
    // A NUL would end the string early on the peer's side: refuse rather than send a different name.
    if (bytes.includes(0)) throw new MemifProtocolError(`${fd.label} '${s.replace(/\0/g, '\\0')}' contains a NUL byte`);
    // libmemif copies names with strlcpy-like limits (room for the NUL); the secret may fill its field.
    const max = fd.kind === 'secret' ? len : len - 1;
    if (bytes.length > max) throw new MemifProtocolError(`${fd.label} '${s}' is ${bytes.length} bytes; at most ${max} fit`);
  }
  b.set(bytes, fd.at);
}

function getString(b: Uint8Array, fd: Field): string {
  const off = fd.at;
  const end0 = off + FIELD_BYTES[fd.kind];
  let end = off;
  while (end < end0 && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

function checkUint(v: number, bits: number, label: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new MemifProtocolError(`${label} ${v} is not a u${bits}`);
  return v;
}

function put(b: Uint8Array, dv: DataView, fd: Field, v: unknown): void {
  const k = fd.kind;
  switch (k) {
    case 'u8': dv.setUint8(fd.at, checkUint(v as number, 8, fd.label)); return;
    case 'u16': dv.setUint16(fd.at, checkUint(v as number, 16, fd.label), true); return;
    case 'u32': dv.setUint32(fd.at, checkUint(v as number, 32, fd.label), true); return;
    case 'u64': {
      const x = v as bigint;
      if (typeof x !== 'bigint' || x < 0n || x >= 2n ** 64n) throw new MemifProtocolError(`${fd.label} ${String(x)} is not a u64`);
      dv.setBigUint64(fd.at, x, true);
      return;
    }
    case 'name': case 'secret': case 'text': putString(b, fd, v as string); return;
    default: { const never: never = k; throw new Error(`memif wire: field kind ${String(never)}`); }
  }
}

function get(b: Uint8Array, dv: DataView, fd: Field): number | bigint | string {
  const k = fd.kind;
  switch (k) {
    case 'u8': return dv.getUint8(fd.at);
    case 'u16': return dv.getUint16(fd.at, true);
    case 'u32': return dv.getUint32(fd.at, true);
    case 'u64': return dv.getBigUint64(fd.at, true);
    case 'name': case 'secret': case 'text': return getString(b, fd);
    default: { const never: never = k; throw new Error(`memif wire: field kind ${String(never)}`); }
  }
}

const isKnownType = (t: number): t is MemifMsg['type'] => Object.prototype.hasOwnProperty.call(MSG_LAYOUT, t);

/** Encodes one message into exactly 128 bytes. */
export function encodeMsg(m: MemifMsg): Uint8Array {
  if (!isKnownType(m.type)) throw new MemifProtocolError(`cannot encode message type ${(m as { type: unknown }).type}`);
  const b = new Uint8Array(MEMIF_MSG_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(MSG_TYPE_FIELD.at, m.type, true);
  const values = m as unknown as Record<string, unknown>;
  for (const [name, fd] of fieldsOf(m.type)) put(b, dv, fd, values[name]);
  return b;
}

/** Decodes one received message; `length` is the datagram's real length (it may exceed bytes.length). */
export function decodeMsg(bytes: Uint8Array, length = bytes.length): MemifMsg {
  if (length !== MEMIF_MSG_SIZE) throw new MemifProtocolError(`Invalid message size ${length} (memif messages are ${MEMIF_MSG_SIZE} bytes)`);
  // Read only the bytes we were given, never what follows the view in its buffer.
  if (bytes.length < MEMIF_MSG_SIZE) throw new MemifProtocolError(`Invalid message: truncated: ${bytes.length} of ${MEMIF_MSG_SIZE} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, MEMIF_MSG_SIZE);
  const type = dv.getUint16(MSG_TYPE_FIELD.at, true);
  if (!isKnownType(type)) throw new MemifProtocolError(`Unknown message type ${type}`, MemifErrorCode.UNKNOWN_MSG);
  const m: Record<string, unknown> = { type };
  for (const [name, fd] of fieldsOf(type)) m[name] = get(bytes, dv, fd);
  return m as unknown as MemifMsg;
}
