// The master side: one listener per socket path serving any number of interfaces (told apart by
// INIT id), and one MasterSession per accepted connection. The master owns no memory: it maps
// what the slave announces, after checking it.
import { EventEmitter } from 'node:events';
import { chmodSync, readlinkSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import {
  Reactor, acceptSeqpacket, listenSeqpacket, closeFd, closeAll, fdSize, MappedRegion,
  ensureSealedAgainstShrink, setNonBlocking, SysError,
} from '../../sys/index.js';
import { createMasterQueue } from '../ring/index.js';
import { ControlChannel } from './channel.js';
import { errorFault, MemifConnection, releaseSessionResources, type QueueResource, type RegionResource } from './connection.js';
import {
  fault, peerFault, MemifErrorCode as E, MEMIF_MAX_LOG2_RING_SIZE, MEMIF_MAX_M2S_RING, MEMIF_MAX_REGION,
  MEMIF_MAX_REGION_SIZE, MEMIF_MAX_S2M_RING, MEMIF_MSG_ADD_RING_FLAG_S2M, MEMIF_VERSION, MsgType, modeNames,
  msgTypeName, ringBytes, RingType, type AddRegionMsg, type AddRingMsg, type InitMsg, type MemifFault, type MemifMsg,
} from '../wire.js';
import type { MemifConfig } from './config.js';

/** What a MasterSession needs from the interface it binds to. */
export interface MasterEndpoint {
  readonly config: MemifConfig;
  readonly busy: boolean;
  sessionAttached(session: MasterSession): void;
  sessionConnected(session: MasterSession, conn: MemifConnection): void;
  sessionEnded(session: MasterSession, f: MemifFault, byPeer: boolean): void;
}

export class MemifListener extends EventEmitter {
  static #byPath = new Map<string, MemifListener>();

  /** The listener for `path`, created on first use. */
  static for(path: string, socketMode = 0o660): MemifListener {
    let l = MemifListener.#byPath.get(path);
    if (!l) {
      l = new MemifListener(path, socketMode);
      MemifListener.#byPath.set(path, l);
    }
    return l;
  }

  readonly path: string;
  /** Time a connecting slave has to finish the handshake: the longest of its interfaces'. */
  get handshakeTimeoutMs(): number {
    let ms = 0;
    for (const ep of this.#endpoints.values()) ms = Math.max(ms, ep.config.handshakeTimeoutMs);
    return ms || 5000;
  }
  readonly #fd: number;
  readonly #endpoints = new Map<number, MasterEndpoint>();
  readonly #sessions = new Set<MasterSession>();
  #closed = false;

  private constructor(path: string, socketMode: number) {
    super();
    this.path = path;
    try {
      this.#fd = listenSeqpacket(path);
    } catch (e) {
      throw new Error(`memif socket ${path}: cannot listen: ${listenProblem(path, e)}`);
    }
    if (!path.startsWith('@')) chmodSync(path, socketMode);
    Reactor.get().watch(this.#fd, () => this.#accept());
  }

  add(ep: MasterEndpoint): void {
    const id = ep.config.id;
    if (this.#endpoints.has(id)) throw new Error(`memif socket ${this.path} already has an interface with id ${id}`);
    this.#endpoints.set(id, ep);
  }

  /** Removes an interface; the listener closes (and removes its socket file) with the last one. */
  remove(ep: MasterEndpoint): void {
    if (this.#endpoints.get(ep.config.id) === ep) this.#endpoints.delete(ep.config.id);
    for (const s of this.#sessions) if (s.endpoint === ep) s.disconnect(fault(E.DELETED));
    if (this.#endpoints.size === 0) this.close();
  }

  endpoint(id: number): MasterEndpoint | undefined {
    return this.#endpoints.get(id);
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  #accept(): void {
    for (;;) {
      let fd: number | null;
      try {
        fd = acceptSeqpacket(this.#fd);
      } catch (e) {
        // EMFILE and friends: the listener stays up and tries again on the next readiness.
        if (this.listenerCount('error')) this.emit('error', e);
        else console.warn(`memif ${this.path}: accept failed: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (fd === null) return;
      const s = new MasterSession(this, fd);
      this.#sessions.add(s);
    }
  }

  /** @internal */
  sessionEnded(s: MasterSession, f: MemifFault, bound: boolean): void {
    this.#sessions.delete(s);
    if (!bound) this.emit('rejected', { code: f.code, reason: f.reason, id: s.requestedId });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sessions) s.disconnect(fault(E.SOCKET_CLOSED));
    Reactor.get().unwatch(this.#fd);
    closeFd(this.#fd);
    if (!this.path.startsWith('@')) {
      try { unlinkSync(this.path); } catch { /* already gone */ }
    }
    MemifListener.#byPath.delete(this.path);
    this.emit('close');
  }
}

type MasterState = 'hello-sent' | 'init-ok' | 'connected' | 'closed';

interface RingAnnounce { msg: AddRingMsg; eventfd: number }

export class MasterSession {
  readonly listener: MemifListener;
  readonly channel: ControlChannel;
  endpoint: MasterEndpoint | null = null;
  requestedId: number | undefined;
  #state: MasterState = 'hello-sent';
  #peerName = '';
  #regions: RegionResource[] = [];
  #rings: RingAnnounce[] = [];
  #conn: MemifConnection | null = null;
  #timer: NodeJS.Timeout | null;

  constructor(listener: MemifListener, fd: number) {
    this.listener = listener;
    this.channel = new ControlChannel(fd, {
      message: (m, fds) => this.#message(m, fds),
      malformed: (f) => this.disconnect(f),
      closed: (f) => this.#end(f, true),
    });
    // Which interface the peer wants is known only after INIT, so the limit is the listener's.
    this.#timer = setTimeout(() => {
      if (this.#state !== 'connected') this.disconnect(fault(E.TIMEOUT));
    }, listener.handshakeTimeoutMs);
    this.channel.send({
      type: MsgType.HELLO,
      name: 'tsvpp',
      minVersion: MEMIF_VERSION,
      maxVersion: MEMIF_VERSION,
      maxRegion: MEMIF_MAX_REGION - 1,
      maxM2sRing: MEMIF_MAX_M2S_RING - 1,
      maxS2mRing: MEMIF_MAX_S2M_RING - 1,
      maxLog2RingSize: MEMIF_MAX_LOG2_RING_SIZE,
    });
  }

  get state(): MasterState {
    return this.#state;
  }

  #message(m: MemifMsg, fds: number[]): void {
    try {
      const err = this.#handle(m, fds);
      if (err) {
        closeAll(fds);
        this.disconnect(err);
      }
    } catch (e) {
      closeAll(fds);
      this.disconnect(errorFault(e));
    }
  }

  /** Handles one message; returns the fault to refuse it with. Consumes `fds` on success. */
  #handle(m: MemifMsg, fds: number[]): MemifFault | null {
    if (m.type === MsgType.DISCONNECT) {
      closeAll(fds);
      this.#end(peerFault(m), true);
      return null;
    }
    const unexpected = (when: string) => fault(E.UNEXPECTED_MSG, `Unexpected message ${msgTypeName(m.type)} ${when}`);
    switch (this.#state) {
      case 'hello-sent':
        if (m.type !== MsgType.INIT) return unexpected('before INIT');
        return this.#init(m, fds);
      case 'init-ok':
        if (m.type === MsgType.ADD_REGION) return this.#addRegion(m, fds);
        if (m.type === MsgType.ADD_RING) return this.#addRing(m, fds);
        if (m.type === MsgType.CONNECT) return this.#connect(m.ifName, fds);
        return unexpected('during setup');
      default:
        return unexpected('while connected');
    }
  }

  #init(m: InitMsg, fds: number[]): MemifFault | null {
    if (fds.length) return fault(E.UNEXPECTED_FD, 'Unexpected fd with INIT');
    this.requestedId = m.id;
    if (m.version !== MEMIF_VERSION) {
      return fault(E.PROTO, `Incompatible memif version ${m.version >> 8}.${m.version & 0xff} (this end speaks ${MEMIF_VERSION >> 8}.${MEMIF_VERSION & 0xff})`);
    }
    const ep = this.listener.endpoint(m.id);
    if (!ep) return fault(E.ID, `ID not found: no interface with id ${m.id} on this socket`);
    if (ep.busy) return fault(E.ALRCONN, `Already connected: interface id ${m.id} has a slave`);
    const want = ep.config.secret;
    if (want) {
      if (!m.secret) return fault(E.NOSECRET, 'Secret required');
      if (!secretsEqual(want, m.secret)) return fault(E.SECRET, 'Incorrect secret');
    }
    if (m.mode !== ep.config.mode) {
      return fault(E.MODE, `Mode mismatch: interface id ${m.id} is ${ep.config.modeName}, peer asked for ${modeNames[m.mode as 0 | 1 | 2] ?? `mode ${m.mode}`}`);
    }
    this.endpoint = ep;
    this.#peerName = m.name;
    ep.sessionAttached(this);
    this.#state = 'init-ok';
    this.channel.send({ type: MsgType.ACK });
    return null;
  }

  #addRegion(m: AddRegionMsg, fds: number[]): MemifFault | null {
    if (fds.length !== 1) return fault(E.NO_SHMFD, fds.length ? `ADD_REGION carried ${fds.length} fds, expected 1` : 'Missing region fd');
    if (m.index >= MEMIF_MAX_REGION) return fault(E.MAXREG, `Invalid region index ${m.index} (at most ${MEMIF_MAX_REGION} regions)`);
    if (m.index !== this.#regions.length) return fault(E.BAD_REGION, `Invalid region index ${m.index} (expected ${this.#regions.length})`);
    if (m.size === 0n || m.size > BigInt(MEMIF_MAX_REGION_SIZE)) return fault(E.BAD_REGION, `Invalid region size ${m.size} for region ${m.index}`);
    const size = Number(m.size);
    const fd = fds[0]!;
    // Seal first, then measure: a size read before the seal could be stale by the time the seal
    // holds (the slave truncates in between), and mapping past the end is SIGBUS on first touch.
    const sealed = ensureSealedAgainstShrink(fd);
    const actual = fdSize(fd);
    if (actual < size) return fault(E.BAD_REGION, `region ${m.index} fd holds ${actual} bytes, less than its announced size ${size}`);
    if (!sealed && !this.endpoint!.config.allowUnsealedRegions) {
      return fault(E.UNSEALED_REGION, `region ${m.index} fd cannot be sealed against shrinking; accept with --allow-unsealed-regions`);
    }
    const map = MappedRegion.map(fd, size);
    this.#regions.push({ fd, size, map });
    this.channel.send({ type: MsgType.ACK });
    return null;
  }

  #addRing(m: AddRingMsg, fds: number[]): MemifFault | null {
    if (fds.length !== 1) return fault(E.NO_INTFD, fds.length ? `ADD_RING carried ${fds.length} fds, expected 1` : 'Missing interrupt fd');
    const s2m = (m.flags & MEMIF_MSG_ADD_RING_FLAG_S2M) !== 0;
    const kind = s2m ? 'S2M' : 'M2S';
    const max = this.endpoint!.config.queues;
    if (m.index >= max) return fault(E.MAXRING, `Invalid ring index ${m.index}: interface has ${max} ${kind} queue${max === 1 ? '' : 's'}`);
    if (this.#rings.some((r) => isS2m(r.msg) === s2m && r.msg.index === m.index)) return fault(E.BAD_RING, `${kind} ring ${m.index} added twice`);
    if (m.region >= this.#regions.length) return fault(E.BAD_RING, `${kind} ring ${m.index}: invalid region index ${m.region}`);
    if (m.log2RingSize < 1 || m.log2RingSize > MEMIF_MAX_LOG2_RING_SIZE) {
      return fault(E.MAX_RING, `${kind} ring ${m.index}: invalid log2 ring size ${m.log2RingSize}`);
    }
    if (m.privateHdrSize !== 0) return fault(E.PRIVHDR, `${kind} ring ${m.index}: private headers are not supported`);
    // We read and write 8-byte counters on it from the reactor: anything but an eventfd (a socket or
    // pipe the peer feeds) would make those fail outside any handler.
    const kindOfFd = fdKind(fds[0]!);
    if (kindOfFd !== 'anon_inode:[eventfd]') return fault(E.BAD_INTFD, `${kind} ring ${m.index}: interrupt fd is not an eventfd (${kindOfFd})`);
    const region = this.#regions[m.region]!;
    if (m.offset % 8 !== 0 || m.offset + ringBytes(m.log2RingSize) > region.size) {
      return fault(E.BAD_RING, `${kind} ring ${m.index} at offset ${m.offset} (${ringBytes(m.log2RingSize)} bytes) does not fit region ${m.region} of ${region.size} bytes`);
    }
    setNonBlocking(fds[0]!);
    this.#rings.push({ msg: m, eventfd: fds[0]! });
    this.channel.send({ type: MsgType.ACK });
    return null;
  }

  #connect(peerIfName: string, fds: number[]): MemifFault | null {
    if (fds.length) return fault(E.UNEXPECTED_FD, 'Unexpected fd with CONNECT');
    const regions = this.#regions.map((r) => r.map.buffer);
    const byType = (s2m: boolean) => this.#rings.filter((r) => isS2m(r.msg) === s2m).sort((a, b) => a.msg.index - b.msg.index);
    const s2m = byType(true);
    const m2s = byType(false);
    if (!this.#regions.length) return fault(E.INCOMPLETE, 'CONNECT before any region was added');
    if (!s2m.length) return fault(E.INCOMPLETE, 'CONNECT without any S2M ring');
    if (!m2s.length) return fault(E.INCOMPLETE, 'CONNECT without any M2S ring');
    for (const [list, kind] of [[s2m, 'S2M'], [m2s, 'M2S']] as const) {
      const gap = list.findIndex((r, i) => r.msg.index !== i);
      if (gap >= 0) return fault(E.INCOMPLETE, `CONNECT with ${kind} rings not numbered from 0 (missing ring ${gap})`);
    }
    const build = (list: RingAnnounce[]): QueueResource[] => list.map((r) => {
      const ring = { type: isS2m(r.msg) ? RingType.S2M : RingType.M2S, index: r.msg.index, region: r.msg.region, offset: r.msg.offset, log2RingSize: r.msg.log2RingSize };
      const queue = createMasterQueue(ring, regions);
      queue.reset();
      return { queue, eventfd: r.eventfd, ring };
    });
    // The master receives on S2M rings and transmits on M2S rings.
    const conn = new MemifConnection({
      role: 'master',
      peerName: this.#peerName,
      peerIfName,
      regions: this.#regions,
      rx: build(s2m),
      tx: build(m2s),
      bufferSize: 0,
      fail: (f) => this.disconnect(f),
    });
    this.#conn = conn;
    this.#state = 'connected';
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    this.channel.send({ type: MsgType.CONNECTED, ifName: this.endpoint!.config.ifName });
    if (this.channel.open) this.endpoint!.sessionConnected(this, conn);
    return null;
  }

  /** Sends DISCONNECT with the fault, closes and releases everything. */
  disconnect(f: MemifFault): void {
    if (this.#state === 'closed') return;
    this.channel.disconnect(f);
    this.#end(f, false);
  }

  #end(f: MemifFault, byPeer: boolean): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    this.channel.close();
    releaseSessionResources(this.#conn, this.#regions, this.#rings.map((r) => r.eventfd));
    this.#regions = [];
    this.#rings = [];
    const ep = this.endpoint;
    this.listener.sessionEnded(this, f, ep !== null);
    if (ep) ep.sessionEnded(this, f, byPeer);
  }
}

const isS2m = (m: AddRingMsg): boolean => (m.flags & MEMIF_MSG_ADD_RING_FLAG_S2M) !== 0;

/** What an fd refers to, as /proc shows it ('anon_inode:[eventfd]', 'socket:[123]', a path …). */
function fdKind(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch (e) {
    return `unknown: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

function listenProblem(path: string, e: unknown): string {
  if (!(e instanceof SysError)) return String(e);
  const dir = dirname(path);
  if (e.code === 'ENOENT') return `directory ${dir} does not exist (ENOENT)`;
  if (e.code === 'EACCES' || e.code === 'EROFS') return `directory ${dir} is not writable (${e.code})`;
  if (e.code === 'EADDRINUSE') return `the address is in use (another process listens on it)`;
  return e.message;
}

function secretsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Constant time in the secret's content; the length is not secret (at most 24 bytes).
  return x.length === y.length && timingSafeEqual(x, y);
}
