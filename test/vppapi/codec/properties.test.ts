import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ApiRegistry, ApiCodecError, type ValueCodec } from '../../../src/vppapi/codec/index.js';
import { arbitraryFor, containsAmbiguity } from '../../../src/vppapi/codec/arbitrary.js';
import { damagedInputs } from '../../../fuzz/support/codec-damage.js';
import { API_DIR, hex, same } from './fixtures.js';

// A bounded slice of the properties fuzz/vppapi.ts runs for as long as asked: every message of
// every module, a few runs each, so that the whole file stays within seconds.
const reg = ApiRegistry.fromDir(API_DIR);
const messages = reg.messages();
const types = reg.typeNames().map((n) => reg.type(n));
const SEED = Number(process.env.VPPAPI_SEED ?? 20260822);

/** Random bytes, and valid encodings truncated, extended or with bytes changed. */
function inputs(c: ValueCodec): fc.Arbitrary<Uint8Array> {
  return damagedInputs(c, { variableSize: c.node.kind === 'struct' ? 64 : 16, maxLength: 2048, maxArray: 3, maxString: 8, edits: 4, cut: 8 });
}

function decodeOnlyThrowsCodecErrors(c: ValueCodec, runs: number, seed: number): void {
  fc.assert(fc.property(inputs(c), (bytes) => {
    try {
      const d = c.decode(bytes);
      assert.ok(d.size >= 0 && d.size <= bytes.length, `${c.name}: size ${d.size} of ${bytes.length}`);
    } catch (e) {
      if (!(e instanceof ApiCodecError)) throw e;
      assert.ok(e.message.startsWith(c.name), `error names ${c.name}: ${e.message}`);
    }
  }), { numRuns: runs, seed });
}

function roundTrips(c: ValueCodec, runs: number, seed: number): void {
  const exact = !containsAmbiguity(c.node);
  fc.assert(fc.property(arbitraryFor(c), (v) => {
    const bytes = c.encode(v);
    if (c.size !== undefined) assert.is(bytes.length, c.size);
    const d = c.decode(bytes);
    assert.is(d.size, bytes.length, `${c.name}: decoded size`);
    assert.is(hex(c.encode(d.value)), hex(bytes), `${c.name}: re-encode`);
    if (exact) assert.ok(same(d.value, v), `${c.name}: decode(encode(v)) != v`);
    // The JSON form round-trips too.
    const j = JSON.parse(JSON.stringify(c.toJson(d.value)));
    assert.is(hex(c.encode(c.fromJson(j))), hex(bytes), `${c.name}: JSON form`);
  }), { numRuns: runs, seed });
}

/** encodeInto a buffer full of junk, at an offset, writes exactly encode()'s bytes and nothing around them; decodeRange reads them back there. */
function encodesInPlace(c: ValueCodec, runs: number, seed: number): void {
  fc.assert(fc.property(arbitraryFor(c, { maxArray: 3, maxString: 8 }), fc.nat(40), (v, at) => {
    const want = c.encode(v);
    const u8 = new Uint8Array(at + want.length + 8).fill(0xa5);
    let asked = -1;
    const target = { u8, dv: new DataView(u8.buffer), room: (n: number) => { asked = n; return at; } };
    assert.is(c.encodeInto(v, target), at);
    assert.is(asked, want.length, `${c.name}: room asked for`);
    assert.is(hex(u8.subarray(at, at + want.length)), hex(want), `${c.name}: bytes in place`);
    assert.ok(u8.subarray(0, at).every((b) => b === 0xa5) && u8.subarray(at + want.length).every((b) => b === 0xa5), `${c.name}: wrote outside its room`);
    // And back from the middle of the junk, reading nothing past its end.
    assert.ok(same(c.decodeRange(u8, at, at + want.length, target.dv), c.decode(want).value), `${c.name}: decodeRange in place`);
  }), { numRuns: runs, seed });
}

test('all 157 modules load into one registry', () => {
  assert.is(reg.modules().length, 157);
  assert.ok(messages.length > 2000);
});

test('decode of random and damaged bytes throws nothing but ApiCodecError (every message)', () => {
  messages.forEach((m, i) => decodeOnlyThrowsCodecErrors(m, 6, SEED + i));
});

test('decode of random bytes throws nothing but ApiCodecError (every type)', () => {
  types.forEach((t, i) => decodeOnlyThrowsCodecErrors(t, 3, SEED + i));
});

test('encode then decode is the identity on generated valid values (every message)', () => {
  messages.forEach((m, i) => roundTrips(m, 4, SEED + i));
});

test('encode then decode is the identity on generated valid values (every type)', () => {
  types.forEach((t, i) => roundTrips(t, 3, SEED + i));
});

test('encodeInto writes what encode returns, in place, over junk; decodeRange reads it there (every message)', () => {
  messages.forEach((m, i) => encodesInPlace(m, 2, SEED + i));
});

test.run();
