// A connected memif: the mapped regions, the rings' interrupt eventfds and the queues, from one
// side's point of view. rx/tx wrap the ring layer so that a ring violation by the peer becomes a
// disconnect with the violation as its reason.
import {
  MappedRegion, Reactor, SysError, closeAll, drainEventfd, signalEventfd,
} from '../../sys/index.js';
import { MemifQueue, MemifRingError, RxBurst, TxBurst } from '../ring/index.js';
import { fault, MemifErrorCode as E, type MemifFault } from '../wire.js';
import type { MemifRole } from './config.js';

export interface RegionResource {
  fd: number;
  size: number;
  map: MappedRegion;
}

export interface QueueResource {
  queue: MemifQueue;
  /** The ring's interrupt eventfd (created by the slave, shared with the master). */
  eventfd: number;
  /** Where the ring is, as ADD_RING announced it. */
  ring: QueueExport['ring'];
  /** Slave: the buffer each slot owns. */
  slots?: QueueExport['slots'];
}

/** What a worker thread needs to map one queue of this connection itself (fds are process-wide). */
export interface QueueExport {
  role: MemifRole;
  direction: 'rx' | 'tx';
  index: number;
  regions: { fd: number; size: number }[];
  ring: { type: number; index: number; region: number; offset: number; log2RingSize: number };
  bufferSize: number;
  slots?: { region: Uint16Array; offset: Uint32Array };
  eventfd: number;
}

export class MemifConnection {
  readonly role: MemifRole;
  readonly peerName: string;
  readonly peerIfName: string;
  readonly rx: readonly QueueResource[];
  readonly tx: readonly QueueResource[];
  readonly regions: readonly RegionResource[];
  readonly bufferSize: number;
  #fail: (f: MemifFault) => void;
  #open = true;
  #watched = new Set<number>();

  constructor(args: {
    role: MemifRole;
    peerName: string;
    peerIfName: string;
    regions: RegionResource[];
    rx: QueueResource[];
    tx: QueueResource[];
    /** Slave: its buffer size (0 for a master, which uses what the slave posts). */
    bufferSize: number;
    fail: (f: MemifFault) => void;
  }) {
    this.role = args.role;
    this.peerName = args.peerName;
    this.peerIfName = args.peerIfName;
    this.regions = args.regions;
    this.rx = args.rx;
    this.tx = args.tx;
    this.bufferSize = args.bufferSize;
    this.#fail = args.fail;
    // Polling by default: the peer is told not to kick us until someone asks for interrupts.
    for (let q = 0; q < this.rx.length; q++) this.setRxMode(q, 'polling');
  }

  /** What a worker thread needs to drive each queue itself (see attachQueue). */
  get exports(): { rx: QueueExport[]; tx: QueueExport[] } {
    const regions = this.regions.map((g) => ({ fd: g.fd, size: g.size }));
    const exp = (r: QueueResource, direction: 'rx' | 'tx'): QueueExport => ({
      role: this.role, direction, index: r.ring.index, regions, ring: r.ring, bufferSize: this.bufferSize,
      ...(r.slots ? { slots: r.slots } : {}), eventfd: r.eventfd,
    });
    return { rx: this.rx.map((r) => exp(r, 'rx')), tx: this.tx.map((r) => exp(r, 'tx')) };
  }

  get open(): boolean {
    return this.#open;
  }

  /** Receives up to `max` packets from rx queue `q` into `burst`; 0 after a ring violation (which disconnects). */
  rxBurst(q: number, burst: RxBurst, max = burst.maxPackets): number {
    if (!this.#open) return 0;
    try {
      return this.rx[q]!.queue.rx(burst, max);
    } catch (e) {
      return this.#violation(e);
    }
  }

  /** Hands received packets back to the peer. */
  release(q: number, n: number): void {
    if (!this.#open) return;
    try {
      this.rx[q]!.queue.release(n);
    } catch (e) {
      this.#violation(e);
    }
  }

  /** Copies packets into tx queue `q` and kicks the peer if it wants interrupts. Returns how many went. */
  txBurst(q: number, packets: ArrayLike<Uint8Array>, count = packets.length, start = 0): number {
    if (!this.#open) return 0;
    const res = this.tx[q]!;
    try {
      const n = res.queue.tx(packets, count, start);
      if (n > 0 && res.queue.peerWantsKick()) signalEventfd(res.eventfd);
      return n;
    } catch (e) {
      return this.#violation(e);
    }
  }

  /** Zero-copy transmit: reserve buffers, fill them through `burst`, then commitTx. */
  allocTx(q: number, burst: TxBurst, n: number, sizes?: ArrayLike<number>): number {
    if (!this.#open) return 0;
    try {
      return this.tx[q]!.queue.allocTx(burst, n, sizes);
    } catch (e) {
      return this.#violation(e);
    }
  }

  commitTx(q: number, n?: number): number {
    if (!this.#open) return 0;
    const res = this.tx[q]!;
    try {
      const sent = res.queue.commitTx(n);
      if (sent > 0 && res.queue.peerWantsKick()) signalEventfd(res.eventfd);
      return sent;
    } catch (e) {
      return this.#violation(e);
    }
  }

  /**
   * Zero-copy forwarding (slave only): sends packets start .. start+count-1 (default: the rest) of
   * `burst`, which rxBurst(rxq, burst) filled last, out on tx queue `txq` by moving their buffers
   * instead of copying them (SlaveTxQueue.forward), and kicks the peer if it wants interrupts. The
   * packets sent are released; release the rest to drop them. Returns how many went.
   * @throws Error on a master (the buffers it receives are the slave's: copy with allocTx/commitTx)
   */
  forward(rxq: number, txq: number, burst: RxBurst, count?: number, start = 0): number {
    if (!this.#open) return 0;
    const res = this.tx[txq]!;
    try {
      const n = res.queue.forward(this.rx[rxq]!.queue, burst, count, start);
      if (n > 0 && res.queue.peerWantsKick()) signalEventfd(res.eventfd);
      return n;
    } catch (e) {
      return this.#violation(e);
    }
  }

  /**
   * Kicks the peer again for tx queue `q` when it wants interrupts and has not taken everything on
   * the ring; returns whether it did. For peers that read a bounded batch per interrupt and then wait
   * for the next one — VPP's memif input takes at most 256 packets per interrupt — so the rest of a
   * train stays on the ring until someone kicks: call it while waiting for such a peer.
   */
  kick(q: number): boolean {
    if (!this.#open) return false;
    const res = this.tx[q]!;
    if (!res.queue.peerWantsKick() || res.queue.txSpace() >= res.queue.size) return false;
    signalEventfd(res.eventfd);
    return true;
  }

  /** Polling (the peer is told not to kick us) or interrupt mode for rx queue `q`. */
  setRxMode(q: number, mode: 'polling' | 'interrupt'): void {
    this.rx[q]!.queue.setInterruptMode(mode === 'interrupt');
  }

  /** Interrupt mode: calls `cb` whenever the peer kicks rx queue `q`. Pass null to stop. */
  onInterrupt(q: number, cb: (() => void) | null): void {
    const fd = this.rx[q]!.eventfd;
    const reactor = Reactor.get();
    if (cb === null) {
      reactor.unwatch(fd);
      this.#watched.delete(fd);
      return;
    }
    this.setRxMode(q, 'interrupt');
    this.#watched.add(fd);
    reactor.watch(fd, () => {
      drainEventfd(fd);
      if (this.#open) cb();
    });
  }

  #violation(e: unknown): number {
    if (e instanceof MemifRingError) {
      this.#fail(fault(e.code, e.message));
      return 0;
    }
    throw e;
  }

  /** Releases every resource: interrupt watches, mappings and fds. Idempotent. */
  dispose(): void {
    if (!this.#open) return;
    this.#open = false;
    const reactor = Reactor.get();
    for (const fd of this.#watched) reactor.unwatch(fd);
    this.#watched.clear();
    for (const r of this.regions) r.map.unmap();
    closeAll([...this.regions.map((r) => r.fd), ...this.rx.map((q) => q.eventfd), ...this.tx.map((q) => q.eventfd)]);
  }
}

/** Ends a session's hold on memory and fds: the connection owns them once it exists; before that
 *  (a handshake cut short) the session's own lists do. */
export function releaseSessionResources(conn: MemifConnection | null, regions: readonly RegionResource[], eventfds: readonly number[]): void {
  if (conn) {
    conn.dispose();
    return;
  }
  for (const r of regions) r.map.unmap();
  closeAll([...regions.map((r) => r.fd), ...eventfds]);
}

/** The fault for an exception out of a handler: a ring or system error says what it was. */
export function errorFault(e: unknown): MemifFault {
  if (e instanceof MemifRingError) return fault(e.code, e.message);
  if (e instanceof SysError) return fault(E.SYSCALL, e.message);
  if (e instanceof RangeError) return fault(E.INVAL_ARG, e.message);
  return fault(E.INTERNAL, `internal error: ${String(e)}`);
}
