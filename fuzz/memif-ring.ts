/**
 * Fuzz target `memif-ring`: a hostile peer writes arbitrary descriptors, heads, tails, flags and
 * raw bytes anywhere in the shared regions while both sides' MemifQueues keep receiving and
 * transmitting (src/memif/ring). Property, for every call:
 *  - the only error is MemifRingError, with a reason naming the ring ("S2M ring 1: ...");
 *  - it returns within CALL_LIMIT_MS (no unbounded loop);
 *  - every received segment lies inside its region and copies out whole;
 *  - nothing is written outside the regions (guard bytes intact).
 * The approach follows test/memif/ring/hostile.property.test.ts, widened to two queues each way,
 * raw scribbles of any width at any offset, and both layouts.
 */
import fc from 'fast-check';
import { MemifRingError, RxBurst, TxBurst, type MemifQueue, type RingView } from '../src/memif/ring/index.js';
import { makeRingPair, packet, u16, u32, resolveU32, applyPoke } from './support/ring-pair.js';
import { runProperties, type FuzzProperty, type FuzzResult, type FuzzRunOptions } from './common.js';

export const TARGET = 'memif-ring';
export const CALL_LIMIT_MS = 1000;

const ringSel = fc.record({ dir: fc.constantFrom('s2m' as const, 'm2s' as const), q: fc.nat(1) });

const poke = fc.oneof(
  fc.record({ kind: fc.constant('desc' as const), at: ringSel, slot: fc.nat(0xffff), flags: u16, region: u16, length: u32, offset: u32 }),
  fc.record({ kind: fc.constant('len' as const), at: ringSel, slot: fc.nat(0xffff), length: u32 }),
  fc.record({ kind: fc.constant('next' as const), at: ringSel, slot: fc.nat(0xffff) }),
  fc.record({
    kind: fc.constantFrom('head' as const, 'tail' as const),
    at: ringSel,
    value: fc.oneof(fc.record({ abs: u16 }), fc.record({ delta: fc.integer({ min: -40, max: 40 }) })),
  }),
  fc.record({ kind: fc.constant('flags' as const), at: ringSel, value: u16 }),
  // Any bytes anywhere in a region: cookies, ring headers, descriptors, buffers.
  fc.record({ kind: fc.constant('scribble' as const), region: fc.nat(3), offset: u32, width: fc.constantFrom(1, 2, 4, 8), value: fc.integer({ min: 0, max: 0xffffffff }) }),
);
const op = fc.record({
  kind: fc.constant('op' as const),
  side: fc.constantFrom('slave' as const, 'master' as const),
  at: ringSel,
  n: fc.integer({ min: 0, max: 40 }),
  sizes: fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 8 }),
  zeroCopy: fc.boolean(),
  frac: fc.double({ min: 0, max: 1, noNaN: true }),
});

export type Poke = typeof poke extends fc.Arbitrary<infer T> ? T : never;
export type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
export interface RingCase {
  log2: number;
  bufferSize: number;
  layout: 'libmemif' | 'dpdk';
  queues: number;
  allowPartialChains: boolean;
  actions: (Poke | Op)[];
}

export const ringCase: fc.Arbitrary<RingCase> = fc.record({
  log2: fc.integer({ min: 0, max: 6 }),
  bufferSize: fc.constantFrom(64, 2048),
  layout: fc.constantFrom('libmemif' as const, 'dpdk' as const),
  queues: fc.integer({ min: 1, max: 2 }),
  allowPartialChains: fc.boolean(),
  actions: fc.array(fc.oneof(poke, op, op), { minLength: 1, maxLength: 60 }),
});


function guarded(f: () => void, what: string): void {
  const t0 = performance.now();
  try {
    f();
  } catch (e) {
    if (!(e instanceof MemifRingError)) throw new Error(`${what}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    if (!/^(S2M|M2S) ring \d+/.test(e.reason)) throw new Error(`${what}: MemifRingError reason does not name the ring: ${JSON.stringify(e.reason)}`);
  }
  const dt = performance.now() - t0;
  if (dt > CALL_LIMIT_MS) throw new Error(`${what}: took ${dt.toFixed(0)} ms (limit ${CALL_LIMIT_MS})`);
}

/** Throws unless every call of the case keeps the contract. */
export function checkRingCase(c: RingCase): void {
  const p = makeRingPair({ log2RingSize: c.log2, bufferSize: c.bufferSize, layout: c.layout, s2mRings: c.queues, m2sRings: c.queues }, { allowPartialChains: c.allowPartialChains });
  const rb = new RxBurst(8, 16);
  const tb = new TxBurst(8, 64);
  const queue = (side: 'slave' | 'master', at: { dir: 's2m' | 'm2s'; q: number }): MemifQueue => {
    const list = p[side][at.dir];
    return list[at.q % list.length]!;
  };
  const ringOf = (at: { dir: 's2m' | 'm2s'; q: number }): RingView => queue('slave', at).ring;
  const bufRegionSize = p.regions[p.regions.length - 1]!.length;
  let seed = 0;
  c.actions.forEach((a, step) => {
    if (a.kind === 'op') {
      const q = queue(a.side, a.at);
      guarded(() => {
        if (!q.isProducer) {
          const got = q.rx(rb, a.n || 1);
          for (let s = 0; s < rb.segCount; s++) {
            const r = rb.segRegion[s]!;
            if (r >= p.regions.length) throw new Error(`segment ${s} in region ${r} of ${p.regions.length}`);
            if (rb.segOffset[s]! + rb.segLength[s]! > p.regions[r]!.length) throw new Error(`segment ${s} ends past region ${r}`);
          }
          for (let i = 0; i < got; i++) {
            const dst = new Uint8Array(rb.pktLength[i]!);
            if (rb.copyPacket(i, dst) !== dst.length) throw new Error(`packet ${i} did not copy whole`);
          }
          q.release(Math.floor(q.rxOutstanding * a.frac));
        } else if (a.zeroCopy) {
          const got = q.allocTx(tb, a.sizes.length, a.sizes);
          for (let i = 0; i < got; i++) tb.write(i, packet(a.sizes[i]!, seed++));
          // An allocTx that reserved nothing leaves nothing to commit (commitTx would be our error).
          if (got > 0) q.commitTx(Math.floor(got * a.frac));
        } else {
          q.tx(a.sizes.map((n) => packet(n, seed++)));
        }
      }, `step ${step}: ${a.side} ${q.name} ${q.isProducer ? 'tx' : 'rx'}`);
      return;
    }
    if (a.kind === 'scribble') {
      const region = p.regions[a.region % p.regions.length]!;
      if (region.length < a.width) return;
      const off = resolveU32(a.offset, region.length) % (region.length - a.width + 1);
      const dv = new DataView(region.buffer, region.byteOffset, region.length);
      if (a.width === 1) dv.setUint8(off, a.value & 0xff);
      else if (a.width === 2) dv.setUint16(off, a.value & 0xffff, true);
      else if (a.width === 4) dv.setUint32(off, a.value, true);
      else dv.setBigUint64(off, BigInt(a.value) * 0x100000001n, true);
      return;
    }
    applyPoke(ringOf(a.at), a, bufRegionSize);
  });
  const broken = p.brokenGuard();
  if (broken) throw new Error(`write outside a region: ${broken}`);
}

export const properties: FuzzProperty<RingCase>[] = [
  { name: 'hostile', runs: 100, arbitrary: ringCase, check: checkRingCase, entry: (input, error) => ({ case: input, error }) },
];

export function replay(entry: Record<string, unknown>): string | undefined {
  try { checkRingCase(entry.case as RingCase); return undefined; } catch (e) { return (e as Error).message; }
}

export function runMemifRingFuzz(o: FuzzRunOptions): Promise<FuzzResult> {
  return runProperties(TARGET, properties, o);
}
