import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { FrameDecoder, FrameError, FrameWriter, encodeFrame, FRAME_HEADER_SIZE } from '../../../src/vppapi/transport/frame.js';

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

test('a header ending exactly where a chunk ends: the next chunk is payload, not a header', () => {
  const f = encodeFrame(Uint8Array.from([1, 2, 3, 4, 5]));
  const d = new FrameDecoder();
  assert.equal(d.push(f.subarray(0, FRAME_HEADER_SIZE)), []);
  assert.equal(d.push(f.subarray(FRAME_HEADER_SIZE)).map((b) => [...b]), [[1, 2, 3, 4, 5]]);
  assert.is(d.end(), null);
});

test('feed hands frames inside a chunk on as ranges of that chunk, without copying', () => {
  const chunk = Buffer.concat([encodeFrame(Uint8Array.from([7])), encodeFrame(Uint8Array.from([8, 9]))]);
  const seen: Array<[Buffer, number, number]> = [];
  new FrameDecoder().feed(chunk, (b, start, end) => seen.push([b, start, end]));
  assert.equal(seen.map(([b, s, e]) => [b === chunk, s, e]), [[true, 16, 17], [true, 33, 35]]);
});

/** A writer whose sink records each write and says, per test, whether it is done with the bytes. */
function recording(done: boolean) {
  const writes: number[][] = [];
  const w = new FrameWriter((b) => { writes.push([...b]); return done; }, 64);
  return { w, writes };
}

const frame = (w: FrameWriter, bytes: number[]): void => w.frame(Uint8Array.from(bytes));

test('frames committed in one turn of the event loop leave in one write, each behind its header', async () => {
  const { w, writes } = recording(true);
  frame(w, [1, 2]);
  frame(w, [3]);
  assert.is(writes.length, 0);
  await new Promise((r) => process.nextTick(r));
  assert.equal(writes, [[...encodeFrame(Uint8Array.from([1, 2])), ...encodeFrame(Uint8Array.from([3]))]]);
  frame(w, [4]);
  await new Promise((r) => process.nextTick(r));
  assert.equal(writes[1], [...encodeFrame(Uint8Array.from([4]))]);
});

test('past 4 KiB waiting, frames are written at once instead of at the end of the turn', () => {
  const writes: number[] = [];
  const w = new FrameWriter((b) => { writes.push(b.length); return true; });
  for (let k = 0; k < 4; k++) w.frame(new Uint8Array(1000)); // 4064 bytes with headers
  assert.equal(writes, []);
  w.frame(new Uint8Array(1000));
  assert.equal(writes, [5 * 1016]);
});

test('a full slab is written out before the next frame; a payload larger than a slab gets its own', () => {
  for (const done of [true, false]) {
    const { w, writes } = recording(done);
    const big = Array.from({ length: 100 }, (_, i) => i);
    frame(w, Array(40).fill(1));   // 56 of 64 bytes
    frame(w, [2]);                 // does not fit: the first frame is written, a new slab starts
    frame(w, big);                 // larger than a slab
    w.flush();
    assert.equal(writes, [[...encodeFrame(Uint8Array.from(Array(40).fill(1)))], [...encodeFrame(Uint8Array.from([2]))], [...encodeFrame(Uint8Array.from(big))]]);
  }
});

test('bytes the sink still holds are never written over; a slab the sink is done with is reused', () => {
  const held: Buffer[] = [];
  const w = new FrameWriter((b) => { held.push(b); return false; }, 64);
  frame(w, [1]);
  w.flush();
  frame(w, [2]);
  w.flush();
  assert.equal(held.map((b) => [...b]), [[...encodeFrame(Uint8Array.from([1]))], [...encodeFrame(Uint8Array.from([2]))]]);
  const reused: Buffer[] = [];
  const r = new FrameWriter((b) => { reused.push(b); return true; }, 64);
  frame(r, [1]);
  r.flush();
  frame(r, [2]);
  r.flush();
  assert.is(reused[0]!.buffer, reused[1]!.buffer);
  assert.is(reused[1]!.byteOffset, reused[0]!.byteOffset);
});

test('a frame abandoned between room() and commit() leaves nothing behind', () => {
  const { w, writes } = recording(true);
  w.room(10);
  frame(w, [5]);
  w.flush();
  assert.equal(writes, [[...encodeFrame(Uint8Array.from([5]))]]);
});

test.run();
