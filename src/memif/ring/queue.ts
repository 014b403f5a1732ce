/**
 * MemifQueue: the data path of one memif ring, seen from one side. Each of the four (ring, role)
 * pairs is its own class; the two receivers have a loop each, the two senders share theirs
 * (tx-queue.ts) and differ only in per-slot methods, so no per-segment code asks which side it is on:
 *
 *   ring  role    class          we write                              we advance  we read (peer's)
 *   S2M   slave   SlaveTxQueue   desc flags/region/length/offset       head        tail (reclaim buffers)
 *   S2M   master  MasterRxQueue  nothing in descriptors                tail        head
 *   M2S   master  MasterTxQueue  desc flags + length only; capacity    tail        head (slots posted)
 *                                is the length the slave posted
 *   M2S   slave   SlaveRxQueue   re-posts: flags 0, own region/offset,  head        tail
 *                                length = bufferSize
 *
 * (libmemif main.c memif_tx_burst/memif_rx_burst/memif_refill_queue/memif_buffer_alloc, DPDK
 * rte_eth_memif.c eth_memif_tx/eth_memif_rx, VPP device.c memif_interface_tx_inline, node.c
 * memif_device_input_inline.) rx-queue.ts holds the two receivers, tx-queue.ts the two senders;
 * setup.ts's openQueue() picks the class.
 *
 * head/tail are free-running u16 counters; slot = counter & (size - 1). We keep our own index in
 * a private shadow and only ever read the peer's index from shared memory, so a peer scribbling
 * on "our" index cannot steer us. Every value the peer controls (its index, and on the rings it
 * writes, each descriptor's region/offset/length/flags) is validated before use; a violation
 * throws MemifRingError and nothing out of bounds is read or written. Descriptor words are read
 * once into locals, so a peer changing them concurrently cannot bypass a check.
 *
 * Ordering: descriptors (and payload) are written before the Atomics.store of head/tail, which
 * happens once per burst; the peer's head/tail is read with Atomics.load before any descriptor.
 *
 * The base class carries what all four share and, for the other direction's methods, the misuse
 * errors (rx() on a transmit ring …), so code holding a MemifQueue of either direction type-checks.
 * Not thread-safe: one MemifQueue per ring per side, used from one thread.
 */
import { type RxBurst, type TxBurst } from './burst.js';
import { type SlotTable } from './layout.js';
import { type RegionMemory, regionBytes, regionWords } from './region.js';
import { type RingView } from './ring.js';
import { RingType, ringTypeName } from '../wire.js';

export type MemifRole = 'master' | 'slave';

export interface MemifQueueOptions {
  role: MemifRole;
  ringType: RingType;
  ring: RingView;
  /** Region windows, index = region index. The byteLength of each is its size for bounds checks. */
  regions: readonly RegionMemory[];
  /** Slave only: size of each of its buffers (descriptor capacity it posts / may fill). */
  bufferSize?: number;
  /** Slave only: the buffer each slot of this ring owns. */
  slots?: SlotTable;
  /** Queue index, for error messages. Default 0. */
  ringIndex?: number;
  /**
   * Receive side: when the last published descriptor still has NEXT set, stop before that packet
   * and wait for the rest (as VPP's memif_parse_desc does) instead of throwing. Default false:
   * a chain running past the peer's head/tail is a protocol violation (every known producer
   * publishes whole packets).
   */
  allowPartialChains?: boolean;
}

/** The slave's own buffers: one per slot, all bufferSize bytes, checked against the regions once. */
export interface OwnBuffers {
  readonly size: number;
  readonly region: Uint16Array;
  readonly offset: Uint32Array;
}

export abstract class MemifQueue {
  readonly role: MemifRole;
  readonly ringType: RingType;
  readonly ring: RingView;
  /** True when this side writes packets into the ring (slave on S2M, master on M2S). */
  abstract readonly isProducer: boolean;
  readonly size: number;
  /** "S2M ring 0": prefix of error messages. */
  readonly name: string;

  protected readonly mask: number;
  protected readonly desc: Uint32Array;
  protected readonly desc16: Uint16Array;
  protected readonly regU8: Uint8Array[];
  protected readonly regU32: (Uint32Array | null)[];
  protected readonly regSize: Float64Array;
  protected readonly nRegions: number;

  /** Our index (slave: head, master: tail), u16. */
  protected own = 0;
  /** rx: next slot to receive (master: last_head, slave: last_tail). tx: last peer index seen. */
  protected cursor = 0;

  protected constructor(opts: MemifQueueOptions) {
    const { role, ringType, ring } = opts;
    this.role = role;
    this.ringType = ringType;
    this.ring = ring;
    this.size = ring.size;
    this.mask = ring.mask;
    this.name = `${ringTypeName(ringType)} ring ${opts.ringIndex ?? 0}`;
    this.desc = ring.desc;
    this.desc16 = ring.desc16;
    this.regU8 = opts.regions.map(regionBytes);
    this.regU32 = this.regU8.map(regionWords);
    this.regSize = Float64Array.from(this.regU8, (r) => r.byteLength);
    this.nRegions = this.regU8.length;
    ring.checkCookie(this.name);
  }

  /** Slave: its bufferSize and slots, validated against the regions (every slot's buffer fits). */
  protected ownBuffers(opts: MemifQueueOptions): OwnBuffers {
    const b = opts.bufferSize;
    if (b === undefined || !Number.isInteger(b) || b < 1 || b > 0xffffffff) {
      throw new RangeError(`MemifQueue ${this.name}: slave needs bufferSize (integer >= 1), got ${String(b)}`);
    }
    const slots = opts.slots;
    if (!slots || slots.region.length < this.size || slots.offset.length < this.size) {
      throw new RangeError(`MemifQueue ${this.name}: slave needs slots for all ${this.size} ring slots`);
    }
    for (let j = 0; j < this.size; j++) {
      const r = slots.region[j]!;
      const o = slots.offset[j]!;
      if (r >= this.nRegions || o + b > this.regSize[r]!) {
        throw new RangeError(`MemifQueue ${this.name}: slot ${j} buffer (region ${r}, offset ${o}, size ${b}) is outside the regions given`);
      }
    }
    return { size: b, region: slots.region, offset: slots.offset };
  }

  /**
   * Call once per connection, when the interface connects: zeroes head and tail like libmemif
   * memif_connect1 and DPDK memif_connect do (master: on CONNECT, before answering CONNECTED;
   * slave: on CONNECTED). The slave's M2S queue then posts every buffer (see SlaveRxQueue).
   */
  reset(): void {
    this.ring.storeTail(0);
    this.ring.storeHead(0);
    this.own = this.cursor = 0;
    this.clearState();
  }

  /**
   * Takes over a ring that another MemifQueue (in another thread) reset and has not used since:
   * the same state reset() leaves, read from shared memory instead of written to it.
   */
  adoptAfterReset(): void {
    this.own = this.cursor = 0;
    this.clearState();
  }

  /** Forgets per-connection state beyond own/cursor. */
  protected abstract clearState(): void;

  protected misuse(what: string): Error {
    return new Error(`MemifQueue ${this.name}: ${what}() on the ${this.role}'s ${this.isProducer ? 'transmit' : 'receive'} ring`);
  }

  // The other direction's methods: each class overrides its own.

  /** Received packets not yet released (0 on transmit rings). */
  get rxOutstanding(): number {
    return 0;
  }
  /** @see RxQueue.rx */
  rx(_burst: RxBurst, _maxPackets?: number): number {
    throw this.misuse('rx');
  }
  /** @see RxQueue.release */
  release(n: number): void {
    throw new RangeError(`MemifQueue ${this.name}: release(${n}) with 0 packets outstanding`);
  }
  releaseAll(): void {
    this.release(this.rxOutstanding);
  }
  /** @see RxQueue.setInterruptMode */
  setInterruptMode(_on: boolean): void {
    throw new Error(`MemifQueue ${this.name}: setInterruptMode() on a transmit ring; the receiver owns MASK_INT`);
  }
  /** @see TxQueue.txSpace */
  txSpace(): number {
    throw this.misuse('txSpace');
  }
  /** @see TxQueue.tx */
  tx(_packets: ArrayLike<Uint8Array>, _count?: number, _start?: number): number {
    throw this.misuse('tx');
  }
  /** @see TxQueue.allocTx */
  allocTx(_burst: TxBurst, _n: number, _sizes?: ArrayLike<number>): number {
    throw this.misuse('allocTx');
  }
  /** @see TxQueue.commitTx */
  commitTx(_n?: number): number {
    throw this.misuse('commitTx');
  }
  /** @see SlaveTxQueue.forward; every other queue copies (allocTx/commitTx or tx). */
  forward(_from: MemifQueue, _burst: RxBurst, _count?: number, _start?: number): number {
    throw new Error(
      `MemifQueue ${this.name}: forward() on the ${this.role}'s ${this.isProducer ? 'transmit' : 'receive'} ring: only a slave's transmit ring forwards without copying (the slave owns every buffer); copy with allocTx/commitTx`,
    );
  }

  /** Whether `other` works on the same region windows (the same mapping of the same memory). */
  sameRegions(other: MemifQueue): boolean {
    const a = this.regU8;
    const b = other.regU8;
    return a.length === b.length && a.every((r, i) => r.buffer === b[i]!.buffer && r.byteOffset === b[i]!.byteOffset && r.byteLength === b[i]!.byteLength);
  }

  /** Transmit rings: true when the receiver wants an eventfd kick after a tx. Receive rings: false. */
  peerWantsKick(): boolean {
    return false;
  }
}
