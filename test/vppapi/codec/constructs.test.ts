import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiRegistry, ApiCodecError } from '../../../src/vppapi/codec/index.js';
import { join } from 'node:path';
import { API_DIR, hex, same, unhex } from './fixtures.js';

// A synthetic module exercising every construct, with hand-computed encodings.
const doc = {
  module: 'synth',
  types: [
    ['pair', ['u16', 'a'], ['i8', 'b']],
    ['addr', ['vl_api_af_t', 'af'], ['vl_api_addr_un_t', 'un', { discriminator: 'af' }]],
    ['blob', ['u8', 'n'], ['u32', 'vals', 0, 'n']],
    ['tagged', ['string', 'name', 0]],
  ],
  unions: [
    ['addr_un', ['vl_api_v4_t', 'ip4', { case: 'AF_IP4' }], ['vl_api_v6_t', 'ip6', { case: 'AF_IP6' }]],
    ['plain_un', ['u8', 'small'], ['u32', 'big']],
  ],
  enums: [
    ['af', ['AF_IP4', 0], ['AF_IP6', 1], { enumtype: 'u8' }],
    ['color', ['RED', 1], ['GREEN', 2], ['BLUE', 300], { enumtype: 'u16' }],
    ['signed', ['NEG', -2], ['POS', 5], { enumtype: 'i32' }],
    ['wide', ['W0', 0], ['WMAX', 4000000000], { enumtype: 'u32' }],
  ],
  enumflags: [
    ['fl8', ['F1', 1], ['F4', 4], { enumtype: 'u8' }],
    ['fl32', ['G1', 1], ['GTOP', 2147483648], { enumtype: 'u32' }],
  ],
  aliases: { v4: { type: 'u8', length: 4 }, v6: { type: 'u8', length: 16 }, idx: { type: 'u32' }, quad: { type: 'u16', length: 2 } },
  messages: [
    ['ints', ['u16', '_vl_msg_id'], ['u8', 'a'], ['i8', 'b'], ['u16', 'c'], ['i16', 'd'], ['u32', 'e'], ['i32', 'f'], ['u64', 'g'], ['i64', 'h'], ['f64', 'x'], ['bool', 'y'], { crc: '0x00000001' }],
    ['enums', ['u16', '_vl_msg_id'], ['vl_api_af_t', 'af'], ['vl_api_color_t', 'color'], ['vl_api_signed_t', 's'], ['vl_api_wide_t', 'w'], ['vl_api_fl8_t', 'f8'], ['vl_api_fl32_t', 'f32'], { crc: '0x00000002' }],
    ['strs', ['u16', '_vl_msg_id'], ['string', 'fixed', 4], ['string', 'var', 0], ['string', 'lim', 0, { limit: 4 }], { crc: '0x00000003' }],
    ['arrs', ['u16', '_vl_msg_id'], ['u8', 'mac', 6], ['u32', 'three', 3], ['vl_api_pair_t', 'pairs', 2], ['vl_api_v4_t', 'v4'], ['vl_api_quad_t', 'q'], ['vl_api_idx_t', 'i'], { crc: '0x00000004' }],
    ['vlas', ['u16', '_vl_msg_id'], ['u8', 'n'], ['u16', 'm'], ['u8', 'bytes', 0, 'n'], ['u32', 'words', 0, 'm'], ['vl_api_pair_t', 'pairs', 0, 'm'], ['vl_api_tagged_t', 'tags', 0, 'n'], { crc: '0x00000005' }],
    ['legacy', ['u16', '_vl_msg_id'], ['u32', 'x'], ['u16', 'rest', 0], { crc: '0x00000006' }],
    ['unions', ['u16', '_vl_msg_id'], ['vl_api_addr_t', 'a'], ['vl_api_plain_un_t', 'p'], { crc: '0x00000007' }],
    ['defaults', ['u16', '_vl_msg_id'], ['bool', 't', { default: 'true' }], ['bool', 'f', { default: false }], ['u16', 'w', { default: 4294967295 }], ['f64', 'r', { default: 1.0 }], ['vl_api_idx_t', 'sw', { default: 4294967295 }], ['i8', 'neg', { default: -3 }], ['u64', 'big', { default: 8192 }], { crc: '0x00000008' }],
    ['blobs', ['u16', '_vl_msg_id'], ['vl_api_blob_t', 'b'], ['u8', 'tail'], { crc: '0x00000009' }],
  ],
  services: {}, options: {}, imports: [], vl_api_version: '0x1',
};

const reg = ApiRegistry.fromJson([{ file: 'synth.api.json', json: doc }]);
const reg0 = ApiRegistry.fromFiles(['interface_types', 'interface', 'ethernet_types', 'ip_types', 'af_packet'].map((m) => join(API_DIR, `${m}.api.json`)));
const m = (n: string) => reg.message(n);

function throwsCodec(f: () => unknown, re: RegExp): void {
  try { f(); } catch (e) {
    assert.instance(e, ApiCodecError);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected ApiCodecError ${re}`);
}

function roundTrip(name: string, v: Record<string, unknown>, want: string): void {
  const b = m(name).encode(v);
  assert.is(hex(b), want, `${name} encode`);
  const d = m(name).decode(b);
  assert.is(d.size, b.length);
  assert.is(hex(m(name).encode(d.value)), want);
}

test('integers of every width are big-endian, f64 little-endian, bool one byte', () => {
  const v = { _vl_msg_id: 0x102, a: 255, b: -1, c: 0xabcd, d: -2, e: 0xdeadbeef, f: -3, g: 2n ** 64n - 1n, h: -(2n ** 63n), x: 1.5, y: true };
  roundTrip('ints', v, '0102' + 'ff' + 'ff' + 'abcd' + 'fffe' + 'deadbeef' + 'fffffffd' + 'ffffffffffffffff' + '8000000000000000' + '000000000000f83f' + '01');
  const d = m('ints').decode(m('ints').encode(v)).value;
  assert.ok(same(d, v));
  assert.is(typeof d.g, 'bigint');
  assert.is(m('ints').size, 2 + 1 + 1 + 2 + 2 + 4 + 4 + 8 + 8 + 8 + 1);
  // NaN is the canonical quiet NaN; -0 keeps its sign.
  assert.is(hex(m('ints').encode({ x: NaN })).slice(64, 80), '000000000000f87f');
  assert.ok(Object.is(m('ints').decode(m('ints').encode({ x: -0 })).value.x, -0));
  // u64 accepts safe-integer numbers for convenience.
  assert.is(m('ints').decode(m('ints').encode({ g: 5 })).value.g, 5n);
});

test('integer range and integer-ness are checked per width', () => {
  throwsCodec(() => m('ints').encode({ a: 256 }), /^ints\.a: 256 out of range for u8/);
  throwsCodec(() => m('ints').encode({ b: -129 }), /^ints\.b: .*out of range for i8/);
  throwsCodec(() => m('ints').encode({ c: -1 }), /^ints\.c: .*u16/);
  throwsCodec(() => m('ints').encode({ d: 32768 }), /^ints\.d: .*i16/);
  throwsCodec(() => m('ints').encode({ e: 2 ** 32 }), /^ints\.e: .*u32/);
  throwsCodec(() => m('ints').encode({ f: 2 ** 31 }), /^ints\.f: .*i32/);
  throwsCodec(() => m('ints').encode({ g: -1n }), /^ints\.g: .*u64/);
  throwsCodec(() => m('ints').encode({ h: 2n ** 63n }), /^ints\.h: .*i64/);
  throwsCodec(() => m('ints').encode({ e: 1.5 }), /^ints\.e: 1\.5 is not an integer/);
  throwsCodec(() => m('ints').encode({ e: '7' }), /^ints\.e: expected u32 number/);
  throwsCodec(() => m('ints').encode({ x: '1' }), /^ints\.x: expected number/);
  throwsCodec(() => m('ints').encode({ y: 2 }), /^ints\.y: expected boolean/);
});

test('enums of u8/u16/i32/u32 width; enumflags accept ORs of defined bits only', () => {
  roundTrip('enums', { af: 1, color: 300, s: -2, w: 4000000000, f8: 5, f32: 2147483649 }, '0000' + '01' + '012c' + 'fffffffe' + 'ee6b2800' + '05' + '80000001');
  throwsCodec(() => m('enums').encode({ af: 2 }), /^enums\.af: 2 is not a value of enum af/);
  throwsCodec(() => m('enums').encode({ color: 0 }), /^enums\.color: 0 is not a value of enum color/);
  throwsCodec(() => m('enums').encode({ f8: 2 }), /^enums\.f8: 2 \(0x2\) sets bits not defined by flags fl8/);
  throwsCodec(() => m('enums').encode({ f32: 2 }), /^enums\.f32: .*flags fl32/);
  // An `enum x_flags` (VPP's if_status_flags, tap_flags...) takes ORs of its members like an enumflag.
  const sw = reg0.message('sw_interface_details');
  assert.is(sw.decode(sw.encode({ flags: 3 })).value.flags, 3);
  throwsCodec(() => sw.encode({ flags: 4 }), /^sw_interface_details\.flags: 4 \(0x4\) sets bits not defined by flags if_status_flags/);
  throwsCodec(() => reg0.message('af_packet_create_v3').encode({ mode: 9 }), /^af_packet_create_v3\.mode: 9 is not a value of enum af_packet_mode/);
  // Decoding is lenient: a value from a newer peer comes back as its number.
  assert.is(m('enums').decode(unhex('0000' + '07' + '0001' + '00000005' + '00000000' + '00' + '00000000')).value.af, 7);
});

test('fixed strings hold N-1 bytes NUL padded; variable strings are u32 length + bytes', () => {
  roundTrip('strs', { fixed: 'abc', var: 'hello', lim: 'xyz' }, '0000' + '61626300' + '0000000568656c6c6f' + '0000000378797a');
  throwsCodec(() => m('strs').encode({ fixed: 'abcd' }), /^strs\.fixed: string of 4 bytes exceeds string\[4\]/);
  throwsCodec(() => m('strs').encode({ fixed: 'a\0b' }), /^strs\.fixed: .*NUL/);
  throwsCodec(() => m('strs').encode({ lim: 'wxyz' }), /^strs\.lim: string of 4 bytes exceeds the limit of 3/);
  throwsCodec(() => m('strs').encode({ var: 5 }), /^strs\.var: expected string/);
  // UTF-8 counts bytes.
  throwsCodec(() => m('strs').encode({ fixed: 'éé' }), /string of 4 bytes/);
  roundTrip('strs', { var: 'é€😀' }, '0000' + '00000000' + '00000009c3a9e282acf09f9880' + '00000000');
  // An empty variable string still takes its 4 length bytes (vpp_papi reports 0 there).
  const d = m('strs').decode(unhex('0000' + '00000000' + '00000000' + '00000000'));
  assert.is(d.size, 14);
  assert.equal(d.value, { _vl_msg_id: 0, fixed: '', var: '', lim: '' });
  // Fixed strings end at the first NUL.
  assert.is(m('strs').decode(unhex('0000' + '61006263' + '00000000' + '00000000')).value.fixed, 'a');
});

test('fixed arrays, nested typedefs, and plain and array aliases', () => {
  const v = { _vl_msg_id: 0, mac: unhex('0102030405ff'), three: [1, 2, 3], pairs: [{ a: 1, b: -1 }, { a: 2, b: 2 }], v4: unhex('0a000001'), q: [7, 8], i: 9 };
  roundTrip('arrs', v, '0000' + '0102030405ff' + '000000010000000200000003' + '0001ff' + '000202' + '0a000001' + '00070008' + '00000009');
  assert.ok(same(m('arrs').decode(m('arrs').encode(v)).value, v));
  assert.instance(m('arrs').decode(m('arrs').encode(v)).value.mac, Uint8Array);
  throwsCodec(() => m('arrs').encode({ mac: unhex('0102') }), /^arrs\.mac: u8\[6\] needs exactly 6 bytes, got 2/);
  throwsCodec(() => m('arrs').encode({ v4: unhex('0102030405') }), /^arrs\.v4: u8\[4\] needs exactly 4 bytes/);
  throwsCodec(() => m('arrs').encode({ three: [1, 2] }), /^arrs\.three: fixed array needs exactly 3 elements, got 2/);
  throwsCodec(() => m('arrs').encode({ pairs: [{ a: 1 }, { a: 1, c: 2 }] }), /^arrs\.pairs\[1\]\.c: unknown field/);
  throwsCodec(() => m('arrs').encode({ pairs: [{ a: 1 }, { b: 200 }] }), /^arrs\.pairs\[1\]\.b: 200 out of range for i8/);
  assert.is(reg.type('v4').kind, 'alias');
  assert.is(hex(reg.type('vl_api_v4_t').encode(unhex('01020304'))), '01020304');
  assert.is(hex(reg.type('idx').encode(5)), '00000005');
  assert.is(reg.type('pair').size, 3);
});

test('variable arrays: counts filled from the array when omitted, checked when given', () => {
  const v = { bytes: unhex('aabb'), words: [1], pairs: [{ a: 3, b: 4 }], tags: [{ name: 'x' }, { name: '' }] };
  const b = m('vlas').encode(v);
  assert.is(hex(b), '0000' + '02' + '0001' + 'aabb' + '00000001' + '000304' + '0000000178' + '00000000');
  const d = m('vlas').decode(b);
  assert.is(d.value.n, 2);
  assert.is(d.value.m, 1);
  assert.ok(same(d.value.tags, v.tags));
  throwsCodec(() => m('vlas').encode({ n: 3, bytes: unhex('aabb'), tags: [{}, {}] }), /^vlas\.n: length field n=3 but bytes has 2 elements/);
  throwsCodec(() => m('vlas').encode({ bytes: unhex('aabb'), tags: [{}] }), /^vlas\.n: .*bytes has 2 elements, tags has 1 element/);
  throwsCodec(() => m('vlas').encode({ m: 1 }), /^vlas\.m: length field m=1 but words has 0/);
  throwsCodec(() => m('vlas').encode({ bytes: new Uint8Array(256), tags: new Array(256).fill({}) }), /^vlas\.n: 256 out of range for u8/);
  throwsCodec(() => m('vlas').encode({ words: 'x' }), /^vlas\.words: expected array/);
  // Arrays may be plain number arrays for u8 data.
  assert.is(hex(m('vlas').encode({ bytes: [1, 2], tags: [{}, {}] })).slice(0, 14), '00000200000102');
});

test('decoding checks VLA counts and string lengths against the input', () => {
  throwsCodec(() => m('vlas').decode(unhex('0000' + '05' + '0000' + 'aabb')), /^vlas\.bytes: truncated input: 5 bytes would take 5 bytes, 2 remain/);
  throwsCodec(() => m('vlas').decode(unhex('0000' + '00' + 'ffff')), /^vlas\.words: truncated input/);
  throwsCodec(() => m('vlas').decode(unhex('0000' + '01' + '0000' + 'aa' + '00000009')), /^vlas\.tags\[0\]\.name: truncated input: string of length 9/);
  throwsCodec(() => m('ints').decode(unhex('0000ff')), /^ints\.b: truncated input/);
  throwsCodec(() => m('strs').decode(unhex('0000616263000000')), /^strs\.var: truncated input/);
  // Trailing bytes after a whole message are left to the caller.
  const d = m('ints').decode(new Uint8Array(m('ints').size! + 5));
  assert.is(d.size, m('ints').size);
  // Decoding at an offset.
  const buf = new Uint8Array(3 + 2 + 4 + 4 + 4);
  buf.set(m('strs').encode({}), 3);
  assert.is(m('strs').decode(buf, 3).size, 14);
});

test('legacy arrays without a length field take the rest of the input', () => {
  roundTrip('legacy', { x: 1, rest: [1, 2, 3] }, '0000' + '00000001' + '000100020003');
  assert.equal(m('legacy').decode(unhex('0000' + '00000001' + '0001')).value.rest, [1]);
  throwsCodec(() => m('legacy').decode(unhex('0000' + '00000001' + '000100')), /^legacy\.rest: legacy array/);
});

test('unions: one arm, padded to the largest; discriminator filled or checked', () => {
  roundTrip('unions', { a: { af: 0, un: { ip4: unhex('01020304') } }, p: { small: 7 } }, '0000' + '00' + '01020304' + '0'.repeat(24) + '07000000');
  // Discriminator omitted: taken from the arm.
  assert.is(hex(m('unions').encode({ a: { un: { ip6: new Uint8Array(16).fill(0xee) } } })).slice(4, 6), '01');
  // Decoding follows the discriminator, not the bytes.
  const d = m('unions').decode(m('unions').encode({ a: { af: 1, un: { ip6: new Uint8Array(16) } } })).value;
  assert.equal(Object.keys(d.a.un), ['ip6']);
  // Without a discriminator, the first arm that reproduces the bytes.
  assert.equal(m('unions').decode(m('unions').encode({ p: { big: 1 } })).value.p, { big: 1 });
  assert.equal(m('unions').decode(m('unions').encode({ p: { big: 0x05000000 } })).value.p, { small: 5 });
  throwsCodec(() => m('unions').encode({ p: {} }), /^unions\.p: union plain_un needs exactly one arm, got 0/);
  throwsCodec(() => m('unions').encode({ p: { small: 1, big: 2 } }), /^unions\.p: union plain_un needs exactly one arm, got 2/);
  throwsCodec(() => m('unions').encode({ p: { huge: 1 } }), /^unions\.p: unknown arm huge of union plain_un/);
  throwsCodec(() => m('unions').encode({ a: { af: 1, un: { ip4: unhex('01020304') } } }), /^unions\.a\.af: 1 selects another arm than un\.ip4/);
  throwsCodec(() => m('unions').encode({ p: { small: 256 } }), /^unions\.p\.small: 256 out of range for u8/);
});

test('left-out fields take the JSON default (vppapigen writes true as "true"), else zero', () => {
  const d = m('defaults').decode(m('defaults').encode({})).value;
  assert.equal(d, { _vl_msg_id: 0, t: true, f: false, w: 65535, r: 1, sw: 4294967295, neg: -3, big: 8192n });
  assert.equal(m('defaults').fields.find((f) => f.name === 'sw')!.default, 4294967295);
  assert.is(m('defaults').decode(m('defaults').encode({ t: false })).value.t, false);
});

test('nested typedef with its own VLA inside a message', () => {
  roundTrip('blobs', { b: { vals: [1, 2] }, tail: 9 }, '0000' + '02' + '0000000100000002' + '09');
  throwsCodec(() => m('blobs').decode(unhex('0000' + '03' + '00000001')), /^blobs\.b\.vals: truncated input/);
});

test('unknown fields and non-object values are rejected', () => {
  throwsCodec(() => m('ints').encode({ zz: 1 }), /^ints\.zz: unknown field/);
  throwsCodec(() => m('ints').encode(5 as unknown as Record<string, unknown>), /^ints: expected object/);
  throwsCodec(() => reg.message('nope'), /unknown message nope/);
  throwsCodec(() => reg.type('nope'), /unknown type nope/);
});

test('JSON form: u64 as decimal strings, bytes as hex, f64 specials as strings', () => {
  const c = m('ints');
  const j = c.toJson(c.decode(c.encode({ g: 2n ** 64n - 1n, x: -Infinity })).value) as Record<string, unknown>;
  assert.is(j.g, '18446744073709551615');
  assert.is(j.x, '-Infinity');
  assert.ok(Number.isNaN(c.fromJson({ x: 'NaN' }).x));
  assert.is((m('arrs').toJson({ mac: unhex('0102030405ff') }) as any).mac, '0102030405ff');
  throwsCodec(() => m('arrs').fromJson({ mac: 'zz' }), /^arrs\.mac: not a hex byte string/);
  throwsCodec(() => c.fromJson({ g: '1.5' }), /^ints\.g: expected u64 as a decimal string/);
  throwsCodec(() => c.fromJson({ nope: 1 }), /^ints\.nope: unknown field/);
});

test('loading: identical repeats merge, conflicting ones name both files', () => {
  const a = { types: [['t', ['u8', 'x']]], messages: [] };
  const b = { types: [['t', ['u16', 'x']]], messages: [] };
  ApiRegistry.fromJson([{ file: 'a.api.json', json: a }, { file: 'c.api.json', json: a }]);
  throwsCodec(() => ApiRegistry.fromJson([{ file: 'a.api.json', json: a }, { file: 'b.api.json', json: b }]), /typedef t in a\.api\.json and b\.api\.json/);
  throwsCodec(() => ApiRegistry.fromJson([{ file: 'x.api.json', json: { messages: [['m', ['u32', 'context'], { crc: '0x1' }]] } }]), /first field is not u16 _vl_msg_id/);
  throwsCodec(() => ApiRegistry.fromJson([{ file: 'x.api.json', json: { messages: [['m', ['u16', '_vl_msg_id'], ['vl_api_nope_t', 'z'], { crc: '0x1' }]] } }]), /m\.z: unknown type vl_api_nope_t/);
  throwsCodec(() => ApiRegistry.fromJson([{ file: 'x.api.json', json: { messages: [['m', ['u16', '_vl_msg_id'], ['u8', 'd', 0, 'n'], { crc: '0x1' }]] } }]), /m\.d: length field n is not an earlier field/);
});

test('message metadata: crc, nameCrc, module, field introspection', () => {
  const c = m('vlas');
  assert.is(c.crc, '0x00000005');
  assert.is(c.nameCrc, 'vlas_00000005');
  assert.is(c.module, 'synth');
  assert.equal(c.fields.map((f) => f.name), ['_vl_msg_id', 'n', 'm', 'bytes', 'words', 'pairs', 'tags']);
  assert.is(c.fields[3]!.lengthField, 'n');
  assert.is(c.fields[3]!.kind, 'vla');
  assert.is(c.size, undefined);
  assert.ok(reg.hasMessage('vlas'));
  assert.not.ok(reg.hasMessage('vlas_reply'));
});

test.run();
