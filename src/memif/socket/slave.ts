// The slave side: connects, negotiates within what the master's HELLO allows, creates and announces
// the shared memory (regions and rings), and reconnects after the master goes away.
import {
  connectUnix, createEventfd, createMemfd, MappedRegion, closeAll,
} from '../../sys/index.js';
import {
  planRegions, initSharedMemory, createSlaveQueues, type MemifQueue, type MemoryPlan,
} from '../ring/index.js';
import { ControlChannel } from './channel.js';
import { errorFault, MemifConnection, releaseSessionResources, type QueueResource, type RegionResource } from './connection.js';
import {
  fault, peerFault, MemifErrorCode as E, MEMIF_MSG_ADD_RING_FLAG_S2M, MEMIF_VERSION, MsgType, msgTypeName, RingType,
  type HelloMsg, type MemifFault, type MemifMsg,
} from '../wire.js';
import type { MemifConfig } from './config.js';

export interface SlaveEndpoint {
  readonly config: MemifConfig;
  sessionConnected(session: SlaveSession, conn: MemifConnection): void;
  /** The session ended; `f` says why; `wasConnected` tells whether CONNECTED had been seen. */
  sessionEnded(session: SlaveSession, f: MemifFault, byPeer: boolean, wasConnected: boolean): void;
}

type SlaveState = 'wait-hello' | 'setup' | 'wait-connected' | 'connected' | 'closed';

interface Pending { msg: MemifMsg; fds: number[] }

export class SlaveSession {
  readonly endpoint: SlaveEndpoint;
  readonly channel: ControlChannel;
  #state: SlaveState = 'wait-hello';
  #peerName = '';
  #plan: MemoryPlan | null = null;
  #regions: RegionResource[] = [];
  #eventfds: number[] = [];
  #queue: Pending[] = [];
  #conn: MemifConnection | null = null;
  #timer: NodeJS.Timeout | null;

  /** Connects now; throws SysError (ENOENT, ECONNREFUSED, …) when no master listens. */
  constructor(endpoint: SlaveEndpoint) {
    this.endpoint = endpoint;
    const fd = connectUnix(endpoint.config.socket);
    this.channel = new ControlChannel(fd, {
      message: (m, fds) => this.#message(m, fds),
      malformed: (f) => this.disconnect(f),
      closed: (f) => this.#end(f, true),
    });
    this.#timer = setTimeout(() => {
      if (this.#state !== 'connected') this.disconnect(fault(E.TIMEOUT));
    }, endpoint.config.handshakeTimeoutMs);
  }

  get state(): SlaveState {
    return this.#state;
  }

  #message(m: MemifMsg, fds: number[]): void {
    // The master never sends fds: whatever comes is closed.
    closeAll(fds);
    try {
      const err = this.#handle(m);
      if (err) this.disconnect(err);
    } catch (e) {
      this.disconnect(errorFault(e));
    }
  }

  #handle(m: MemifMsg): MemifFault | null {
    if (m.type === MsgType.DISCONNECT) {
      this.#end(peerFault(m), true);
      return null;
    }
    const unexpected = (when: string) => fault(E.UNEXPECTED_MSG, `Unexpected message ${msgTypeName(m.type)} ${when}`);
    switch (this.#state) {
      case 'wait-hello':
        if (m.type !== MsgType.HELLO) return unexpected('before HELLO');
        return this.#hello(m);
      case 'setup':
        if (m.type !== MsgType.ACK) return unexpected('during setup');
        this.#sendNext();
        return null;
      case 'wait-connected':
        if (m.type !== MsgType.CONNECTED) return unexpected('before CONNECTED');
        return this.#connected(m.ifName);
      default:
        return unexpected('while connected');
    }
  }

  #hello(h: HelloMsg): MemifFault | null {
    if (h.minVersion > MEMIF_VERSION || h.maxVersion < MEMIF_VERSION) {
      return fault(E.PROTO, `Incompatible memif version: master speaks ${fmt(h.minVersion)}..${fmt(h.maxVersion)}, this end ${fmt(MEMIF_VERSION)}`);
    }
    this.#peerName = h.name;
    const c = this.endpoint.config;
    // HELLO's max_* fields are the highest index the master accepts (count - 1), as libmemif sends them.
    const s2m = Math.min(c.queues, h.maxS2mRing + 1);
    const m2s = Math.min(c.queues, h.maxM2sRing + 1);
    const log2 = Math.min(c.log2RingSize, h.maxLog2RingSize);
    if (s2m < 1 || m2s < 1 || log2 < 1) return fault(E.MAXRING, `master allows no usable rings (S2M ${s2m}, M2S ${m2s}, log2 ring size ${log2})`);
    const plan = planRegions({ s2mRings: s2m, m2sRings: m2s, log2RingSize: log2, bufferSize: c.bufferSize });
    if (plan.regions.length > h.maxRegion + 1) return fault(E.MAXREG, `master allows ${h.maxRegion + 1} regions, ${plan.regions.length} needed`);
    this.#plan = plan;
    for (const r of plan.regions) {
      const fd = createMemfd(`memif region ${r.index}`, r.size);
      this.#regions.push({ fd, size: r.size, map: MappedRegion.map(fd, r.size) });
    }
    initSharedMemory(plan, this.#regions.map((r) => r.map.buffer));
    this.#queue.push({ msg: { type: MsgType.INIT, version: MEMIF_VERSION, id: c.id, mode: c.mode, secret: c.secret, name: c.appName }, fds: [] });
    for (const r of plan.regions) {
      this.#queue.push({ msg: { type: MsgType.ADD_REGION, index: r.index, size: BigInt(r.size) }, fds: [this.#regions[r.index]!.fd] });
    }
    for (const ring of plan.rings) {
      const efd = createEventfd();
      this.#eventfds.push(efd);
      this.#queue.push({
        msg: {
          type: MsgType.ADD_RING,
          flags: ring.type === RingType.S2M ? MEMIF_MSG_ADD_RING_FLAG_S2M : 0,
          index: ring.index, region: ring.region, offset: ring.offset, log2RingSize: ring.log2RingSize, privateHdrSize: 0,
        },
        fds: [efd],
      });
    }
    this.#queue.push({ msg: { type: MsgType.CONNECT, ifName: c.ifName }, fds: [] });
    this.#state = 'setup';
    this.#sendNext();
    return null;
  }

  /** libmemif sends one setup message per ACK; so do we. */
  #sendNext(): void {
    const next = this.#queue.shift();
    if (!next) return;
    if (next.msg.type === MsgType.CONNECT) this.#state = 'wait-connected';
    this.channel.send(next.msg, next.fds);
  }

  #connected(peerIfName: string): MemifFault | null {
    const plan = this.#plan!;
    const buffers = this.#regions.map((r) => r.map.buffer);
    const { s2m, m2s } = createSlaveQueues(plan, buffers);
    // The eventfds were created in plan.rings order; the slave transmits on S2M and receives on M2S.
    const resource = (queue: MemifQueue, r: MemoryPlan['rings'][number]): QueueResource => ({
      queue, eventfd: this.#eventfds[plan.rings.indexOf(r)]!, slots: r.slots,
      ring: { type: r.type, index: r.index, region: r.region, offset: r.offset, log2RingSize: r.log2RingSize },
    });
    for (const q of [...s2m, ...m2s]) q.reset();
    const conn = new MemifConnection({
      role: 'slave',
      peerName: this.#peerName,
      peerIfName,
      regions: this.#regions,
      rx: m2s.map((queue, i) => resource(queue, plan.m2s[i]!)),
      tx: s2m.map((queue, i) => resource(queue, plan.s2m[i]!)),
      bufferSize: plan.bufferSize,
      fail: (f) => this.disconnect(f),
    });
    this.#conn = conn;
    this.#state = 'connected';
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    this.endpoint.sessionConnected(this, conn);
    return null;
  }

  disconnect(f: MemifFault): void {
    if (this.#state === 'closed') return;
    this.channel.disconnect(f);
    this.#end(f, false);
  }

  #end(f: MemifFault, byPeer: boolean): void {
    if (this.#state === 'closed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'closed';
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    this.channel.close();
    releaseSessionResources(this.#conn, this.#regions, this.#eventfds);
    this.#regions = [];
    this.#eventfds = [];
    this.#queue = [];
    this.endpoint.sessionEnded(this, f, byPeer, wasConnected);
  }
}

function fmt(v: number): string {
  return `${v >> 8}.${v & 0xff}`;
}
