// fast-check: a slave forwarding what the master sends it back out without copying
// (SlaveTxQueue.forward), through a real slave/master pair on shared memory. Every packet comes
// back byte-exact with its Ethernet addresses swapped in place, chains included; packets the full
// S2M ring has no room for are dropped and their buffers posted again; restarts in between. After
// every step: the slot tables hold the same buffers as at the start, each once; every M2S
// descriptor (posted) names the buffer its slot owns, every S2M descriptor the master has not
// released (described) names the buffer its slot owns, so no buffer is ever both.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { MemifRingError, RxBurst, TxBurst, type MemifQueue, type MemoryPlan, type RingView } from '../../../src/memif/ring/index.js';
import { swapMacs } from '../../../src/memif/echo.js';
import { equalBytes, makePair, packet, type Pair } from './helpers.js';

function swapped(p: Uint8Array): Uint8Array {
  const q = p.slice();
  if (p.length >= 12) for (let k = 0; k < 6; k++) { q[k] = p[6 + k]!; q[6 + k] = p[k]!; }
  return q;
}

/** "region:index" of the buffer holding byte `off` of `region`. */
function bufferKey(plan: MemoryPlan, region: number, off: number): string {
  return `${region}:${Math.floor((off - plan.regions[region]!.bufferOffset) / plan.bufferSize)}`;
}

function tableKeys(plan: MemoryPlan): string[] {
  const keys: string[] = [];
  for (const r of [plan.s2m[0]!, plan.m2s[0]!]) {
    for (let j = 0; j < plan.ringSize; j++) keys.push(bufferKey(plan, r.slots.region[j]!, r.slots.offset[j]!));
  }
  return keys.sort();
}

/** The ownership invariants (see the top of the file). */
function checkOwnership(p: Pair, initial: string[], what: string): void {
  const { plan } = p;
  assert.equal(tableKeys(plan), initial, `${what}: the slot tables no longer hold the same buffers, each once`);
  const m2s: RingView = p.slave.m2s[0]!.ring;
  const s2m: RingView = p.slave.s2m[0]!.ring;
  const rxT = plan.m2s[0]!.slots;
  const txT = plan.s2m[0]!.slots;
  const live = new Set<string>();
  for (let j = 0; j < m2s.size; j++) {
    assert.is(m2s.descRegion(j), rxT.region[j], `${what}: M2S slot ${j} posts region ${m2s.descRegion(j)}, its table says ${rxT.region[j]}`);
    assert.is(m2s.descOffset(j), rxT.offset[j], `${what}: M2S slot ${j} posts offset ${m2s.descOffset(j)}, its table says ${rxT.offset[j]}`);
    live.add(bufferKey(plan, rxT.region[j]!, rxT.offset[j]!));
  }
  for (let pos = s2m.loadTail(); pos !== s2m.loadHead(); pos = (pos + 1) & 0xffff) {
    const j = pos & s2m.mask;
    const key = bufferKey(plan, s2m.descRegion(j), s2m.descOffset(j));
    assert.is(key, bufferKey(plan, txT.region[j]!, txT.offset[j]!), `${what}: S2M slot ${j} describes a buffer its slot does not own`);
    assert.not.ok(live.has(key), `${what}: buffer ${key} is posted on M2S and described on S2M`);
    live.add(key);
  }
}

const frac = fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true }));
const action = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 5000 })), { maxLength: 10 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('forward' as const), max: fc.integer({ min: 1, max: 12 }), frac, retry: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drain' as const), max: fc.integer({ min: 1, max: 40 }), frac }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);
type Action = typeof action extends fc.Arbitrary<infer T> ? T : never;

test('forward: byte-exact, addresses swapped, drops on a full ring, buffers never duplicated or lost', () => {
  const seen = { forwarded: 0, chained: 0, dropped: 0, restarts: 0 };
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.constantFrom(64, 100, 2048),
      fc.constantFrom('libmemif' as const, 'dpdk' as const),
      fc.array(action, { minLength: 5, maxLength: 60, size: 'max' }),
      (log2, bufferSize, layout, actions: Action[]) => {
        const p = makePair({ log2RingSize: log2, bufferSize, layout });
        const initial = tableKeys(p.plan);
        const slave = { rx: p.slave.m2s[0]!, tx: p.slave.s2m[0]! };
        const master: { tx: MemifQueue; rx: MemifQueue } = { tx: p.master.m2s[0]!, rx: p.master.s2m[0]! };
        const rb = new RxBurst(12, 12 * 80);
        const back = new RxBurst(40, 40 * 80);
        let seed = 0;
        let toSlave: Uint8Array[] = [];
        let toMaster: Uint8Array[] = [];
        let held = 0; // received by the master, not released
        for (const [i, a] of actions.entries()) {
          const what = `step ${i} (${a.kind})`;
          switch (a.kind) {
            case 'send': {
              const pkts = a.sizes.map((n) => packet(n, seed++));
              toSlave.push(...pkts.slice(0, master.tx.tx(pkts)));
              break;
            }
            case 'forward': {
              const n = slave.rx.rx(rb, a.max);
              const got = toSlave.splice(0, n);
              for (let k = 0; k < n; k++) {
                const bytes = new Uint8Array(rb.pktLength[k]!);
                rb.copyPacket(k, bytes);
                assert.ok(equalBytes(bytes, got[k]!), `${what}: received packet ${k}`);
                if (rb.pktSegCount[k]! > 1) seen.chained++;
                swapMacs(rb, k);
              }
              let m = slave.tx.forward(slave.rx, rb, Math.floor(n * a.frac));
              assert.ok(m <= Math.floor(n * a.frac));
              if (a.retry && m < n) m += slave.tx.forward(slave.rx, rb, undefined, m);
              assert.is(slave.rx.rxOutstanding, n - m, `${what}: forwarded packets are released`);
              slave.rx.release(n - m);
              if (m < n && (a.frac === 1 || a.retry)) seen.dropped++;
              seen.forwarded += m;
              toMaster.push(...got.slice(0, m).map(swapped));
              break;
            }
            case 'drain': {
              const n = master.rx.rx(back, a.max);
              for (let k = 0; k < n; k++) {
                const bytes = new Uint8Array(back.pktLength[k]!);
                back.copyPacket(k, bytes);
                assert.ok(equalBytes(bytes, toMaster[k]!), `${what}: packet ${k} of ${n} came back different (${bytes.length} B, want ${toMaster[k]?.length})`);
              }
              toMaster = toMaster.slice(n);
              held += n;
              const r = Math.floor(held * a.frac);
              master.rx.release(r);
              held -= r;
              break;
            }
            case 'restart':
              // As a reconnect on the same memory: both sides reset every queue (the slave posts again).
              for (const q of [master.rx, master.tx, slave.tx, slave.rx]) q.reset();
              toSlave = [];
              toMaster = [];
              held = 0;
              seen.restarts++;
              break;
            default: {
              const never: never = a;
              throw new Error(`unknown action ${String(never)}`);
            }
          }
          checkOwnership(p, initial, what);
        }
        assert.ok(p.guardsIntact(), 'write outside a region');
      },
    ),
    { numRuns: 400 },
  );
  // The runs must have exercised what they claim to.
  assert.ok(seen.forwarded > 1000 && seen.chained > 50 && seen.dropped > 10 && seen.restarts > 10, JSON.stringify(seen));
});

test('forward keeps every buffer across 200 000 packets on a ring of 8 (drops included)', () => {
  const p = makePair({ log2RingSize: 3, bufferSize: 128 });
  const initial = tableKeys(p.plan);
  const rb = new RxBurst(8);
  const back = new RxBurst(8);
  const pkt = packet(100, 1);
  const pkts = [pkt, pkt, pkt, pkt, pkt];
  let fwd = 0;
  let dropped = 0;
  let rounds = 0;
  for (let total = 0; total < 200_000; rounds++) {
    total += p.master.m2s[0]!.tx(pkts);
    const n = p.slave.m2s[0]!.rx(rb);
    const m = p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb);
    p.slave.m2s[0]!.release(n - m);
    fwd += m;
    dropped += n - m;
    // The master takes only some rounds' packets, so the S2M ring fills and the slave drops.
    if (rounds % 3 !== 0) {
      const k = p.master.s2m[0]!.rx(back);
      p.master.s2m[0]!.release(k);
    }
  }
  assert.ok(fwd > 100_000 && dropped > 10_000, `forwarded ${fwd}, dropped ${dropped}`);
  checkOwnership(p, initial, 'after 200 000 packets');
});

test('a segment the master described outside its posted buffer is copied into that buffer', () => {
  const p = makePair({ log2RingSize: 3, bufferSize: 256 });
  const initial = tableKeys(p.plan);
  const m2s = p.slave.m2s[0]!.ring;
  assert.is(p.master.m2s[0]!.tx([packet(60, 9)]), 1);
  // The master writes the packet into the buffer posted in slot 5 (its to fill, unaligned) and
  // describes it from slot 0: still inside a region, so rx() accepts it.
  const want = packet(60, 10);
  const at = m2s.descOffset(5) + 3;
  p.regions[m2s.descRegion(5)]!.set(want, at);
  m2s.setDesc(0, 0, m2s.descRegion(5), 60, at);
  const rb = new RxBurst(4);
  assert.is(p.slave.m2s[0]!.rx(rb), 1);
  assert.is(rb.segOffset[0], at);
  assert.is(p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb), 1);
  const s2m = p.slave.s2m[0]!.ring;
  assert.is(s2m.descOffset(0), p.plan.s2m[0]!.slots.offset[0], 'described at the start of the buffer slot 0 now owns');
  const back = new RxBurst(4);
  assert.is(p.master.s2m[0]!.rx(back), 1);
  const bytes = new Uint8Array(60);
  back.copyPacket(0, bytes);
  assert.ok(equalBytes(bytes, want));
  checkOwnership(p, initial, 'after the copy');
});

test('forward refuses what it cannot do without copying, with a clear error and nothing moved', () => {
  const p = makePair({ log2RingSize: 3, bufferSize: 256 });
  const other = makePair({ log2RingSize: 3, bufferSize: 256 });
  const initial = tableKeys(p.plan);
  const rb = new RxBurst(4);
  const err = (f: () => unknown, re: RegExp) => {
    assert.throws(f, (e: Error) => !(e instanceof MemifRingError) && re.test(e.message), String(re));
  };
  assert.is(p.master.m2s[0]!.tx([packet(80, 1), packet(80, 2), packet(80, 3)]), 3);
  assert.is(p.slave.m2s[0]!.rx(rb, 2), 2);
  err(() => p.master.m2s[0]!.forward(p.master.s2m[0]!, rb), /M2S ring 0: forward\(\) on the master's transmit ring: only a slave's transmit ring forwards without copying/);
  err(() => p.slave.m2s[0]!.forward(p.slave.m2s[0]!, rb), /forward\(\) on the slave's receive ring/);
  err(() => p.slave.s2m[0]!.forward(p.master.s2m[0]!, rb), /forward\(\) from S2M ring 0 of the master: only from a receive ring of the same slave/);
  err(() => p.slave.s2m[0]!.forward(other.slave.m2s[0]!, rb), /forward\(\) from M2S ring 0, which is on other memory or buffers/);
  err(() => p.slave.s2m[0]!.forward(p.slave.m2s[0]!, new RxBurst(4)), /takes packets of the burst rx\(\) filled last/);
  err(() => p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb, 1, 1), /with 2 packets outstanding: release everything received before this burst's packet 1 first/);
  err(() => p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb, 3), /forward\(count 3, start 0\)/);
  // A burst changed since rx(): the packets before the changed one go, then the error.
  rb.pktSegCount[1] = 2;
  err(() => p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb, 2), /burst packet 1 has 2 segments where M2S ring 0 received 1/);
  rb.pktSegCount[1] = 1;
  assert.is(p.slave.s2m[0]!.ring.loadHead(), 1, 'packet 0 was sent');
  assert.is(p.slave.m2s[0]!.rxOutstanding, 1, 'packet 1 is still outstanding');
  checkOwnership(p, initial, 'after a changed burst');
  const off1 = rb.segOffset[1]!;
  rb.segOffset[1] = 0xfffffff0;
  err(() => p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb, 1, 1), /burst segment 1 \(region 1, offset 4294967280, length 80\) is not a received segment/);
  rb.segOffset[1] = off1;
  assert.is(p.slave.m2s[0]!.rxOutstanding, 1, 'packet 1 is still outstanding');
  // A pending allocTx reservation is committed first.
  assert.is(p.slave.s2m[0]!.allocTx(new TxBurst(2), 1), 1);
  err(() => p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb, 1, 1), /forward\(\) while an allocTx reservation is pending/);
  assert.is(p.slave.s2m[0]!.commitTx(0), 0);
  // Still usable: packet 1 goes, packet 2 after it.
  assert.is(p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb, undefined, 1), 1);
  assert.is(p.slave.m2s[0]!.rx(rb), 1);
  assert.is(p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb), 1);
  const back = new RxBurst(4);
  assert.is(p.master.s2m[0]!.rx(back), 3);
  for (let k = 0; k < 3; k++) {
    const bytes = new Uint8Array(80);
    back.copyPacket(k, bytes);
    assert.ok(equalBytes(bytes, packet(80, k + 1)), `packet ${k}`);
  }
  checkOwnership(p, initial, 'after the refusals');
});

test('a master moving S2M tail where it cannot be is a MemifRingError from forward, nothing moved', () => {
  const p = makePair({ log2RingSize: 3, bufferSize: 256 });
  const rb = new RxBurst(8);
  // Fill S2M (the master releases nothing), so the next forward has to read tail.
  const eight = Array.from({ length: 8 }, (_, i) => packet(80, i));
  assert.is(p.master.m2s[0]!.tx(eight), 8);
  assert.is(p.slave.m2s[0]!.rx(rb), 8);
  assert.is(p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb), 8);
  const initial = tableKeys(p.plan);
  assert.is(p.master.m2s[0]!.tx([packet(80, 9)]), 1);
  assert.is(p.slave.m2s[0]!.rx(rb), 1);
  p.slave.s2m[0]!.ring.storeTail(12);
  assert.throws(() => p.slave.s2m[0]!.forward(p.slave.m2s[0]!, rb), (e: Error) => e instanceof MemifRingError && /S2M ring 0: tail 12 outside \[0, 8\]/.test(e.message));
  assert.is(p.slave.m2s[0]!.rxOutstanding, 1);
  assert.equal(tableKeys(p.plan), initial);
});

test.run();
