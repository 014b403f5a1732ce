// fast-check: the reflector's copyPacket (src/memif/echo.ts) turns every received packet into an
// exact copy in the transmit ring — chained or not, with buffer sizes that differ on the two
// rings, posted buffers at unaligned offsets — with the Ethernet addresses swapped when asked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { RxBurst, TxBurst } from '../../src/memif/ring/index.js';
import { copyPacket } from '../../src/memif/echo.js';
import { equalBytes, makePair, packet } from './ring/helpers.js';

function swapped(p: Uint8Array): Uint8Array {
  const q = p.slice();
  if (p.length >= 12) for (let k = 0; k < 6; k++) { q[k] = p[6 + k]!; q[6 + k] = p[k]!; }
  return q;
}

test('copyPacket: rx packet -> tx packet byte-exact, MACs swapped when asked', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(64, 100, 2048),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 5000 })), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      (bufferSize, sizes, shift, swap) => {
        const p = makePair({ log2RingSize: 10, bufferSize });
        // The slave posts its M2S buffers `shift` bytes in (a headroom, as libmemif's refill may).
        const ring = p.master.m2s[0]!.ring;
        for (let j = 0; j < ring.size; j++) ring.setDesc(j, 0, ring.descRegion(j), bufferSize - shift, ring.descOffset(j) + shift);
        const pkts = sizes.map((n, i) => packet(n, 7 + i));
        assert.is(p.slave.s2m[0]!.tx(pkts), pkts.length);
        const rxb = new RxBurst(8, 2048);
        const txb = new TxBurst(8, 2048);
        const n = p.master.s2m[0]!.rx(rxb);
        assert.is(n, pkts.length);
        assert.is(p.master.m2s[0]!.allocTx(txb, n, rxb.pktLength), n);
        for (let i = 0; i < n; i++) copyPacket(rxb, i, txb, i, swap);
        assert.is(p.master.m2s[0]!.commitTx(), n);
        p.master.s2m[0]!.release(n);
        const got = new RxBurst(8, 2048);
        assert.is(p.slave.m2s[0]!.rx(got), n);
        for (let i = 0; i < n; i++) {
          const dst = new Uint8Array(got.pktLength[i]!);
          got.copyPacket(i, dst);
          const want = swap ? swapped(pkts[i]!) : pkts[i]!;
          assert.ok(equalBytes(dst, want), `packet ${i} (${sizes[i]} B, buffers ${bufferSize}, shift ${shift}, swap ${swap})`);
        }
        assert.is(p.brokenGuard(), undefined);
      },
    ),
    { numRuns: 300 },
  );
});

test.run();
