// A slave and a master over the same region memory, each region in its own ArrayBuffer with guard
// bytes around it so that a stray write shows. Shared by the fuzzer and the ring tests
// (test/memif/ring/helpers.ts re-exports it).
import fc from 'fast-check';
import {
  createMasterQueue, createSlaveQueues, initSharedMemory, planRegions, type MemifQueue, type MemoryPlan, type PlanOptions, type RingView,
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

// --- a hostile peer's writes into a ring (shared by the memif-ring fuzzer and the ring tests) ---

/** A u32 a peer might write: anything, edge values, or relative to the end of a region. */
export const u32 = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0, 1, 63, 64, 2047, 2048, 2049, 4096, 0x7fffffff, 0x80000000, 0xfffff800, 0xffffffff),
  fc.record({ nearEnd: fc.integer({ min: -64, max: 5000 }) }),
);
export const u16 = fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 1, 2, 255, 0x8000, 0xffff));
export type U32 = number | { nearEnd: number };

export const resolveU32 = (v: U32, regionSize: number): number => (typeof v === 'number' ? v : regionSize - v.nearEnd) >>> 0;

export type RingPoke =
  | { kind: 'desc'; slot: number; flags: number; region: number; length: U32; offset: U32 }
  | { kind: 'len'; slot: number; length: U32 }
  | { kind: 'next'; slot: number }
  | { kind: 'head' | 'tail'; value: { abs: number } | { delta: number } }
  | { kind: 'flags'; value: number };

/** Writes one poke into `ring` as a peer would (offsets near the end resolve against bufRegionSize). */
export function applyPoke(ring: RingView, a: RingPoke, bufRegionSize: number): void {
  switch (a.kind) {
    case 'desc':
      ring.setDesc(a.slot, a.flags, a.region, resolveU32(a.length, bufRegionSize), resolveU32(a.offset, bufRegionSize));
      break;
    case 'len':
      ring.desc[((a.slot & ring.mask) << 2) + 1] = resolveU32(a.length, bufRegionSize);
      break;
    case 'next':
      ring.desc16[(a.slot & ring.mask) << 3]! |= 1;
      break;
    case 'head':
    case 'tail': {
      const cur = a.kind === 'head' ? ring.loadHead() : ring.loadTail();
      const v = 'abs' in a.value ? a.value.abs : (cur + a.value.delta) & 0xffff;
      if (a.kind === 'head') ring.storeHead(v);
      else ring.storeTail(v);
      break;
    }
    case 'flags':
      ring.storeFlags(a.value);
      break;
  }
}
