import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MEMIF_DESC_FLAG_NEXT, MemifRingError, RxBurst, TxBurst, type MemifQueue } from '../../../src/memif/ring/index.js';
import { equalBytes, makePair, packet } from './helpers.js';

/** Each direction of a pair: [sender, receiver] on S2M, then on M2S. */
const lanes = (p: ReturnType<typeof makePair>) => [[p.slave.s2m[0]!, p.master.s2m[0]!], [p.master.m2s[0]!, p.slave.m2s[0]!]] as const;

const SIZES = [64, 65, 1500, 2047, 2048, 2049, 4096, 4097, 9000];

function receiveAll(q: MemifQueue, burst: RxBurst): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = q.rx(burst);
  for (let i = 0; i < n; i++) {
    const dst = new Uint8Array(burst.pktLength[i]!);
    assert.is(burst.copyPacket(i, dst), dst.length);
    out.push(dst);
  }
  q.release(n);
  return out;
}

test('connect state: S2M empty; slave posted every M2S buffer with length bufferSize', () => {
  const p = makePair({ log2RingSize: 4, bufferSize: 2048 });
  const s2m = p.slave.s2m[0]!.ring;
  const m2s = p.slave.m2s[0]!.ring;
  assert.is(s2m.loadHead(), 0);
  assert.is(s2m.loadTail(), 0);
  assert.is(m2s.loadHead(), 16, 'head = ring size: all buffers posted');
  assert.is(m2s.loadTail(), 0);
  for (let j = 0; j < 16; j++) {
    assert.is(m2s.descLength(j), 2048);
    assert.is(m2s.descFlags(j), 0);
    assert.is(m2s.descRegion(j), 1);
    assert.is(m2s.descOffset(j), p.plan.m2s[0]!.slots.offset[j]);
  }
  assert.is(p.master.m2s[0]!.txSpace(), 16);
  assert.is(p.slave.s2m[0]!.txSpace(), 16);
});

test('slave -> master, 64..9000 B with 2048 B buffers: chained with NEXT, byte-exact', () => {
  const p = makePair({ log2RingSize: 5, bufferSize: 2048 });
  const tx = p.slave.s2m[0]!;
  const rx = p.master.s2m[0]!;
  const pkts = SIZES.map((n, i) => packet(n, i));
  assert.is(tx.tx(pkts), pkts.length);
  const ring = tx.ring;
  // 9000 B = 4 full buffers + 808: five descriptors, NEXT on the first four.
  const nseg = SIZES.reduce((a, n) => a + Math.ceil(n / 2048), 0);
  assert.is(ring.loadHead(), nseg);
  const last = nseg - 5;
  for (let k = 0; k < 5; k++) {
    assert.is(ring.descFlags(last + k), k < 4 ? MEMIF_DESC_FLAG_NEXT : 0);
    assert.is(ring.descLength(last + k), k < 4 ? 2048 : 9000 - 4 * 2048);
  }
  const burst = new RxBurst(32, 64);
  const n = rx.rx(burst);
  assert.is(n, pkts.length);
  for (let i = 0; i < n; i++) {
    assert.is(burst.pktSegCount[i], Math.ceil(SIZES[i]! / 2048));
    const dst = new Uint8Array(burst.pktLength[i]!);
    burst.copyPacket(i, dst);
    assert.ok(equalBytes(dst, pkts[i]!), `packet ${i} (${SIZES[i]} B)`);
    // zero-copy view of the first segment matches too
    const first = burst.segment(burst.pktFirstSeg[i]!);
    assert.ok(equalBytes(first, pkts[i]!.subarray(0, first.length)));
  }
  assert.is(ring.loadTail(), 0, 'tail only moves on release');
  rx.release(n);
  assert.is(ring.loadTail(), nseg);
  assert.is(tx.txSpace(), 32);
  assert.ok(p.guardsIntact());
});

test('master -> slave, 64..9000 B: capacity = posted length; master writes only length and flags', () => {
  const p = makePair({ log2RingSize: 5, bufferSize: 2048 });
  const tx = p.master.m2s[0]!;
  const rx = p.slave.m2s[0]!;
  const ring = tx.ring;
  const before = Array.from({ length: 32 }, (_, j) => [ring.descRegion(j), ring.descOffset(j)]);
  const pkts = SIZES.map((n, i) => packet(n, 100 + i));
  assert.is(tx.tx(pkts), pkts.length);
  const nseg = SIZES.reduce((a, n) => a + Math.ceil(n / 2048), 0);
  assert.is(ring.loadTail(), nseg);
  assert.equal(Array.from({ length: 32 }, (_, j) => [ring.descRegion(j), ring.descOffset(j)]), before, 'region/offset untouched');
  const got = receiveAll(rx, new RxBurst(32, 64));
  assert.is(got.length, pkts.length);
  got.forEach((g, i) => assert.ok(equalBytes(g, pkts[i]!), `packet ${i}`));
  // release re-posted the consumed buffers: head = tail + ring size, lengths reset to 2048, NEXT cleared
  assert.is(ring.loadHead(), nseg + 32);
  for (let j = 0; j < 32; j++) {
    assert.is(ring.descLength(j), 2048);
    assert.is(ring.descFlags(j), 0);
  }
});

test('master honours smaller posted lengths (slave posting with headroom, as libmemif refill does)', () => {
  const p = makePair({ log2RingSize: 4, bufferSize: 2048 });
  const ring = p.master.m2s[0]!.ring;
  for (let j = 0; j < 16; j++) ring.setDesc(j, 0, 1, 1000, ring.descOffset(j) + 48);
  const pkt = packet(2500, 7);
  assert.is(p.master.m2s[0]!.tx([pkt]), 1);
  assert.equal([0, 1, 2].map((j) => ring.descLength(j)), [1000, 1000, 500]);
  assert.equal([0, 1, 2].map((j) => ring.descFlags(j)), [1, 1, 0]);
  const got = receiveAll(p.slave.m2s[0]!, new RxBurst(4));
  assert.ok(equalBytes(got[0]!, pkt));
});

test('a chained packet that does not fit whole is not sent and leaves every descriptor as it was (both senders share this loop)', () => {
  for (const side of ['slave', 'master'] as const) {
    const p = makePair({ log2RingSize: 3, bufferSize: 2048 });
    const tx = side === 'slave' ? p.slave.s2m[0]! : p.master.m2s[0]!;
    const rx = side === 'slave' ? p.master.s2m[0]! : p.slave.m2s[0]!;
    const ring = tx.ring;
    // 6 slots taken by six 64 B packets; 2 left, the 5000 B packet needs 3.
    const small = Array.from({ length: 6 }, (_, i) => packet(64, 40 + i));
    const big = packet(5000, 9);
    const before = Array.from({ length: 8 }, (_, j) => [ring.descFlags(j), ring.descRegion(j), ring.descLength(j), ring.descOffset(j)]);
    assert.is(tx.tx([...small, big, packet(64, 50)]), 6, `${side}: stops at the packet that does not fit`);
    assert.equal(
      [6, 7].map((j) => [ring.descFlags(j), ring.descRegion(j), ring.descLength(j), ring.descOffset(j)]),
      before.slice(6),
      `${side}: the two free slots' descriptors untouched (a master must not shrink a posted length)`,
    );
    assert.is(tx.txSpace(), 2);
    const got = receiveAll(rx, new RxBurst(8));
    got.forEach((g, i) => assert.ok(equalBytes(g, small[i]!), `${side}: packet ${i}`));
    assert.is(tx.tx([big]), 1, `${side}: once released it goes, chained over 3 slots`);
    const again = receiveAll(rx, new RxBurst(8));
    assert.ok(equalBytes(again[0]!, big));
    assert.is(p.brokenGuard(), undefined);
  }
});

test('master tx: a posted descriptor outside the regions mid-burst is named; the claim pass before the copy writes nothing outside', () => {
  const p = makePair({ log2RingSize: 4, bufferSize: 2048 });
  const ring = p.master.m2s[0]!.ring;
  ring.setDesc(1, 0, 7, 2048, 0); // region 7 does not exist
  ring.setDesc(2, 0, 1, 2048, 0xfffffff0); // far past the end of region 1
  const err = (() => {
    try { p.master.m2s[0]!.tx([packet(64, 1), packet(64, 2), packet(64, 3)]); } catch (e) { return e; }
    return null;
  })();
  assert.instance(err, MemifRingError);
  assert.match((err as Error).message, /M2S ring 0 slot 1: posted descriptor region 7 does not exist/);
  assert.is(ring.loadTail(), 0, 'nothing published');
  assert.is(p.brokenGuard(), undefined);
});

test('wrap-around: head/tail pass 65535 in both directions', () => {
  const p = makePair({ log2RingSize: 3, bufferSize: 128 });
  const burst = new RxBurst(8);
  const out = new Uint8Array(300);
  let sent = 0;
  for (let round = 0; round < 70000 / 3; round++) {
    const pkts = [packet(60, round), packet(200, round + 1), packet(1, round + 2)];
    for (const [tx, rx] of lanes(p)) {
      assert.is(tx.tx(pkts), 3);
      const n = rx.rx(burst);
      assert.is(n, 3);
      for (let i = 0; i < 3; i++) {
        const len = burst.copyPacket(i, out);
        assert.ok(equalBytes(out.subarray(0, len), pkts[i]!));
      }
      rx.release(n);
    }
    sent += 4; // 60 + 200 (2 segments) + 1
  }
  assert.ok(sent > 65536);
  assert.is(p.slave.s2m[0]!.ring.loadHead(), sent & 0xffff);
  assert.is(p.slave.s2m[0]!.ring.loadTail(), sent & 0xffff);
  assert.is(p.slave.m2s[0]!.ring.loadTail(), sent & 0xffff);
  assert.is(p.slave.m2s[0]!.ring.loadHead(), (sent + 8) & 0xffff);
});

test('back-pressure: full ring sends nothing, never a partial chained packet', () => {
  const p = makePair({ log2RingSize: 4, bufferSize: 512 });
  const tx = p.slave.s2m[0]!;
  const rx = p.master.s2m[0]!;
  const small = Array.from({ length: 20 }, (_, i) => packet(64, i));
  assert.is(tx.tx(small), 16);
  assert.is(tx.tx(small, 4, 16), 0);
  const burst = new RxBurst(16);
  assert.is(rx.rx(burst, 4), 4);
  assert.is(tx.tx(small, 4, 16), 0, 'nothing freed before release');
  rx.release(2);
  assert.is(tx.txSpace(), 2);
  const head = tx.ring.loadHead();
  assert.is(tx.tx([packet(1400, 1)]), 0, '3 segments do not fit in 2 slots');
  assert.is(tx.ring.loadHead(), head);
  assert.is(tx.tx([packet(1000, 1), packet(64, 2)]), 1);
  // master -> slave: master may only fill what the slave posted and has not got back
  const mtx = p.master.m2s[0]!;
  const srx = p.slave.m2s[0]!;
  assert.is(mtx.tx(small), 16);
  assert.is(mtx.tx(small), 0);
  assert.is(srx.rx(burst), 16);
  assert.is(mtx.tx(small), 0, 'slave holds all buffers');
  srx.release(5);
  assert.is(mtx.txSpace(), 5);
  assert.is(mtx.tx([packet(2000, 3)]), 1, '4 x 512 chained');
  assert.is(mtx.tx([packet(1000, 3)]), 0, 'needs 2, 1 left');
  assert.is(mtx.tx([packet(100, 3)]), 1);
});

test('allocTx on a full ring reserves nothing, so the next allocTx or tx goes straight on', () => {
  const p = makePair({ log2RingSize: 2, bufferSize: 256 });
  const tx = p.slave.s2m[0]!;
  const rx = p.master.s2m[0]!;
  const tb = new TxBurst(8);
  assert.is(tx.allocTx(tb, 4), 4);
  assert.is(tx.commitTx(), 4);
  assert.is(tx.allocTx(tb, 1), 0, 'ring full');
  assert.is(tx.allocTx(tb, 1), 0, 'no pending reservation left behind');
  assert.is(tx.tx([packet(10, 1)]), 0);
  const rb = new RxBurst(8);
  rx.release(rx.rx(rb));
  assert.is(tx.allocTx(tb, 1), 1);
  assert.is(tx.commitTx(), 1);
});

test('allocTx names a size that is not a non-negative integer, on either side, and reserves nothing', () => {
  const p = makePair({ log2RingSize: 4, bufferSize: 1024 });
  for (const [tx, rx] of lanes(p)) {
    const tb = new TxBurst(8);
    // One-buffer packets go through each side's own loop, a chained one (3000 B) through the
    // general one: the same error from both.
    for (const [sizes, at] of [[[64, -1], 1], [[1.5], 0], [[64, 64, NaN], 2], [[3000, -2], 1], [[3000, 64, 0.5], 2]] as const) {
      const before = tx.txSpace();
      assert.throws(() => tx.allocTx(tb, sizes.length, sizes), (e: Error) => e instanceof RangeError && e.message === `allocTx: sizes[${at}] must be a non-negative integer, got ${sizes[at]}`);
      assert.is(tx.txSpace(), before, 'nothing reserved');
    }
    const a = packet(64, 9);
    assert.is(tx.tx([a]), 1, 'no reservation left pending');
    const rb = new RxBurst(8);
    assert.is(rx.rx(rb), 1);
    assert.is(rb.pktLength[0], 64);
    rx.releaseAll();
  }
  assert.ok(p.guardsIntact());
});

test('zero-copy allocTx/commitTx both directions, with sizes and partial commit', () => {
  const p = makePair({ log2RingSize: 4, bufferSize: 1024 });
  for (const [tx, rx] of lanes(p)) {
    const tb = new TxBurst(8);
    assert.is(tx.allocTx(tb, 3, [100, 3000, 0]), 3);
    assert.equal([tb.pktSegCount[0], tb.pktSegCount[1], tb.pktSegCount[2]], [1, 3, 1]);
    assert.equal(Array.from(tb.segLength.subarray(0, 5)), [100, 1024, 1024, 952, 0]);
    assert.throws(() => tx.tx([packet(1, 1)]), /allocTx reservation is pending/);
    const a = packet(100, 1);
    const b = packet(3000, 2);
    tb.write(0, a);
    tb.write(1, b);
    assert.is(tx.commitTx(2), 2, 'third packet dropped');
    const rb = new RxBurst(8);
    const n = rx.rx(rb);
    assert.is(n, 2);
    const out = new Uint8Array(4000);
    assert.ok(equalBytes(out.subarray(0, rb.copyPacket(0, out)), a));
    assert.ok(equalBytes(out.subarray(0, rb.copyPacket(1, out)), b));
    rx.release(n);
    // no sizes: one full buffer per packet; shrink the length by hand
    assert.is(tx.allocTx(tb, 2), 2);
    assert.is(tb.segCapacity[0], 1024);
    tb.regions[tb.segRegion[0]!]![tb.segOffset[0]!] = 0x42;
    tb.segLength[0] = 1;
    tb.segLength[1] = 1025;
    assert.throws(() => tx.commitTx(), /exceeds capacity 1024/);
    tb.segLength[1] = 0;
    assert.is(tx.commitTx(), 2);
    assert.is(rx.rx(rb), 2);
    assert.is(rb.pktLength[0], 1);
    assert.is(rb.segment(0)[0], 0x42);
    rx.releaseAll();
  }
  assert.ok(p.guardsIntact());
});

test('interrupt flag: receiver sets/clears MASK_INT, sender reads it', () => {
  const p = makePair();
  const s2mTx = p.slave.s2m[0]!;
  const s2mRx = p.master.s2m[0]!;
  assert.ok(s2mTx.peerWantsKick(), 'flags 0 after init: receiver wants interrupts');
  s2mRx.setInterruptMode(false);
  assert.is(s2mTx.ring.loadFlags() & 1, 1);
  assert.not.ok(s2mTx.peerWantsKick());
  s2mRx.setInterruptMode(true);
  assert.ok(s2mTx.peerWantsKick());
  p.slave.m2s[0]!.setInterruptMode(false);
  assert.not.ok(p.master.m2s[0]!.peerWantsKick());
  assert.not.ok(s2mRx.peerWantsKick(), 'receive rings never kick');
  assert.throws(() => s2mTx.setInterruptMode(true), /transmit ring/);
});

test('misuse is a plain Error, not a MemifRingError', () => {
  const p = makePair({ log2RingSize: 4, bufferSize: 256 });
  const check = (f: () => unknown, re: RegExp) => {
    try {
      f();
      assert.unreachable('should throw');
    } catch (e) {
      assert.not.instance(e, MemifRingError);
      assert.match(String(e), re);
    }
  };
  check(() => p.slave.s2m[0]!.rx(new RxBurst(1)), /rx\(\) on the slave's transmit ring/);
  check(() => p.master.s2m[0]!.tx([]), /tx\(\) on the master's receive ring/);
  check(() => p.master.s2m[0]!.release(1), /release\(1\) with 0 packets outstanding/);
  assert.is(p.slave.s2m[0]!.commitTx(), 0, 'committing nothing without a reservation is a no-op');
  check(() => p.slave.s2m[0]!.commitTx(2), /commitTx\(2\) without an allocTx reservation/);
  // a 2000 B packet in 256 B buffers has 8 segments; a burst with room for 4 can never take it:
  // that is a packet bigger than we accept, reported as a peer violation
  p.slave.s2m[0]!.tx([packet(2000, 1)]);
  assert.throws(
    () => p.master.s2m[0]!.rx(new RxBurst(1, 4)),
    (e: unknown) => e instanceof MemifRingError && /S2M ring 0 slot 0: packet has more than 4 segments/.test(e.message),
  );
  const rb = new RxBurst(1, 8);
  assert.is(p.master.s2m[0]!.rx(rb), 1);
  check(() => rb.copyPacket(0, new Uint8Array(100)), /2000 bytes/);
});

test('a chained packet lands byte-exact whether its buffers follow each other (one copy) or not (the ring wraps, a slave posts out of order): tx, allocTx + write, copyPacket', () => {
  const big = (seed: number) => packet(9000, seed); // 4 full 2048 B buffers + 808
  /** Each packet received, copied out whole and read segment by segment, equals what was sent. */
  const expectReceived = (rx: MemifQueue, sent: Uint8Array[], what: string) => {
    const rb = new RxBurst(8, 64);
    assert.is(rx.rx(rb), sent.length, what);
    sent.forEach((want, i) => {
      const whole = new Uint8Array(want.length);
      assert.is(rb.copyPacket(i, whole), want.length);
      assert.ok(equalBytes(whole, want), `${what}: packet ${i} copied out`);
      const parts: number[] = [];
      for (let s = rb.pktFirstSeg[i]!; s < rb.pktFirstSeg[i]! + rb.pktSegCount[i]!; s++) parts.push(...rb.segment(s));
      assert.ok(equalBytes(Uint8Array.from(parts), want), `${what}: packet ${i} read segment by segment`);
    });
    rx.release(sent.length);
  };
  for (const zeroCopy of [false, true]) {
    const how = zeroCopy ? 'allocTx + write' : 'tx';
    const send = (q: MemifQueue, pkts: Uint8Array[]) => {
      if (!zeroCopy) return q.tx(pkts);
      const tb = new TxBurst(8, 64);
      const n = q.allocTx(tb, pkts.length, pkts.map((x) => x.length));
      for (let i = 0; i < n; i++) tb.write(i, pkts[i]!);
      return q.commitTx();
    };
    // Slave: its own buffers follow each other in ring order, except where the ring wraps.
    const p = makePair({ log2RingSize: 3, bufferSize: 2048 });
    const small = Array.from({ length: 6 }, (_, i) => packet(64, i));
    assert.is(send(p.slave.s2m[0]!, small), 6);
    expectReceived(p.master.s2m[0]!, small, `${how}, S2M 64 B`);
    const wrapped = big(1); // slots 6, 7, 0, 1, 2
    assert.is(send(p.slave.s2m[0]!, [wrapped]), 1);
    expectReceived(p.master.s2m[0]!, [wrapped], `${how}, S2M across the wrap`);
    const straight = big(2); // slots 3..7
    assert.is(send(p.slave.s2m[0]!, [straight]), 1);
    expectReceived(p.master.s2m[0]!, [straight], `${how}, S2M in buffers that follow each other`);
    // Master: the slave posted its buffers in reverse slot order, so no two segments are neighbours
    // the right way round; then in slot order again, across the wrap.
    const m2s = p.master.m2s[0]!.ring;
    const offsets = Array.from({ length: 8 }, (_, j) => m2s.descOffset(j));
    for (let j = 0; j < 8; j++) m2s.setDesc(j, 0, m2s.descRegion(j), 2048, offsets[7 - j]!);
    const reversed = big(3);
    assert.is(send(p.master.m2s[0]!, [reversed]), 1);
    assert.equal([0, 1, 2, 3, 4].map((j) => m2s.descOffset(j)), offsets.slice(3).reverse(), 'the master wrote into the buffers as posted');
    expectReceived(p.slave.m2s[0]!, [reversed], `${how}, M2S into buffers posted out of order`);
    // Released slots 0..4 were posted again with the slave's own buffers; 5..7 get theirs back too.
    for (let j = 5; j < 8; j++) m2s.setDesc(j, 0, m2s.descRegion(j), 2048, offsets[j]!);
    const again = big(4); // slots 5, 6, 7, 0, 1
    assert.is(send(p.master.m2s[0]!, [again]), 1);
    expectReceived(p.slave.m2s[0]!, [again], `${how}, M2S after the slave posted its own again`);
    assert.ok(p.guardsIntact(), p.brokenGuard());
  }
});

test('dpdk single-region layout exchanges packets too', () => {
  const p = makePair({ layout: 'dpdk', log2RingSize: 4, bufferSize: 2048, s2mRings: 2, m2sRings: 2 });
  for (let q = 0; q < 2; q++) {
    const pkts = [packet(9000, q), packet(64, q + 1)];
    assert.is(p.slave.s2m[q]!.tx(pkts), 2);
    assert.is(p.master.m2s[q]!.tx(pkts), 2);
    const a = receiveAll(p.master.s2m[q]!, new RxBurst(4, 16));
    const b = receiveAll(p.slave.m2s[q]!, new RxBurst(4, 16));
    assert.ok(equalBytes(a[0]!, pkts[0]!) && equalBytes(a[1]!, pkts[1]!));
    assert.ok(equalBytes(b[0]!, pkts[0]!) && equalBytes(b[1]!, pkts[1]!));
    assert.is(p.slave.m2s[q]!.ring.descRegion(0), 0);
  }
  assert.ok(p.guardsIntact());
});

test.run();
