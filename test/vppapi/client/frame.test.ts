import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { FrameDecoder, FrameError, encodeFrame, FRAME_HEADER_SIZE } from '../../../src/vppapi/transport/frame.js';

test('header is 8-byte q, u32 data_len big-endian, u32 gc_mark (vpp_papi struct >QII)', () => {
  const f = encodeFrame(Uint8Array.from([0xaa, 0xbb, 0xcc]));
  assert.is(f.length, FRAME_HEADER_SIZE + 3);
  assert.equal([...f.subarray(0, 16)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]);
  assert.equal([...f.subarray(16)], [0xaa, 0xbb, 0xcc]);
});

test('reassembles frames from any split of the stream, several per chunk', () => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
    fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
    (payloads, cuts) => {
      const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
      const d = new FrameDecoder();
      const got: Buffer[] = [];
      let off = 0, i = 0;
      while (off < stream.length) {
        const n = cuts[i++ % cuts.length]!;
        got.push(...d.push(stream.subarray(off, off + n)));
        off += n;
      }
      assert.is(got.length, payloads.length);
      got.forEach((g, k) => assert.equal([...g], [...payloads[k]!]));
      assert.is(d.end(), null);
    }));
});

test('oversized length is refused and the decoder stays refused', () => {
  const d = new FrameDecoder(1000);
  const h = Buffer.alloc(16);
  h.writeUInt32BE(1001, 8);
  assert.throws(() => d.push(h), (e: unknown) => e instanceof FrameError && e.kind === 'oversized' && /1001/.test(e.message));
  assert.throws(() => d.push(encodeFrame(new Uint8Array(1))), (e: unknown) => e instanceof FrameError);
});

test('a stream ending inside a frame or a header is reported as truncated', () => {
  const d = new FrameDecoder();
  assert.equal(d.push(encodeFrame(new Uint8Array(10)).subarray(0, 20)), []);
  const e = d.end();
  assert.ok(e instanceof FrameError && e.kind === 'truncated' && /4 of 10/.test(e.message), String(e));
  const d2 = new FrameDecoder();
  d2.push(Buffer.alloc(5));
  assert.match(String(d2.end()?.message), /5 of 16/);
});

test.run();
