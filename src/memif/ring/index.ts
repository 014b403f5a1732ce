/**
 * tsvpp memif ring layer: the shared-memory half of memif as pure computation over ArrayBuffers
 * (no I/O). See docs/memif-ring.md.
 *
 *   layout.ts  planRegions() (the slave's memory)    ring.ts   RingView (one memif_ring_t)
 *   queue.ts   MemifQueue (what every queue shares)  burst.ts  RxBurst / TxBurst
 *   rx-queue.ts MasterRxQueue (S2M), SlaveRxQueue (M2S)
 *   tx-queue.ts SlaveTxQueue (S2M), MasterTxQueue (M2S)
 *   setup.ts   initSharedMemory, create*Queue(s), openQueue    errors.ts MemifRingError
 */
export * from './errors.js';
// The ring half of the wire facts (../wire.ts), for users of this layer alone.
export {
  MEMIF_COOKIE, MEMIF_DESC_FLAG_NEXT, MEMIF_RING_FLAG_MASK_INT, RingType, ringTypeName, ringBytes,
} from '../wire.js';
export * from './layout.js';
export { type RegionMemory } from './region.js';
export { RingView } from './ring.js';
export { RxBurst, TxBurst } from './burst.js';
export { MemifQueue, type MemifQueueOptions, type MemifRole } from './queue.js';
export { RxQueue, MasterRxQueue, SlaveRxQueue } from './rx-queue.js';
export { TxQueue, SlaveTxQueue, MasterTxQueue } from './tx-queue.js';
export { initSharedMemory, createSlaveQueues, createMasterQueue, openQueue } from './setup.js';
