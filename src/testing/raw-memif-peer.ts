// A raw memif control-channel peer for tests: it speaks SOCK_SEQPACKET directly (src/sys), so it
// can send what no well-behaved implementation would: odd-sized datagrams, messages out of order,
// the wrong fds (or none). Replies are decoded; a reply that does not decode is reported as such.
//
// Waiting is polling (a non-blocking receive, then a 1 ms timer), so the peer never holds a Reactor
// watch and never keeps the process alive once a test is done with it.
import {
  acceptSeqpacket, closeAll, closeFd, connectUnix, createEventfd, createMemfd, listenSeqpacket,
  MappedRegion, receiveMessage, sendMessage,
} from '../sys/index.js';
import { initSharedMemory, planRegions, RingType, type MemoryPlan } from '../memif/ring/index.js';
import { decodeMsg, encodeMsg, MemifProtocolError } from '../memif/socket/messages.js';
import { MsgType, msgTypeName, type DisconnectMsg, type MemifMsg } from '../memif/wire.js';
import { unlinkSync } from 'node:fs';

/** What came back: a decoded message with its fds, bytes that did not decode, or the end. */
export type Received =
  | { kind: 'msg'; msg: MemifMsg; fds: number[] }
  | { kind: 'bad'; error: string; length: number; fds: number[] }
  | { kind: 'eof' };

const tick = () => new Promise((r) => setTimeout(r, 1));

export class RawMemifPeer {
  #fd: number;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Connects to a listening memif socket (a master). */
  static connect(path: string): RawMemifPeer {
    return new RawMemifPeer(connectUnix(path));
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Sends raw bytes (any length) with `fds` (the peer's copies stay ours). False when the socket is gone. */
  sendBytes(bytes: Uint8Array, fds: readonly number[] = []): boolean {
    try {
      return sendMessage(this.#fd, bytes, fds);
    } catch {
      return false; // EPIPE / ECONNRESET: the other end has closed
    }
  }

  /** Encodes and sends one message. */
  send(msg: MemifMsg, fds: readonly number[] = []): boolean {
    return this.sendBytes(encodeMsg(msg), fds);
  }

  /** A message of type `type` with `patch` written over the bytes (for values encode refuses). */
  sendPatched(type: number, patch: Record<number, number>, fds: readonly number[] = [], size = 128): boolean {
    const b = new Uint8Array(size);
    b[0] = type & 0xff;
    b[1] = type >> 8;
    for (const [off, v] of Object.entries(patch)) b[Number(off)] = v;
    return this.sendBytes(b, fds);
  }

  /** Sends with fds made by `make` and closes our copies afterwards. */
  sendWith(msg: MemifMsg, make: () => number[]): boolean {
    const fds = make();
    try {
      return this.send(msg, fds);
    } finally {
      closeAll(fds);
    }
  }

  /** The next message, waiting up to `timeoutMs`. Throws on timeout. */
  async receive(timeoutMs = 2000): Promise<Received> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.#fd < 0) return { kind: 'eof' };
      const r = receiveMessage(this.#fd, 512);
      if (r === 'eof') return { kind: 'eof' };
      if (r !== 'again') {
        try {
          return { kind: 'msg', msg: decodeMsg(r.data, r.length), fds: r.fds };
        } catch (e) {
          if (!(e instanceof MemifProtocolError)) throw e;
          return { kind: 'bad', error: e.message, length: r.length, fds: r.fds };
        }
      }
      if (Date.now() > until) throw new Error(`raw memif peer: nothing received within ${timeoutMs} ms`);
      await tick();
    }
  }

  /** The next message, which must decode and be of `type`; fds that came with it are closed. */
  async expect<T extends MemifMsg['type']>(type: T, timeoutMs = 2000): Promise<Extract<MemifMsg, { type: T }>> {
    const r = await this.receive(timeoutMs);
    if (r.kind === 'msg') closeAll(r.fds);
    if (r.kind !== 'msg' || r.msg.type !== type) {
      throw new Error(`raw memif peer: expected ${msgTypeName(type)}, got ${describe(r)}`);
    }
    return r.msg as Extract<MemifMsg, { type: T }>;
  }

  /** Waits for DISCONNECT then EOF; returns it (code and reason). Throws if anything else arrives. */
  async expectDisconnect(timeoutMs = 2000): Promise<DisconnectMsg> {
    const d = await this.expect(MsgType.DISCONNECT, timeoutMs);
    await this.expectEof(timeoutMs);
    return d;
  }

  /** Waits for EOF with nothing before it. */
  async expectEof(timeoutMs = 2000): Promise<void> {
    const r = await this.receive(timeoutMs);
    if (r.kind !== 'eof') {
      closeAll(r.fds);
      throw new Error(`raw memif peer: expected EOF, got ${describe(r)}`);
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    closeFd(this.#fd);
    this.#fd = -1;
  }
}

export function describe(r: Received): string {
  if (r.kind === 'eof') return 'EOF';
  if (r.kind === 'bad') return `undecodable ${r.length}-byte message (${r.error})`;
  return `${msgTypeName(r.msg.type)} ${JSON.stringify(r.msg, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
}

/** A raw listening socket: plays a master towards a tsvpp slave. */
export class RawMemifListener {
  readonly path: string;
  #fd: number;

  constructor(path: string) {
    this.path = path;
    this.#fd = listenSeqpacket(path);
  }

  /** The next connection, waiting up to `timeoutMs`. */
  async accept(timeoutMs = 3000): Promise<RawMemifPeer> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const fd = acceptSeqpacket(this.#fd);
      if (fd !== null) return new RawMemifPeer(fd);
      if (Date.now() > until) throw new Error(`raw memif listener: no connection on ${this.path} within ${timeoutMs} ms`);
      await tick();
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    closeFd(this.#fd);
    this.#fd = -1;
    if (!this.path.startsWith('@')) {
      try { unlinkSync(this.path); } catch { /* gone */ }
    }
  }
}

// --- fds to send ---
export const memfd = (size: number): number => createMemfd('raw memif peer region', size);
export const eventfd = (): number => createEventfd();

/** A HELLO as a tsvpp or libmemif master sends it (version 2.0 only, 255 of everything, log2 14). */
export const helloMsg = (over: Partial<Extract<MemifMsg, { type: 2 }>> = {}): MemifMsg => ({
  type: MsgType.HELLO, name: 'raw', minVersion: 0x0200, maxVersion: 0x0200,
  maxRegion: 254, maxM2sRing: 254, maxS2mRing: 254, maxLog2RingSize: 14, ...over,
});

/** An INIT for interface `id`, version 2.0, ethernet. */
export const initMsg = (over: Partial<Extract<MemifMsg, { type: 3 }>> = {}): MemifMsg => ({
  type: MsgType.INIT, version: 0x0200, id: 0, mode: 0, secret: '', name: 'raw peer', ...over,
});

// --- a raw slave's setup, step by step ---
export interface RawSlaveSetup {
  /** The mapped regions (zeros when initMemory is false); unmap them when done. */
  regions: MappedRegion[];
  plan: MemoryPlan;
}

/**
 * Drives a correct slave handshake from a connected raw peer up to (not including) CONNECT:
 * HELLO, INIT, every ADD_REGION with its memfd, every ADD_RING with an eventfd, each answered by
 * ACK. With initMemory false the rings are left unwritten (no cookie); regionFd makes each region's
 * fd (default: a memfd sealed against shrinking). Our fd copies are closed.
 */
export async function rawSlaveSetup(
  p: RawMemifPeer,
  o: { id?: number; secret?: string; queues?: number; log2?: number; initMemory?: boolean; regionFd?: (size: number) => number } = {},
): Promise<RawSlaveSetup> {
  await p.expect(MsgType.HELLO);
  p.send(initMsg({ id: o.id ?? 0, secret: o.secret ?? '' }));
  await p.expect(MsgType.ACK);
  const plan = planRegions({ s2mRings: o.queues ?? 1, m2sRings: o.queues ?? 1, log2RingSize: o.log2 ?? 4, bufferSize: 256 });
  // Like libmemif, the memory is ready before it is announced (a region may not be ours to touch
  // afterwards: a test's fd may be one the master truncates).
  const fds = plan.regions.map((r) => (o.regionFd ?? memfd)(r.size));
  const regions = plan.regions.map((r, i) => MappedRegion.map(fds[i]!, r.size));
  if (o.initMemory ?? true) initSharedMemory(plan, regions.map((r) => r.buffer));
  try {
    for (const r of plan.regions) {
      p.send({ type: MsgType.ADD_REGION, index: r.index, size: BigInt(r.size) }, [fds[r.index]!]);
      await p.expect(MsgType.ACK);
    }
  } finally {
    closeAll(fds);
  }
  for (const ring of plan.rings) {
    p.sendWith({
      type: MsgType.ADD_RING, flags: ring.type === RingType.S2M ? 1 : 0, index: ring.index, region: ring.region,
      offset: ring.offset, log2RingSize: ring.log2RingSize, privateHdrSize: 0,
    }, () => [eventfd()]);
    await p.expect(MsgType.ACK);
  }
  return { regions, plan };
}

/**
 * Plays a correct master towards a slave that just connected to a raw listener: HELLO, then ACK to
 * INIT / ADD_REGION / ADD_RING (their fds are closed) and CONNECTED to CONNECT. Returns the INIT.
 */
export async function rawMasterHandshake(p: RawMemifPeer, hello: MemifMsg = helloMsg()): Promise<Extract<MemifMsg, { type: 3 }>> {
  p.send(hello);
  const init = await p.expect(MsgType.INIT);
  p.send({ type: MsgType.ACK });
  for (;;) {
    const r = await p.receive();
    if (r.kind !== 'msg') throw new Error(`raw master: handshake cut short by ${describe(r)}`);
    closeAll(r.fds);
    if (r.msg.type === MsgType.CONNECT) break;
    if (r.msg.type !== MsgType.ADD_REGION && r.msg.type !== MsgType.ADD_RING) throw new Error(`raw master: unexpected ${describe(r)}`);
    p.send({ type: MsgType.ACK });
  }
  p.send({ type: MsgType.CONNECTED, ifName: 'raw-master' });
  return init;
}
