// memif control message codec: exact wire layout (offsets from libmemif src/memif.h, absolute in
// the 128-byte memif_msg_t), decode∘encode identity, and decode of arbitrary input failing only
// with MemifProtocolError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeMsg, encodeMsg, MemifProtocolError } from '../../../src/memif/socket/messages.js';
import { MsgType, MEMIF_MSG_SIZE, MEMIF_VERSION, type MemifMsg } from '../../../src/memif/wire.js';

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (u16(b, o) + u16(b, o + 2) * 65536);
const u64 = (b: Uint8Array, o: number) => BigInt(u32(b, o)) + (BigInt(u32(b, o + 4)) << 32n);
const str = (b: Uint8Array, o: number, len: number) => Buffer.from(b.subarray(o, o + len));
/** `s` NUL-padded to `len` bytes: how a char[len] field must look on the wire. */
const field = (s: string, len: number) => { const x = Buffer.alloc(len); x.write(s); return x; };

function throwsProtocol(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, MemifProtocolError);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected MemifProtocolError matching ${re}`);
}

test('ACK: 128 bytes, type 1 at offset 0, everything else zero', () => {
  const b = encodeMsg({ type: MsgType.ACK });
  assert.is(b.length, MEMIF_MSG_SIZE);
  assert.is(u16(b, 0), 1);
  assert.ok(b.subarray(2).every((x) => x === 0));
});

test('HELLO field offsets: name@2 min_version@34 max_version@36 max_region@38 max_m2s@40 max_s2m@42 max_log2 u8@44', () => {
  const b = encodeMsg({
    type: MsgType.HELLO, name: 'VPP 24.02', minVersion: 0x0102, maxVersion: 0x0304,
    maxRegion: 0x0506, maxM2sRing: 0x0708, maxS2mRing: 0x090a, maxLog2RingSize: 0x0b,
  });
  assert.is(b.length, 128);
  assert.is(u16(b, 0), 2);
  assert.equal(str(b, 2, 32), field('VPP 24.02', 32));
  assert.is(u16(b, 34), 0x0102);
  assert.is(u16(b, 36), 0x0304);
  assert.is(u16(b, 38), 0x0506);
  assert.is(u16(b, 40), 0x0708);
  assert.is(u16(b, 42), 0x090a);
  assert.is(b[44], 0x0b);
  assert.ok(b.subarray(45).every((x) => x === 0), 'nothing after max_log2_ring_size');
});

test('INIT field offsets: version@2 id u32@4 mode u8@8 secret[24]@9 name[32]@33', () => {
  const b = encodeMsg({ type: MsgType.INIT, version: 0x0200, id: 0xdeadbeef, mode: 2, secret: 'sesame', name: 'libmemif-app' });
  assert.is(b.length, 128);
  assert.is(u16(b, 0), 3);
  assert.is(u16(b, 2), 0x0200);
  assert.is(u32(b, 4), 0xdeadbeef);
  assert.is(b[8], 2);
  assert.equal(str(b, 9, 24), field('sesame', 24));
  assert.equal(str(b, 33, 32), field('libmemif-app', 32));
  assert.ok(b.subarray(65).every((x) => x === 0));
});

test('INIT: a 24-byte secret fills its field with no NUL and decodes whole; the name starts right after it', () => {
  const secret = 'abcdefghijklmnopqrstuvwx';
  const b = encodeMsg({ type: MsgType.INIT, version: MEMIF_VERSION, id: 0, mode: 0, secret, name: 'n' });
  assert.equal(str(b, 9, 24), Buffer.from(secret));
  assert.is(b[33], 'n'.charCodeAt(0));
  const d = decodeMsg(b);
  assert.equal(d, { type: MsgType.INIT, version: MEMIF_VERSION, id: 0, mode: 0, secret, name: 'n' });
});

test('ADD_REGION field offsets: index@2 size u64@4', () => {
  const b = encodeMsg({ type: MsgType.ADD_REGION, index: 0x0102, size: 0x0807060504030201n });
  assert.is(b.length, 128);
  assert.is(u16(b, 0), 4);
  assert.is(u16(b, 2), 0x0102);
  assert.is(u64(b, 4), 0x0807060504030201n);
  assert.ok(b.subarray(12).every((x) => x === 0));
});

test('ADD_RING field offsets: flags@2 index@4 region@6 offset u32@8 log2 u8@12 private_hdr_size u16@13', () => {
  const b = encodeMsg({ type: MsgType.ADD_RING, flags: 1, index: 0x0203, region: 0x0405, offset: 0x06070809, log2RingSize: 0x0a, privateHdrSize: 0x0b0c });
  assert.is(b.length, 128);
  assert.is(u16(b, 0), 5);
  assert.is(u16(b, 2), 1);
  assert.is(u16(b, 4), 0x0203);
  assert.is(u16(b, 6), 0x0405);
  assert.is(u32(b, 8), 0x06070809);
  assert.is(b[12], 0x0a);
  assert.is(u16(b, 13), 0x0b0c, 'private_hdr_size is unaligned, right after the u8');
  assert.ok(b.subarray(15).every((x) => x === 0));
});

test('CONNECT and CONNECTED: if_name[32]@2', () => {
  for (const type of [MsgType.CONNECT, MsgType.CONNECTED] as const) {
    const b = encodeMsg({ type, ifName: 'memif0/0' });
    assert.is(b.length, 128);
    assert.is(u16(b, 0), type);
    assert.equal(str(b, 2, 32), field('memif0/0', 32));
    assert.ok(b.subarray(34).every((x) => x === 0));
  }
});

test('DISCONNECT: code u32@2 string[96]@6', () => {
  const b = encodeMsg({ type: MsgType.DISCONNECT, code: 0x01020304, reason: 'Incorrect secret' });
  assert.is(b.length, 128);
  assert.is(u16(b, 0), 8);
  assert.is(u32(b, 2), 0x01020304);
  assert.equal(str(b, 6, 96), field('Incorrect secret', 96));
  assert.ok(b.subarray(102).every((x) => x === 0));
});

test('DISCONNECT: a long reason is cut to 95 bytes, keeping the terminating NUL', () => {
  const reason = 'x'.repeat(200);
  const b = encodeMsg({ type: MsgType.DISCONNECT, code: 0, reason });
  assert.equal(str(b, 6, 95), Buffer.from('x'.repeat(95)));
  assert.is(b[6 + 95], 0, 'the last byte of string[96] stays NUL');
  const d = decodeMsg(b);
  assert.equal(d, { type: MsgType.DISCONNECT, code: 0, reason: 'x'.repeat(95) });
});

test('DISCONNECT: a reason cut inside a multi-byte character decodes to a prefix of the original', () => {
  const reason = 'ab' + 'é'.repeat(60); // 122 bytes; the 95th byte is the first half of an 'é'
  const d = decodeMsg(encodeMsg({ type: MsgType.DISCONNECT, code: 0, reason })) as { reason: string };
  assert.is(d.reason, 'ab' + 'é'.repeat(46), 'cut before the split character, no U+FFFD');
});

test('over-long strings are refused on encode with the field named; the largest that fit are accepted', () => {
  const cases: Array<[string, (s: string) => MemifMsg, number]> = [
    ['name', (s) => ({ type: MsgType.HELLO, name: s, minVersion: 0, maxVersion: 0, maxRegion: 0, maxM2sRing: 0, maxS2mRing: 0, maxLog2RingSize: 0 }), 31],
    ['name', (s) => ({ type: MsgType.INIT, version: 0, id: 0, mode: 0, secret: '', name: s }), 31],
    ['secret', (s) => ({ type: MsgType.INIT, version: 0, id: 0, mode: 0, secret: s, name: '' }), 24],
    ['if_name', (s) => ({ type: MsgType.CONNECT, ifName: s }), 31],
    ['if_name', (s) => ({ type: MsgType.CONNECTED, ifName: s }), 31],
  ];
  for (const [name, make, max] of cases) {
    assert.is(encodeMsg(make('a'.repeat(max))).length, 128);
    throwsProtocol(() => encodeMsg(make('a'.repeat(max + 1))), new RegExp(`^${name} .* ${max + 1} bytes; at most ${max} fit`));
    // Limits are in bytes, not characters: 16 two-byte characters do not fit 31 bytes.
    if (max === 31) throwsProtocol(() => encodeMsg(make('é'.repeat(16))), new RegExp(`${name}.*32 bytes`));
  }
});

test('a string with a NUL byte in it is refused on encode (it would arrive cut short)', () => {
  throwsProtocol(() => encodeMsg({ type: MsgType.CONNECT, ifName: 'mem\0if' }), /if_name .*NUL/);
  throwsProtocol(() => encodeMsg({ type: MsgType.INIT, version: 0, id: 0, mode: 0, secret: 'a\0', name: '' }), /secret .*NUL/);
});

test('out-of-range numbers are refused on encode with the field named', () => {
  throwsProtocol(() => encodeMsg({ type: MsgType.INIT, version: 0x10000, id: 0, mode: 0, secret: '', name: '' }), /version 65536 is not a u16/);
  throwsProtocol(() => encodeMsg({ type: MsgType.INIT, version: 0, id: -1, mode: 0, secret: '', name: '' }), /id -1 is not a u32/);
  throwsProtocol(() => encodeMsg({ type: MsgType.INIT, version: 0, id: 0, mode: 256, secret: '', name: '' }), /mode 256 is not a u8/);
  throwsProtocol(() => encodeMsg({ type: MsgType.ADD_REGION, index: 0, size: 2n ** 64n }), /region size .* is not a u64/);
  throwsProtocol(() => encodeMsg({ type: MsgType.ADD_RING, flags: 0, index: 0, region: 0, offset: 1.5, log2RingSize: 10, privateHdrSize: 0 }), /offset 1.5 is not a u32/);
  throwsProtocol(() => encodeMsg({ type: MsgType.DISCONNECT, code: 2 ** 32, reason: '' }), /code 4294967296 is not a u32/);
});

test('unknown types are named: encode of type 99, decode of types 0, 9 and 99', () => {
  throwsProtocol(() => encodeMsg({ type: 99 } as unknown as MemifMsg), /cannot encode message type 99/);
  for (const t of [0, 9, 99, 0xffff]) {
    const b = new Uint8Array(128);
    b[0] = t & 0xff;
    b[1] = t >> 8;
    throwsProtocol(() => decodeMsg(b), new RegExp(`^Unknown message type ${t}$`));
  }
});

test('wrong length: "Invalid message size" with the length, for short, long and real-length-differs cases', () => {
  const ack = encodeMsg({ type: MsgType.ACK });
  throwsProtocol(() => decodeMsg(ack.subarray(0, 64)), /^Invalid message size 64 /);
  throwsProtocol(() => decodeMsg(new Uint8Array(200)), /^Invalid message size 200 /);
  throwsProtocol(() => decodeMsg(new Uint8Array(0)), /^Invalid message size 0 /);
  // A truncated receive: 256 bytes kept of a 5000-byte datagram.
  throwsProtocol(() => decodeMsg(new Uint8Array(256), 5000), /^Invalid message size 5000 /);
  // The real length says 128 but fewer bytes were given: a protocol error, not a RangeError, and
  // never a read of whatever follows the view in its buffer.
  throwsProtocol(() => decodeMsg(ack.slice(0, 10), 128), /truncated: 10 of 128 bytes/);
  throwsProtocol(() => decodeMsg(ack.subarray(0, 10), 128), /truncated: 10 of 128 bytes/);
  // A message in a larger buffer at an offset decodes from that offset.
  const big = new Uint8Array(300);
  big.set(encodeMsg({ type: MsgType.CONNECT, ifName: 'off' }), 50);
  assert.equal(decodeMsg(big.subarray(50, 178)), { type: MsgType.CONNECT, ifName: 'off' });
});

// --- properties ---
const utf8 = (max: number) => fc.string({ unit: 'binary', maxLength: max })
  .filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= max);
const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });

const anyMsg: fc.Arbitrary<MemifMsg> = fc.oneof(
  fc.constant({ type: MsgType.ACK } as MemifMsg),
  fc.record({
    type: fc.constant(MsgType.HELLO), name: utf8(31), minVersion: u(16), maxVersion: u(16), maxRegion: u(16),
    maxM2sRing: u(16), maxS2mRing: u(16), maxLog2RingSize: u(8),
  }),
  fc.record({ type: fc.constant(MsgType.INIT), version: u(16), id: u(32), mode: u(8), secret: utf8(24), name: utf8(31) }),
  fc.record({ type: fc.constant(MsgType.ADD_REGION), index: u(16), size: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({
    type: fc.constant(MsgType.ADD_RING), flags: u(16), index: u(16), region: u(16), offset: u(32),
    log2RingSize: u(8), privateHdrSize: u(16),
  }),
  fc.record({ type: fc.constant(MsgType.CONNECT), ifName: utf8(31) }),
  fc.record({ type: fc.constant(MsgType.CONNECTED), ifName: utf8(31) }),
  fc.record({ type: fc.constant(MsgType.DISCONNECT), code: u(32), reason: utf8(95) }),
) as fc.Arbitrary<MemifMsg>;

test('property: decode(encode(m)) equals m for every message type, and encode gives 128 bytes', () => {
  fc.assert(fc.property(anyMsg, (m) => {
    const b = encodeMsg(m);
    assert.is(b.length, 128);
    assert.is(u16(b, 0), m.type);
    assert.equal(decodeMsg(b), { ...m }); // fc.record builds null-prototype objects
  }), { numRuns: 2000 });
});

/** The char[] fields of each type, as [offset, length]. */
const stringFields = (t: number): Array<[number, number]> =>
  t === 2 || t === 6 || t === 7 ? [[2, 32]] : t === 3 ? [[9, 24], [33, 32]] : t === 8 ? [[6, 96]] : [];

test('property: encode(decode(b)) reproduces every byte the message defines, for any valid-type 128 bytes', () => {
  // Defined bytes per type: header + union member size (what follows the member is padding).
  const used: Record<number, number> = { 1: 2, 2: 45, 3: 65, 4: 12, 5: 15, 6: 34, 7: 34, 8: 102 };
  // After a string's first NUL the rest of its field is padding: compare up to that NUL only.
  const defined = (b: Uint8Array, t: number) => {
    const c = b.slice(0, used[t]);
    for (const [o, len] of stringFields(t)) {
      const z = c.subarray(o, o + len).indexOf(0);
      if (z >= 0) c.fill(0, o + z, o + len);
    }
    return c;
  };
  fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.uint8Array({ minLength: 128, maxLength: 128 }), (t, raw) => {
    raw[0] = t;
    raw[1] = 0;
    // ASCII strings, so that their bytes survive UTF-8 decoding; a DISCONNECT reason is at most 95 bytes.
    for (const [o, len] of stringFields(t)) {
      for (let i = o; i < o + len; i++) raw[i] = raw[i]! & 0x7f;
      if (t !== 3 || o !== 9) raw[o + len - 1] = 0; // only the secret may fill its field
    }
    assert.equal(defined(encodeMsg(decodeMsg(raw)), t), defined(raw, t));
  }), { numRuns: 2000 });
});

test('property: decode of arbitrary bytes and lengths throws only MemifProtocolError', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 0, maxLength: 300 }),
    fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }),
    fc.boolean(),
    (raw, length, forceType) => {
      if (forceType && raw.length >= 2) raw[1] = 0; // reach every known type often
      try {
        const m = decodeMsg(raw, length);
        assert.is(length ?? raw.length, 128);
        assert.ok(m.type >= 1 && m.type <= 8);
      } catch (e) {
        if (!(e instanceof MemifProtocolError)) throw e;
      }
    },
  ), { numRuns: 5000 });
});

test.run();
