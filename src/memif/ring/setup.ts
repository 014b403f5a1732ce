/**
 * Wiring helpers between a MemoryPlan, the mapped regions and MemifQueues.
 *
 * Slave (owns the memory), after mapping each plan region as an ArrayBuffer of exactly
 * region.size bytes:
 *   initSharedMemory(plan, regions)            // before sending ADD_REGION/ADD_RING
 *   const { s2m, m2s } = createSlaveQueues(plan, regions)
 *   on CONNECTED: for (const q of [...s2m, ...m2s]) q.reset()   // posts the M2S buffers
 *   tx on s2m[i], rx on m2s[i].
 * Master, from the peer's ADD_REGION/ADD_RING:
 *   const q = createMasterQueue({ type, index, region, offset, log2RingSize }, regions)
 *   on CONNECT (before answering CONNECTED): q.reset()
 *   rx on S2M queues, tx on M2S queues.
 * openQueue() picks the class for any (role, ring type); worker threads use it directly.
 */
import { MemifRingError } from './errors.js';
import { MemifErrorCode, RingType, ringTypeName } from '../wire.js';
import { type MemoryPlan } from './layout.js';
import { type MemifQueue, type MemifQueueOptions } from './queue.js';
import { MasterRxQueue, SlaveRxQueue } from './rx-queue.js';
import { MasterTxQueue, SlaveTxQueue } from './tx-queue.js';
import { type RegionMemory } from './region.js';
import { RingView } from './ring.js';

/**
 * Write every ring of the plan as memif_init_queues (libmemif) / memif_init_rings (DPDK) do:
 * cookie, flags 0, head 0, tail 0, and descriptor j = { flags 0, region/offset of slot j,
 * length bufferSize, metadata 0 }.
 */
export function initSharedMemory(plan: MemoryPlan, regions: readonly RegionMemory[]): void {
  checkRegions(plan, regions);
  for (const r of plan.rings) {
    const ring = new RingView(regions[r.region]!, r.offset, r.log2RingSize, ringName(r.type, r.index));
    ring.init();
    for (let j = 0; j < ring.size; j++) ring.setDesc(j, 0, r.slots.region[j]!, plan.bufferSize, r.slots.offset[j]!);
  }
}

/** The queue class for this side of this ring: the slave sends on S2M, the master on M2S. */
export function openQueue(opts: MemifQueueOptions): MemifQueue {
  const { role, ringType } = opts;
  if (role !== 'master' && role !== 'slave') throw new RangeError(`MemifQueue: role must be 'master' or 'slave', got ${String(role)}`);
  if (ringType !== RingType.S2M && ringType !== RingType.M2S) throw new RangeError(`MemifQueue: ringType must be 0 (S2M) or 1 (M2S), got ${String(ringType)}`);
  if (role === 'slave') return ringType === RingType.S2M ? new SlaveTxQueue(opts) : new SlaveRxQueue(opts);
  return ringType === RingType.S2M ? new MasterRxQueue(opts) : new MasterTxQueue(opts);
}

export function createSlaveQueues(
  plan: MemoryPlan,
  regions: readonly RegionMemory[],
  opts: { allowPartialChains?: boolean } = {},
): { s2m: SlaveTxQueue[]; m2s: SlaveRxQueue[] } {
  checkRegions(plan, regions);
  const options = (r: MemoryPlan['rings'][number]): MemifQueueOptions => ({
    role: 'slave',
    ringType: r.type,
    ring: new RingView(regions[r.region]!, r.offset, r.log2RingSize, ringName(r.type, r.index)),
    regions,
    bufferSize: plan.bufferSize,
    slots: r.slots,
    ringIndex: r.index,
    ...opts,
  });
  return { s2m: plan.s2m.map((r) => new SlaveTxQueue(options(r))), m2s: plan.m2s.map((r) => new SlaveRxQueue(options(r))) };
}

/** A master's queue for one ring announced by the slave. @throws MemifRingError if the ring does not fit its region or has a bad cookie. */
export function createMasterQueue(
  ring: { type: RingType; index: number; region: number; offset: number; log2RingSize: number },
  regions: readonly RegionMemory[],
  opts: { allowPartialChains?: boolean } = {},
): MemifQueue {
  const name = ringName(ring.type, ring.index);
  const mem = regions[ring.region];
  if (mem === undefined) {
    throw new MemifRingError(MemifErrorCode.BAD_RING, `${name}: region ${ring.region} does not exist (${regions.length} regions)`);
  }
  return openQueue({
    role: 'master',
    ringType: ring.type,
    ring: new RingView(mem, ring.offset, ring.log2RingSize, name),
    regions,
    ringIndex: ring.index,
    ...opts,
  });
}

function ringName(type: RingType, index: number): string {
  return `${ringTypeName(type)} ring ${index}`;
}

function checkRegions(plan: MemoryPlan, regions: readonly RegionMemory[]): void {
  if (regions.length < plan.regions.length) throw new RangeError(`plan has ${plan.regions.length} regions, ${regions.length} given`);
  plan.regions.forEach((p, i) => {
    if (regions[i]!.byteLength < p.size) throw new RangeError(`region ${i} is ${regions[i]!.byteLength} bytes, plan needs ${p.size}`);
  });
}
