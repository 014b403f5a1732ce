/**
 * memif 2.0 on the wire, in one place: the counterpart of libmemif's src/memif.h and DPDK's
 * drivers/net/memif/memif.h (every wire struct once), their limits, and a closed set of error
 * codes after libmemif.h's memif_err_t. Everything is little-endian (memif is host-endian and every
 * implementation runs on little-endian hosts; region.ts refuses big-endian ones).
 *
 * The message layouts (MSG_LAYOUT) and the ring layouts (RING_LAYOUT, DESC_LAYOUT) are tables:
 * messages.ts encodes and decodes by walking MSG_LAYOUT, and the ring code takes its typed-array
 * indexes from the ring tables (RING_U16, DESC_U32 …), so an offset is written down once.
 */

// ------------------------------------------------------------------------------ constants

export const MEMIF_COOKIE = 0x3e31f20;
export const MEMIF_VERSION_MAJOR = 2;
export const MEMIF_VERSION_MINOR = 0;
export const MEMIF_VERSION = (MEMIF_VERSION_MAJOR << 8) | MEMIF_VERSION_MINOR;

/** Every control message is one memif_msg_t of exactly this size, one per SOCK_SEQPACKET datagram. */
export const MEMIF_MSG_SIZE = 128;
export const MEMIF_NAME_LEN = 32;
export const MEMIF_SECRET_LEN = 24;
export const MEMIF_DISCONNECT_STRING_LEN = 96;

/** ADD_RING flags bit 0: the ring is slave-to-master. */
export const MEMIF_MSG_ADD_RING_FLAG_S2M = 1;
/** ring.flags bit 0: the receiver of this ring does not want interrupts (polling). */
export const MEMIF_RING_FLAG_MASK_INT = 1;
/** desc.flags bit 0: the packet continues in the next descriptor. */
export const MEMIF_DESC_FLAG_NEXT = 1;

// Limits (libmemif memif_private.h; DPDK rte_eth_memif.h has the same numbers).
export const MEMIF_MAX_LOG2_RING_SIZE = 14;
export const MEMIF_MAX_S2M_RING = 255;
export const MEMIF_MAX_M2S_RING = 255;
export const MEMIF_MAX_REGION = 255;
/** Largest region this implementation maps: descriptor offsets are u32. */
export const MEMIF_MAX_REGION_SIZE = 2 ** 32;

export const MsgType = {
  NONE: 0, ACK: 1, HELLO: 2, INIT: 3, ADD_REGION: 4, ADD_RING: 5, CONNECT: 6, CONNECTED: 7, DISCONNECT: 8,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];
const typeNames = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k])) as Record<number, string>;
export const msgTypeName = (t: number): string => typeNames[t] ?? `type ${t}`;

export const InterfaceMode = { ETHERNET: 0, IP: 1, PUNT_INJECT: 2 } as const;
export type InterfaceMode = (typeof InterfaceMode)[keyof typeof InterfaceMode];
export const modeNames: Record<InterfaceMode, 'ethernet' | 'ip' | 'punt-inject'> = { 0: 'ethernet', 1: 'ip', 2: 'punt-inject' };

/** Ring types as on the wire (ADD_RING flag bit 0 set = S2M). */
export const RingType = { S2M: 0, M2S: 1 } as const;
export type RingType = (typeof RingType)[keyof typeof RingType];
export const ringTypeName = (t: RingType): string => (t === RingType.S2M ? 'S2M' : 'M2S');

// ------------------------------------------------------------------------------ field tables

/**
 * A field's wire type. Strings are fixed char arrays: `name` is NUL-terminated (at most 31 bytes of
 * 32), `secret` may fill all 24 bytes, `text` (DISCONNECT's string[96]) is cut to fit rather than
 * refused, since a reason is only informative.
 */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'name' | 'secret' | 'text';
export interface Field<K extends FieldKind = FieldKind> {
  /** Byte offset from the start of the struct (for messages: of the whole 128-byte memif_msg_t). */
  readonly at: number;
  readonly kind: K;
  /** How error messages name it (the C field name, qualified where it is ambiguous). */
  readonly label: string;
}
export const FIELD_BYTES: Record<FieldKind, number> = {
  u8: 1, u16: 2, u32: 4, u64: 8, name: MEMIF_NAME_LEN, secret: MEMIF_SECRET_LEN, text: MEMIF_DISCONNECT_STRING_LEN,
};

/** The table of a message type M: one Field per member, of a kind whose value type is M's. */
export type Layout<M> = {
  readonly [F in Exclude<keyof M, 'type'>]: M[F] extends bigint
    ? Field<'u64'>
    : M[F] extends string
      ? Field<'name' | 'secret' | 'text'>
      : Field<'u8' | 'u16' | 'u32'>;
};

// ------------------------------------------------------------------------------ messages

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
/** `code` is a MemifErrorCode when the sender is tsvpp; libmemif, DPDK and VPP send 0. */
export interface DisconnectMsg { type: typeof MsgType.DISCONNECT; code: number; reason: string }

export type MemifMsg = AckMsg | HelloMsg | InitMsg | AddRegionMsg | AddRingMsg | ConnectMsg | ConnectedMsg | DisconnectMsg;

const f = <K extends FieldKind>(at: number, kind: K, label: string): Field<K> => ({ at, kind, label });

/**
 * memif_msg_t: `type` u16 at 0, then the union at 2; offsets are absolute (packed structs, as in
 * memif.h). Member order is the wire order.
 */
export const MSG_TYPE_FIELD = f(0, 'u16', 'type');
export const MSG_LAYOUT: { readonly [T in MemifMsg['type']]: Layout<Extract<MemifMsg, { type: T }>> } = {
  [MsgType.ACK]: {},
  [MsgType.HELLO]: {
    name: f(2, 'name', 'name'),
    minVersion: f(34, 'u16', 'min_version'),
    maxVersion: f(36, 'u16', 'max_version'),
    maxRegion: f(38, 'u16', 'max_region'),
    maxM2sRing: f(40, 'u16', 'max_m2s_ring'),
    maxS2mRing: f(42, 'u16', 'max_s2m_ring'),
    maxLog2RingSize: f(44, 'u8', 'max_log2_ring_size'),
  },
  [MsgType.INIT]: {
    version: f(2, 'u16', 'version'),
    id: f(4, 'u32', 'id'),
    mode: f(8, 'u8', 'mode'),
    secret: f(9, 'secret', 'secret'),
    name: f(33, 'name', 'name'),
  },
  [MsgType.ADD_REGION]: { index: f(2, 'u16', 'region index'), size: f(4, 'u64', 'region size') },
  [MsgType.ADD_RING]: {
    flags: f(2, 'u16', 'flags'),
    index: f(4, 'u16', 'ring index'),
    region: f(6, 'u16', 'region'),
    offset: f(8, 'u32', 'offset'),
    log2RingSize: f(12, 'u8', 'log2_ring_size'),
    privateHdrSize: f(13, 'u16', 'private_hdr_size'),
  },
  [MsgType.CONNECT]: { ifName: f(2, 'name', 'if_name') },
  [MsgType.CONNECTED]: { ifName: f(2, 'name', 'if_name') },
  [MsgType.DISCONNECT]: { code: f(2, 'u32', 'code'), reason: f(6, 'text', 'string') },
};

// ------------------------------------------------------------------------------ shared memory

/**
 * memif_ring_t: a 128-byte header whose head and tail sit on separate cache lines (the producer
 * writes one, the consumer the other), then desc[ring size]. memif_desc_t is 16 bytes.
 */
export const RING_LAYOUT = {
  cookie: f(0, 'u32', 'cookie'),
  flags: f(4, 'u16', 'flags'),
  head: f(6, 'u16', 'head'),
  tail: f(64, 'u16', 'tail'),
} as const;
export const RING_HEADER_SIZE = 128;
export const DESC_LAYOUT = {
  flags: f(0, 'u16', 'flags'),
  region: f(2, 'u16', 'region'),
  length: f(4, 'u32', 'length'),
  offset: f(8, 'u32', 'offset'),
  metadata: f(12, 'u32', 'metadata'),
} as const;
export const DESC_SIZE = 16;

const index = (fd: Field, width: number): number => {
  if (fd.at % width !== 0 || FIELD_BYTES[fd.kind] !== width) throw new Error(`memif wire: ${fd.label} is not a ${width}-byte aligned field`);
  return fd.at / width;
};
/** Header indexes for a Uint16Array / Uint32Array over the ring header. */
export const RING_U16 = { flags: index(RING_LAYOUT.flags, 2), head: index(RING_LAYOUT.head, 2), tail: index(RING_LAYOUT.tail, 2) } as const;
export const RING_U32_COOKIE = index(RING_LAYOUT.cookie, 4);
/**
 * Descriptor words for a Uint32Array over desc[] (DESC_WORDS per slot). Word `flagsRegion` holds
 * flags in its low half and region in its high half (little-endian), so one load gives both.
 */
export const DESC_WORDS = DESC_SIZE / 4;
export const DESC_U32 = {
  flagsRegion: index(DESC_LAYOUT.flags, 2) >> 1,
  length: index(DESC_LAYOUT.length, 4),
  offset: index(DESC_LAYOUT.offset, 4),
  metadata: index(DESC_LAYOUT.metadata, 4),
} as const;
/** Shift of the region within the flagsRegion word. */
export const DESC_REGION_SHIFT = (DESC_LAYOUT.region.at - DESC_U32.flagsRegion * 4) * 8;
/** Index of a slot's flags in a Uint16Array over desc[] is slot * DESC_U16 (+ 0). */
export const DESC_U16 = DESC_SIZE / 2;
if (DESC_U32.flagsRegion !== index(DESC_LAYOUT.region, 2) >> 1 || DESC_REGION_SHIFT !== 16) {
  throw new Error('memif wire: desc flags and region must share the first word');
}

/** Bytes one ring occupies: header + one descriptor per slot. */
export function ringBytes(log2RingSize: number): number {
  return RING_HEADER_SIZE + DESC_SIZE * 2 ** log2RingSize;
}

// ------------------------------------------------------------------------------ error codes

/**
 * Why a connection ended or was refused: a closed set. Sent in DISCONNECT's `code` (libmemif, DPDK
 * and VPP send 0 and only read the string) and reported in DisconnectInfo. Numbers below 256 are
 * libmemif's memif_err_t values with the same meaning; 256 and up are tsvpp's own.
 */
export const MemifErrorCode = {
  SYSCALL: 1,
  CONNREFUSED: 2,
  ACCES: 3,
  NO_FILE: 4,
  INVAL_ARG: 11,
  NO_SHMFD: 16,
  COOKIE: 17,
  MFMSG: 22,
  PROTO: 24,
  ID: 25,
  ALRCONN: 27,
  MODE: 28,
  SECRET: 29,
  NOSECRET: 30,
  MAXREG: 31,
  MAXRING: 32,
  NO_INTFD: 33,
  DISCONNECT: 34,
  DISCONNECTED: 35,
  UNKNOWN_MSG: 36,
  MAX_RING: 38,
  PRIVHDR: 39,
  // tsvpp's own
  USER: 256,
  DELETED: 257,
  SOCKET_CLOSED: 258,
  TIMEOUT: 259,
  UNEXPECTED_MSG: 260,
  UNEXPECTED_FD: 261,
  BAD_REGION: 262,
  UNSEALED_REGION: 263,
  BAD_RING: 264,
  BAD_INTFD: 265,
  INCOMPLETE: 266,
  RING_INDEX: 267,
  DESC_REGION: 268,
  DESC_BOUNDS: 269,
  DESC_LENGTH: 270,
  CHAIN_OPEN: 271,
  CHAIN_TOO_LONG: 272,
  INTERNAL: 273,
} as const;
export type MemifErrorCode = (typeof MemifErrorCode)[keyof typeof MemifErrorCode];

export const MEMIF_ERROR_TEXT: Readonly<Record<MemifErrorCode, string>> = {
  1: 'system call failed',
  2: 'connection refused',
  3: 'permission denied',
  4: 'socket file does not exist',
  11: 'invalid argument',
  16: 'missing region fd',
  17: 'wrong ring cookie',
  22: 'malformed message',
  24: 'incompatible protocol version',
  25: 'interface id not found',
  27: 'already connected',
  28: 'mode mismatch',
  29: 'incorrect secret',
  30: 'secret required',
  31: 'region limit exceeded',
  32: 'ring limit exceeded',
  33: 'missing interrupt fd',
  34: 'peer disconnected',
  35: 'peer closed the control socket',
  36: 'unknown message type',
  38: 'ring size too large',
  39: 'private headers are not supported',
  256: 'disconnected by the application',
  257: 'interface deleted',
  258: 'memif socket closed',
  259: 'handshake timed out',
  260: 'unexpected message',
  261: 'unexpected fd',
  262: 'invalid region',
  263: 'region fd cannot be sealed against shrinking',
  264: 'invalid ring',
  265: 'interrupt fd is not an eventfd',
  266: 'setup incomplete at CONNECT',
  267: 'peer ring index out of range',
  268: 'descriptor names a missing region',
  269: 'descriptor outside its region',
  270: 'descriptor length exceeds the buffer',
  271: 'packet chain runs past the published slots',
  272: 'packet has too many segments',
  273: 'internal error',
};

const codeNames = Object.fromEntries(Object.entries(MemifErrorCode).map(([k, v]) => [v, k])) as Record<number, string>;
export const isMemifErrorCode = (n: number): n is MemifErrorCode => codeNames[n] !== undefined;
/** "SECRET (29)" */
export const memifErrorName = (c: number): string => `${codeNames[c] ?? "not a tsvpp code"} (${c})`;

/** A reason to end a connection: the code, and a sentence with the particulars. */
export interface MemifFault {
  readonly code: MemifErrorCode;
  readonly reason: string;
}
export const fault = (code: MemifErrorCode, reason: string = MEMIF_ERROR_TEXT[code]): MemifFault => ({ code, reason });

/** What a received DISCONNECT says: its code when it is one of ours (a tsvpp peer), else DISCONNECT. */
export function peerFault(m: DisconnectMsg): MemifFault {
  const code = isMemifErrorCode(m.code) ? m.code : MemifErrorCode.DISCONNECT;
  return fault(code, m.reason || MEMIF_ERROR_TEXT[code]);
}
