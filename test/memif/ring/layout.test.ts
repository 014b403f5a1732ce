import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MEMIF_COOKIE,
  RingType,
  RingView,
  planRegions,
  ringBytes,
} from '../../../src/memif/ring/index.js';

test('ring bytes: header 128 + 16 per descriptor', () => {
  assert.is(ringBytes(10), 128 + 16 * 1024);
  assert.is(ringBytes(0), 144);
});

test('RingView writes the wire layout byte-exactly (little-endian)', () => {
  const buf = new ArrayBuffer(256 + ringBytes(3));
  const ring = new RingView(buf, 256, 3);
  ring.init();
  ring.storeFlags(1);
  ring.storeHead(0x1234);
  ring.storeTail(0xfedc);
  ring.setDesc(5, 1, 0x0102, 0x0a0b0c0d, 0x11223344, 0x55667788);
  const dv = new DataView(buf, 256);
  assert.is(dv.getUint32(0, true), MEMIF_COOKIE);
  assert.is(dv.getUint16(4, true), 1);
  assert.is(dv.getUint16(6, true), 0x1234);
  assert.is(dv.getUint16(64, true), 0xfedc);
  const d = 128 + 5 * 16;
  assert.is(dv.getUint16(d + 0, true), 1, 'desc flags u16@0');
  assert.is(dv.getUint16(d + 2, true), 0x0102, 'desc region u16@2');
  assert.is(dv.getUint32(d + 4, true), 0x0a0b0c0d, 'desc length u32@4');
  assert.is(dv.getUint32(d + 8, true), 0x11223344, 'desc offset u32@8');
  assert.is(dv.getUint32(d + 12, true), 0x55667788, 'desc metadata u32@12');
  // Accessors read back the same fields; slot numbers are masked by ring size.
  assert.is(ring.descRegion(5 + 8), 0x0102);
  assert.is(ring.descLength(5), 0x0a0b0c0d);
  assert.is(ring.descFlags(5), 1);
  // Nothing else in the ring was touched.
  const raw = new Uint8Array(buf, 256);
  for (let i = 8; i < 64; i++) assert.is(raw[i], 0);
  for (let i = 66; i < 128; i++) assert.is(raw[i], 0);
});

test('RingView rejects rings that do not fit or are misaligned, naming the numbers', () => {
  const buf = new ArrayBuffer(ringBytes(4) + 100);
  assert.throws(() => new RingView(buf, 101, 4), /exceeds region size/);
  assert.throws(() => new RingView(buf, 2, 4), /not 4-byte aligned/);
  assert.throws(() => new RingView(buf, 0, 15), /log2 ring size 15/);
  const r = new RingView(buf, 0, 4);
  assert.throws(() => r.checkCookie('S2M ring 0'), /S2M ring 0: wrong cookie 0x0/);
});

test('libmemif layout: rings in region 0, buffers in region 1 (1+1 rings of 1024, 2048 B)', () => {
  const p = planRegions({ s2mRings: 1, m2sRings: 1, log2RingSize: 10, bufferSize: 2048 });
  assert.is(p.layout, 'libmemif');
  assert.is(p.regions.length, 2);
  assert.is(p.regions[0]!.size, 33024); // measured from a real libmemif slave
  assert.is(p.regions[0]!.mapSize, 36864);
  assert.is(p.regions[1]!.size, 4 * 1024 * 1024);
  assert.equal(p.rings.map((r) => [r.type, r.index, r.region, r.offset]), [
    [RingType.S2M, 0, 0, 0],
    [RingType.M2S, 0, 0, 16512],
  ]);
  // Slot j of ring i owns buffer (i * ring_size + j); M2S rings come after all S2M rings.
  assert.is(p.s2m[0]!.slots.region[7], 1);
  assert.is(p.s2m[0]!.slots.offset[7], 7 * 2048);
  assert.is(p.m2s[0]!.slots.offset[0], 1024 * 2048);
  assert.is(p.m2s[0]!.slots.offset[1023], (2048 - 1) * 2048);
});

test('libmemif layout shrunk to log2 8 matches the measured 8448 B / 1 MiB / offset 4224', () => {
  const p = planRegions({ s2mRings: 1, m2sRings: 1, log2RingSize: 8, bufferSize: 2048 });
  assert.is(p.regions[0]!.size, 8448);
  assert.is(p.regions[1]!.size, 1024 * 1024);
  assert.is(p.m2s[0]!.offset, 4224);
});

test('dpdk layout: one region, rings then buffers at buffer_offset', () => {
  const p = planRegions({ s2mRings: 2, m2sRings: 1, log2RingSize: 4, bufferSize: 1000, layout: 'dpdk' });
  const rb = ringBytes(4);
  assert.is(p.regions.length, 1);
  assert.is(p.regions[0]!.bufferOffset, 3 * rb);
  assert.is(p.regions[0]!.size, 3 * rb + 3 * 16 * 1000);
  assert.equal(p.rings.map((r) => [r.type, r.index, r.offset]), [
    [0, 0, 0],
    [0, 1, rb],
    [1, 0, 2 * rb],
  ]);
  assert.is(p.s2m[1]!.slots.region[0], 0);
  assert.is(p.s2m[1]!.slots.offset[3], 3 * rb + (16 + 3) * 1000);
  assert.is(p.m2s[0]!.slots.offset[0], 3 * rb + 32 * 1000);
});

test('planRegions validation names the field', () => {
  const ok = { s2mRings: 1, m2sRings: 1, log2RingSize: 10, bufferSize: 2048 };
  assert.throws(() => planRegions({ ...ok, log2RingSize: 15 }), /log2RingSize .* got 15/);
  assert.throws(() => planRegions({ ...ok, bufferSize: 0 }), /bufferSize .* got 0/);
  assert.throws(() => planRegions({ ...ok, bufferSize: 1.5 }), /bufferSize/);
  assert.throws(() => planRegions({ ...ok, s2mRings: 256 }), /s2mRings .* got 256/);
  assert.throws(() => planRegions({ ...ok, m2sRings: -1 }), /m2sRings/);
  assert.throws(() => planRegions({ ...ok, s2mRings: 0, m2sRings: 0 }), /at least 1/);
  assert.throws(() => planRegions({ ...ok, layout: 'vpp' as never }), /layout/);
  assert.throws(() => planRegions({ ...ok, s2mRings: 255, m2sRings: 255, log2RingSize: 14, bufferSize: 65536 }), /4 GiB/);
});

test.run();
