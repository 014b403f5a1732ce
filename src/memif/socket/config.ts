// What one memif interface is configured with, checked once up front so that every later step can
// trust it. Defaults follow libmemif (ring 1024, buffer 2048, one queue each way).
import {
  InterfaceMode, MEMIF_MAX_LOG2_RING_SIZE, MEMIF_MAX_M2S_RING, MEMIF_MAX_S2M_RING, MEMIF_NAME_LEN, MEMIF_SECRET_LEN,
} from '../wire.js';

/** libmemif's memif_conn_args_t.buffer_size is a u16; below 64 B not even a minimal frame fits. */
const MIN_BUFFER_SIZE = 64;
const MAX_BUFFER_SIZE = 0xffff;

export type MemifRole = 'master' | 'slave';
export type MemifModeName = 'ethernet' | 'ip' | 'punt-inject';

export interface MemifOptions {
  /** Control socket path; a leading '@' names an abstract socket. Default /run/vpp/memif.sock. */
  socket?: string;
  role: MemifRole;
  /** Interface id on the socket (INIT id). Default 0. */
  id?: number;
  /** Shared secret, at most 24 bytes. The master checks it when it has one. */
  secret?: string;
  mode?: MemifModeName;
  /** The interface name sent in CONNECT / CONNECTED. Default memif<id>. */
  ifName?: string;
  /** The application name sent in HELLO / INIT. Default "tsvpp". */
  appName?: string;
  /** Queues each way. Slave: how many rings it asks for; master: the most it accepts. Default 1. */
  queues?: number;
  /** log2 of the ring size (slave proposes, master caps). Default 10. */
  log2RingSize?: number;
  /** Packet buffer size in bytes (slave). Default 2048. */
  bufferSize?: number;
  /** Slave: delay between connection attempts. Default 1000 ms. */
  reconnectMs?: number;
  /** Time a peer has to complete the handshake. Default 5000 ms. */
  handshakeTimeoutMs?: number;
  /**
   * Master: accept regions whose fd cannot be sealed against shrinking (hugetlbfs files, DPDK's
   * memory segments that a zero-copy client hands over; the CLI's --allow-unsealed-regions).
   * The risk: a slave that truncates such a region makes the master's next access SIGBUS, which
   * kills the process. Default false (refused, naming the flag). See docs/peers.md.
   */
  allowUnsealedRegions?: boolean;
}

export interface MemifConfig {
  socket: string;
  role: MemifRole;
  id: number;
  secret: string;
  mode: InterfaceMode;
  modeName: MemifModeName;
  ifName: string;
  appName: string;
  queues: number;
  log2RingSize: number;
  bufferSize: number;
  reconnectMs: number;
  handshakeTimeoutMs: number;
  allowUnsealedRegions: boolean;
}

export class MemifConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemifConfigError';
  }
}

const modes: Record<MemifModeName, InterfaceMode> = { ethernet: InterfaceMode.ETHERNET, ip: InterfaceMode.IP, 'punt-inject': InterfaceMode.PUNT_INJECT };

function int(name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < min || x > max) throw new MemifConfigError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  return x;
}

export function normalizeConfig(o: MemifOptions): MemifConfig {
  if (o.role !== 'master' && o.role !== 'slave') throw new MemifConfigError(`role must be 'master' or 'slave', got ${String(o.role)}`);
  const modeName = o.mode ?? 'ethernet';
  if (!(modeName in modes)) throw new MemifConfigError(`mode must be ethernet, ip or punt-inject, got ${String(o.mode)}`);
  const secret = o.secret ?? '';
  if (secret.includes('\0')) throw new MemifConfigError('secret contains a NUL byte');
  if (Buffer.byteLength(secret) > MEMIF_SECRET_LEN) throw new MemifConfigError(`secret is ${Buffer.byteLength(secret)} bytes; at most ${MEMIF_SECRET_LEN}`);
  const id = int('id', o.id, 0, 0, 0xffffffff);
  const ifName = o.ifName ?? `memif${id}`;
  const appName = o.appName ?? 'tsvpp';
  for (const [k, v] of [['ifName', ifName], ['appName', appName]] as const) {
    if (Buffer.byteLength(v) > MEMIF_NAME_LEN - 1) throw new MemifConfigError(`${k} '${v}' is longer than ${MEMIF_NAME_LEN - 1} bytes`);
    if (v.includes('\0')) throw new MemifConfigError(`${k} contains a NUL byte`);
  }
  const socket = o.socket ?? '/run/vpp/memif.sock';
  if (socket === '' || socket === '@') throw new MemifConfigError('socket path is empty');
  return {
    socket,
    role: o.role,
    id,
    secret,
    mode: modes[modeName],
    modeName,
    ifName,
    appName,
    queues: int('queues', o.queues, 1, 1, Math.min(MEMIF_MAX_S2M_RING, MEMIF_MAX_M2S_RING)),
    log2RingSize: int('log2RingSize', o.log2RingSize, 10, 1, MEMIF_MAX_LOG2_RING_SIZE),
    bufferSize: int('bufferSize', o.bufferSize, 2048, MIN_BUFFER_SIZE, MAX_BUFFER_SIZE),
    reconnectMs: int('reconnectMs', o.reconnectMs, 1000, 1, 3_600_000),
    handshakeTimeoutMs: int('handshakeTimeoutMs', o.handshakeTimeoutMs, 5000, 1, 3_600_000),
    allowUnsealedRegions: o.allowUnsealedRegions ?? false,
  };
}
