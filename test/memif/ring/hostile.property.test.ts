// fast-check: a hostile peer scribbles descriptors, head, tail and flags while both honest sides
// keep working. The only acceptable failure is MemifRingError; nothing outside the regions is
// written (guard bytes), everything handed out lies inside its region, and every call returns
// promptly (no unbounded loop).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  MemifRingError,
  RingType,
  RxBurst,
  TxBurst,
  createMasterQueue,
  type MemifQueue,
  type MemoryPlan,
  type RingView,
} from '../../../src/memif/ring/index.js';
import { MemifErrorCode as E } from '../../../src/memif/wire.js';
import { makePair, packet, u16, u32, applyPoke, resolveU32 as resolve } from './helpers.js';

const poke = fc.oneof(
  fc.record({ kind: fc.constant('desc' as const), ring: fc.constantFrom('s2m', 'm2s'), slot: fc.nat(0xffff), flags: u16, region: u16, length: u32, offset: u32 }),
  fc.record({ kind: fc.constant('len' as const), ring: fc.constantFrom('s2m', 'm2s'), slot: fc.nat(0xffff), length: u32 }),
  fc.record({ kind: fc.constant('next' as const), ring: fc.constantFrom('s2m', 'm2s'), slot: fc.nat(0xffff) }),
  fc.record({
    kind: fc.constantFrom('head' as const, 'tail' as const),
    ring: fc.constantFrom('s2m', 'm2s'),
    value: fc.oneof(fc.record({ abs: u16 }), fc.record({ delta: fc.integer({ min: -40, max: 40 }) })),
  }),
  fc.record({ kind: fc.constant('flags' as const), ring: fc.constantFrom('s2m', 'm2s'), value: u16 }),
);
// The slave forwards what it receives on M2S out on S2M without copying (SlaveTxQueue.forward).
// `shift` moves the offset of the descriptor the master filled last (often still inside the region,
// outside the buffer posted there).
const forward = fc.record({
  kind: fc.constant('forward' as const),
  n: fc.integer({ min: 0, max: 40 }),
  frac: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
  shift: fc.oneof(fc.constant(0), fc.integer({ min: -3000, max: 3000 })),
});
const op = fc.record({
  kind: fc.constant('op' as const),
  side: fc.constantFrom('slave', 'master'),
  ring: fc.constantFrom('s2m', 'm2s'),
  n: fc.integer({ min: 0, max: 40 }),
  sizes: fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 8 }),
  zeroCopy: fc.boolean(),
  frac: fc.double({ min: 0, max: 1, noNaN: true }),
});

type Poke = typeof poke extends fc.Arbitrary<infer T> ? T : never;
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
type Forward = typeof forward extends fc.Arbitrary<infer T> ? T : never;

/** The slave's buffers as its slot tables list them ("region:offset"), sorted: forward only trades them. */
function slotTables(plan: MemoryPlan): string[] {
  return [...plan.s2m, ...plan.m2s].flatMap((r) => Array.from(r.slots.region, (g, j) => `${g}:${r.slots.offset[j]}`)).sort();
}

function expectOnlyRingErrors(f: () => void, what: string): void {
  const t0 = performance.now();
  try {
    f();
  } catch (e) {
    if (!(e instanceof MemifRingError)) throw new Error(`${what}: unexpected ${String(e)}`);
    assert.ok(e.message.length > 0);
  }
  const dt = performance.now() - t0;
  assert.ok(dt < 500, `${what} took ${dt} ms`);
}

function checkRx(q: MemifQueue, rb: RxBurst, regions: Uint8Array[], n: number, frac: number): void {
  const n2 = q.rx(rb, n || 1);
  for (let s = 0; s < rb.segCount; s++) {
    const r = rb.segRegion[s]!;
    assert.ok(r < regions.length, `segment ${s} region ${r}`);
    assert.ok(rb.segOffset[s]! + rb.segLength[s]! <= regions[r]!.length, `segment ${s} out of region`);
  }
  for (let i = 0; i < n2; i++) {
    const dst = new Uint8Array(rb.pktLength[i]!);
    assert.is(rb.copyPacket(i, dst), dst.length);
  }
  q.release(Math.floor(q.rxOutstanding * frac));
}

test('hostile peer: only MemifRingError, no stray writes, no out-of-bounds views', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom(64, 2048),
      fc.constantFrom('libmemif' as const, 'dpdk' as const),
      fc.boolean(),
      fc.array(fc.oneof(poke, op, op, forward, forward), { minLength: 1, maxLength: 60 }),
      (log2, bufferSize, layout, allowPartialChains, actions: (Poke | Op | Forward)[]) => {
        const p = makePair({ log2RingSize: log2, bufferSize, layout }, { allowPartialChains });
        const buffers = slotTables(p.plan);
        const bufRegionSize = p.regions[p.regions.length - 1]!.length;
        const rings: Record<string, RingView> = { s2m: p.slave.s2m[0]!.ring, m2s: p.slave.m2s[0]!.ring };
        const q = {
          slave: { s2m: p.slave.s2m[0]!, m2s: p.slave.m2s[0]!},
          master: { s2m: p.master.s2m[0]!, m2s: p.master.m2s[0]!},
        };
        const rb = new RxBurst(8, 16);
        const tb = new TxBurst(8, 64);
        let seed = 0;
        for (const a of actions) {
          if (a.kind === 'forward') {
            expectOnlyRingErrors(() => {
              const m2s = rings.m2s!;
              const last = (m2s.loadTail() - 1) & m2s.mask;
              m2s.setDesc(last, m2s.descFlags(last), m2s.descRegion(last), m2s.descLength(last), (m2s.descOffset(last) + a.shift) >>> 0);
              q.slave.m2s.releaseAll(); // forward takes the oldest outstanding packets
              const n = q.slave.m2s.rx(rb, a.n || 1);
              const m = q.slave.s2m.forward(q.slave.m2s, rb, Math.floor(n * a.frac));
              q.slave.m2s.release(n - m);
            }, 'slave forward');
            assert.equal(slotTables(p.plan), buffers, 'forward lost or duplicated a buffer');
            continue;
          }
          if (a.kind === 'op') {
            const queue = q[a.side as 'slave' | 'master'][a.ring as 's2m' | 'm2s'];
            expectOnlyRingErrors(() => {
              if (!queue.isProducer) return checkRx(queue, rb, p.regions, a.n, a.frac);
              if (a.zeroCopy) {
                const got = queue.allocTx(tb, a.sizes.length, a.sizes);
                for (let i = 0; i < got; i++) tb.write(i, packet(a.sizes[i]!, seed++));
                queue.commitTx(Math.floor(got * a.frac));
              } else {
                queue.tx(a.sizes.map((n) => packet(n, seed++)));
              }
            }, `${a.side} ${a.ring}`);
            continue;
          }
          applyPoke(rings[a.ring]!, a, bufRegionSize);
        }
        assert.ok(p.guardsIntact(), 'write outside a region');
      },
    ),
    { numRuns: 400 },
  );
});

test('hostile ADD_RING placement: ring outside its region or bad cookie is a MemifRingError', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 3 }),
      u32,
      fc.integer({ min: 0, max: 16 }),
      fc.integer({ min: 0, max: 70000 }),
      fc.boolean(),
      (region, offset, log2, size, cookie) => {
        const regions = [new Uint8Array(size), new Uint8Array(4096)];
        const off = resolve(offset, size);
        if (cookie && off + 4 <= size && off % 4 === 0) new DataView(regions[0]!.buffer).setUint32(off, 0x3e31f20, true);
        try {
          const qq = createMasterQueue({ type: RingType.S2M, index: 0, region, offset: off, log2RingSize: log2 }, regions);
          qq.reset();
          qq.rx(new RxBurst(4));
        } catch (e) {
          if (!(e instanceof MemifRingError)) throw e;
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('specific violations carry their code and a reason naming ring, slot and numbers', () => {
  const p = makePair({ log2RingSize: 5, bufferSize: 2048 });
  const ring = p.slave.s2m[0]!.ring;
  const reason = (f: () => unknown, code: E): string => {
    try {
      f();
    } catch (e) {
      assert.instance(e, MemifRingError);
      assert.is((e as MemifRingError).code, code, (e as MemifRingError).reason);
      return (e as MemifRingError).reason;
    }
    throw new Error('expected a MemifRingError');
  };
  const rb = new RxBurst(8);
  p.slave.s2m[0]!.tx([packet(100, 1)]);
  const r1 = p.regions[1]!.length; // 2 rings x 32 slots x 2048 B
  assert.is(r1, 131072);
  ring.setDesc(0, 0, 1, 2048, r1 - 2047);
  assert.is(reason(() => p.master.s2m[0]!.rx(rb), E.DESC_BOUNDS), 'S2M ring 0 slot 0: descriptor offset 0x1f801 + length 2048 exceeds region 1 size 131072');
  ring.setDesc(0, 0, 7, 10, 0);
  assert.match(reason(() => p.master.s2m[0]!.rx(rb), E.DESC_REGION), /S2M ring 0 slot 0: descriptor region 7 does not exist \(2 regions\)/);
  ring.setDesc(0, 1, 1, 10, 0);
  assert.match(reason(() => p.master.s2m[0]!.rx(rb), E.CHAIN_OPEN), /slot 0: descriptor has NEXT set but is the last one published \(head 1\)/);
  ring.storeHead(40);
  assert.match(reason(() => p.master.s2m[0]!.rx(rb), E.RING_INDEX), /head 40 is 40 slots past tail 0, more than ring size 32/);
  ring.storeHead(1);
  ring.storeTail(5);
  assert.match(reason(() => p.slave.s2m[0]!.tx([]), E.RING_INDEX), /tail 5 outside \[0, 1\]/);
  const m2s = p.slave.m2s[0]!.ring;
  m2s.setDesc(0, 0, 1, 0, 0);
  assert.match(reason(() => p.master.m2s[0]!.tx([packet(10, 1)]), E.DESC_LENGTH), /M2S ring 0 slot 0: posted descriptor has length 0/);
  m2s.setDesc(0, 0, 1, 4000, 0);
  assert.is(p.master.m2s[0]!.tx([packet(3000, 1)]), 1, 'a larger posted buffer is allowed for the master');
  assert.match(reason(() => p.slave.m2s[0]!.rx(rb), E.DESC_LENGTH), /M2S ring 0 slot 0: descriptor length 3000 exceeds the posted buffer size 2048/);
  assert.ok(p.guardsIntact());
});

test.run();
