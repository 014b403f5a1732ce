// fast-check: tx() of random packets (0 .. several buffers long, odd lengths, unaligned tails), from
// every kind of source a caller hands in (its own array, a view at an odd offset into a larger
// buffer, a pooled Node Buffer), read straight out of shared memory after each call: every byte
// lands where its descriptor says, the descriptors are exact (slave: its own region/offset,
// metadata 0; master: only length and flags, the posted region/offset left as they were), chains
// carry NEXT on all but their last segment, tx() stops exactly at the first packet that does not
// fit whole, and nothing outside the buffers the sender owns right now changes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { RxBurst, type MemifQueue } from '../../../src/memif/ring/index.js';
import { MEMIF_DESC_FLAG_NEXT } from '../../../src/memif/wire.js';
import { equalBytes, makePair, packet } from './helpers.js';

type Source = 'own' | 'view' | 'buffer';

/** `bytes` as the caller hands it in: its own array, a view at `at` into junk, or a pooled Buffer. */
function source(bytes: Uint8Array, kind: Source, at: number): Uint8Array {
  if (kind === 'own') return bytes;
  if (kind === 'buffer') return Buffer.from(bytes);
  const slab = new Uint8Array(at + bytes.length + 7).fill(0xee);
  slab.set(bytes, at);
  return slab.subarray(at, at + bytes.length);
}

const pkt = fc.record({
  len: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 800 })),
  kind: fc.constantFrom<Source>('own', 'view', 'buffer'),
  at: fc.integer({ min: 0, max: 9 }),
});
const step = fc.record({
  pkts: fc.array(pkt, { maxLength: 24 }),
  start: fc.integer({ min: 0, max: 3 }),
  /** Receive and release this share of what is on the ring afterwards. */
  drain: fc.constantFrom(0, 0.5, 1),
  /** m2s: lengths the slave posts its refilled buffers with (headroom, as libmemif refill does). */
  posted: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
});

test('tx() lands random packets byte-exact with exact descriptors, slave (S2M) and master (M2S)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('s2m' as const, 'm2s' as const),
      fc.integer({ min: 1, max: 5 }),
      fc.constantFrom(64, 100, 256),
      fc.array(step, { minLength: 1, maxLength: 12 }),
      (dir, log2, bufferSize, steps) => {
        const p = makePair({ log2RingSize: log2, bufferSize });
        const [tx, rx]: [MemifQueue, MemifQueue] = dir === 's2m' ? [p.slave.s2m[0]!, p.master.s2m[0]!] : [p.master.m2s[0]!, p.slave.m2s[0]!];
        const ring = tx.ring;
        const mask = ring.mask;
        const slots = dir === 's2m' ? p.plan.s2m[0]!.slots : null;
        const bufRegion = p.regions[1]!;
        const rxb = new RxBurst(64, 4096);
        let own = 0; // the sender's index (slave: head, master: tail), followed here
        let seed = 1;
        // m2s: the slave posts with headroom, i.e. shorter lengths, on every slot still posted
        const post = (lens: number[]) => {
          if (dir !== 'm2s') return;
          const head = ring.loadHead();
          for (let s = own, i = 0; s !== head; s = (s + 1) & 0xffff, i++) {
            ring.desc[(s & mask) * 4 + 1] = Math.min(lens[i % lens.length]!, bufferSize);
          }
        };
        post(steps[0]!.posted);
        for (const st of steps) {
          const bytes = st.pkts.map((x) => packet(x.len, seed++));
          const pkts = bytes.map((b, i) => source(b, st.pkts[i]!.kind, st.pkts[i]!.at));
          const start = Math.min(st.start, pkts.length);
          const free = tx.txSpace();
          // What the sender may write into: the buffers of the free slots, as posted right now.
          const owned: [number, number, number][] = []; // [offset, capacity, slot]
          const before: [number, number, number][] = []; // master: posted region word, offset, metadata
          for (let i = 0; i < free; i++) {
            const slot = (own + i) & mask;
            const w = slot * 4;
            if (slots) owned.push([slots.offset[slot]!, bufferSize, slot]);
            else owned.push([ring.desc[w + 2]!, ring.desc[w + 1]!, slot]);
            before.push([ring.desc16[slot * 8 + 1]!, ring.desc[w + 2]!, ring.desc[w + 3]!]);
          }
          const snapshot = bufRegion.slice();
          const sent = tx.tx(pkts, pkts.length - start, start);

          // Which packets fit whole, in order, with the capacities above.
          let used = 0;
          let expect = 0;
          for (let i = start; i < pkts.length; i++) {
            let left = pkts[i]!.length;
            let k = 0;
            do {
              if (used + k === free) break;
              left -= owned[used + k]![1];
              k++;
            } while (left > 0);
            if (left > 0 || (k === 0 && used === free)) break;
            used += k;
            expect++;
          }
          assert.is(sent, expect, 'tx() sent exactly the packets that fit whole, in order');
          assert.is(dir === 's2m' ? ring.loadHead() : ring.loadTail(), (own + used) & 0xffff, 'index published past the last segment');

          // Every sent packet, segment by segment, straight from the descriptors.
          let u = 0;
          for (let i = start; i < start + sent; i++) {
            const want = bytes[i]!;
            let at = 0;
            do {
              const [off, cap, slot] = owned[u]!;
              const w = slot * 4;
              const n = Math.min(cap, want.length - at);
              const last = at + n === want.length;
              assert.is(ring.desc16[slot * 8], last ? 0 : MEMIF_DESC_FLAG_NEXT, `packet ${i} segment flags`);
              assert.is(ring.desc[w + 1], n, `packet ${i} segment length`);
              if (slots) {
                assert.is(ring.desc16[slot * 8 + 1], slots.region[slot], 'slave writes its own region');
                assert.is(ring.desc[w + 2], slots.offset[slot], 'slave writes its own offset');
                assert.is(ring.desc[w + 3], 0, 'slave writes metadata 0');
              } else {
                assert.equal([ring.desc16[slot * 8 + 1], ring.desc[w + 2], ring.desc[w + 3]], before[u], 'master leaves the posted region/offset/metadata');
              }
              assert.ok(equalBytes(bufRegion.subarray(off, off + n), want.subarray(at, at + n)), `packet ${i} (${want.length} B) segment at ${at} differs`);
              at += n;
              u++;
            } while (at < want.length);
          }
          // Nothing changed outside the buffers the sender owned.
          const mayWrite = new Uint8Array(bufRegion.length);
          for (const [off, cap] of owned) mayWrite.fill(1, off, off + cap);
          for (let b = 0; b < bufRegion.length; b++) {
            if (!mayWrite[b] && bufRegion[b] !== snapshot[b]) assert.unreachable(`byte ${b} of the buffer region changed outside the sender's free buffers`);
          }
          assert.ok(p.guardsIntact(), p.brokenGuard());
          own = (own + used) & 0xffff;

          // The receiver takes a share back (the slave re-posts what it received).
          for (let left = Math.floor((rx.size - tx.txSpace()) * st.drain); left > 0;) {
            const n = rx.rx(rxb, 64);
            if (n === 0) break;
            let segs = 0;
            for (let i = 0; i < n; i++) segs += rxb.pktSegCount[i]!;
            rx.release(n);
            left -= segs;
          }
          post(st.posted);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test.run();
