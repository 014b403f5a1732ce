// fast-check: random packet sizes, bursts, partial releases and zero-copy sends round-trip
// byte-exact in both directions, in order, with nothing written outside the regions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { RxBurst, TxBurst, type MemifQueue } from '../../../src/memif/ring/index.js';
import { equalBytes, makePair, packet } from './helpers.js';

const step = fc.record({
  dir: fc.constantFrom('s2m', 'm2s'),
  sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 9000 })), { maxLength: 12 }),
  zeroCopy: fc.boolean(),
  rxMax: fc.integer({ min: 1, max: 40 }),
  releaseFrac: fc.double({ min: 0, max: 1, noNaN: true }),
});

test('random traffic round-trips byte-exact both ways', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom(64, 100, 256, 2048),
      fc.constantFrom('libmemif' as const, 'dpdk' as const),
      fc.array(step, { minLength: 1, maxLength: 40 }),
      (log2, bufferSize, layout, steps) => {
        const p = makePair({ log2RingSize: log2, bufferSize, layout });
        const size = 2 ** log2;
        const rxb = new RxBurst(64, 16384);
        const txb = new TxBurst(16, 16384);
        const pending: Record<string, Uint8Array[]> = { s2m: [], m2s: [] };
        let seed = 0;
        const lanes: Record<string, [MemifQueue, MemifQueue]> = {
          s2m: [p.slave.s2m[0]!, p.master.s2m[0]!],
          m2s: [p.master.m2s[0]!, p.slave.m2s[0]!],
        };
        // Received, not yet released: where each packet lies, to check it is still intact when it is
        // handed back (the sender must not write into a buffer the receiver still holds).
        const held: Record<string, { segs: [Uint8Array, number, number][]; bytes: Uint8Array }[]> = { s2m: [], m2s: [] };
        const release = (dir: string, k: number) => {
          for (const h of held[dir]!.splice(0, k)) {
            const now = new Uint8Array(h.bytes.length);
            let at = 0;
            for (const [r, off, len] of h.segs) { now.set(r.subarray(off, off + len), at); at += len; }
            assert.ok(equalBytes(now, h.bytes), `${dir}: a received packet changed before it was released`);
          }
          lanes[dir]![1].release(k);
        };
        const drain = (dir: string, max: number, frac: number) => {
          const [, rx] = lanes[dir]!;
          const n = rx.rx(rxb, max);
          for (let i = 0; i < n; i++) {
            const dst = new Uint8Array(rxb.pktLength[i]!);
            rxb.copyPacket(i, dst);
            const want = pending[dir]!.shift();
            assert.ok(want !== undefined, 'received more than sent');
            assert.ok(equalBytes(dst, want!), `${dir}: ${dst.length} B packet differs`);
            const segs: [Uint8Array, number, number][] = [];
            for (let s = rxb.pktFirstSeg[i]!; s < rxb.pktFirstSeg[i]! + rxb.pktSegCount[i]!; s++) segs.push([rxb.regions[rxb.segRegion[s]!]!, rxb.segOffset[s]!, rxb.segLength[s]!]);
            held[dir]!.push({ segs, bytes: dst });
          }
          release(dir, Math.floor(rx.rxOutstanding * frac));
        };
        for (const s of steps) {
          const [tx] = lanes[s.dir]!;
          const pkts = s.sizes.map((n) => packet(n, seed++));
          const before = tx.txSpace();
          let sent: number;
          if (s.zeroCopy) {
            sent = tx.allocTx(txb, pkts.length, s.sizes);
            for (let i = 0; i < sent; i++) txb.write(i, pkts[i]!);
            tx.commitTx();
          } else {
            sent = tx.tx(pkts);
          }
          // never a partial packet; it stops only when the next packet cannot fit
          let need = 0;
          for (let i = 0; i < sent; i++) need += Math.max(1, Math.ceil(pkts[i]!.length / bufferSize));
          assert.is(tx.txSpace(), before - need);
          if (sent < pkts.length && !(s.zeroCopy && sent === txb.maxPackets)) {
            assert.ok(Math.max(1, Math.ceil(pkts[sent]!.length / bufferSize)) > before - need, 'stopped although it fit');
          }
          pending[s.dir]!.push(...pkts.slice(0, sent));
          drain(s.dir, s.rxMax, s.releaseFrac);
        }
        for (const dir of ['s2m', 'm2s']) {
          const [, rx] = lanes[dir]!;
          release(dir, rx.rxOutstanding);
          for (let k = 0; k <= size && pending[dir]!.length; k++) drain(dir, 64, 1);
          assert.is(pending[dir]!.length, 0, `${dir}: packets lost`);
        }
        assert.ok(p.guardsIntact(), 'guard bytes changed');
      },
    ),
    { numRuns: 150 },
  );
});

test.run();
