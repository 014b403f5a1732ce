// A slave and a master over the same region memory, each region in its own ArrayBuffer with guard
// bytes around it so that a stray write shows. Shared by the fuzzer and the ring tests
// (test/memif/ring/helpers.ts re-exports it).
import {
  createMasterQueue, createSlaveQueues, initSharedMemory, planRegions, type MemifQueue, type MemoryPlan, type PlanOptions,
} from '../../src/memif/ring/index.js';

export const GUARD = 256;
export const GUARD_BYTE = 0xa5;

export interface RingPair {
  plan: MemoryPlan;
  /** Region windows (Uint8Array views inside `backing`, with GUARD bytes before and after). */
  regions: Uint8Array[];
  backing: Uint8Array[];
  slave: { s2m: MemifQueue[]; m2s: MemifQueue[] };
  master: { s2m: MemifQueue[]; m2s: MemifQueue[] };
  /** The first guard byte that changed, or undefined. */
  brokenGuard(): string | undefined;
  guardsIntact(): boolean;
}

export function makeRingPair(opts: Partial<PlanOptions> = {}, queueOpts: { allowPartialChains?: boolean } = {}): RingPair {
  const plan = planRegions({ s2mRings: 1, m2sRings: 1, log2RingSize: 4, bufferSize: 2048, ...opts });
  const backing = plan.regions.map((r) => new Uint8Array(r.size + 2 * GUARD).fill(GUARD_BYTE));
  const regions = backing.map((b, i) => b.subarray(GUARD, GUARD + plan.regions[i]!.size));
  initSharedMemory(plan, regions);
  const slave = createSlaveQueues(plan, regions, queueOpts);
  const master = {
    s2m: plan.s2m.map((r) => createMasterQueue(r, regions, queueOpts)),
    m2s: plan.m2s.map((r) => createMasterQueue(r, regions, queueOpts)),
  };
  // Connect order as on the wire: master resets on CONNECT, slave on CONNECTED.
  for (const q of [...master.s2m, ...master.m2s, ...slave.s2m, ...slave.m2s]) q.reset();
  const brokenGuard = () => {
    for (const [r, b] of backing.entries()) {
      for (let i = 0; i < GUARD; i++) {
        if (b[i] !== GUARD_BYTE) return `region ${r}: guard byte ${i - GUARD} before the region changed`;
        if (b[b.length - 1 - i] !== GUARD_BYTE) return `region ${r}: guard byte ${i} after the region changed`;
      }
    }
    return undefined;
  };
  return { plan, regions, backing, slave, master, brokenGuard, guardsIntact: () => brokenGuard() === undefined };
}

/** Deterministic packet of `len` bytes whose content depends on `seed`. */
export function packet(len: number, seed: number): Uint8Array {
  const p = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = x & 0xff;
  }
  return p;
}
