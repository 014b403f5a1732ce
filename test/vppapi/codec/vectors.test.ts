import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiRegistry } from '../../../src/vppapi/codec/index.js';
import { API_DIR, hex, loadVectors, same, unhex } from './fixtures.js';

const reg = ApiRegistry.fromDir(API_DIR);
const vectors = loadVectors();

test('fixture set is complete (2045 vectors, 157 modules)', () => {
  assert.is(vectors.length, 2045);
  assert.is(reg.modules().length, 157);
});

test('every vector encodes to its bytes and decodes back to its value', () => {
  const failures: string[] = [];
  for (const v of vectors) {
    const id = `${v.module}/${v.name}#${v.instance}`;
    try {
      const c = v.kind === 'message' ? reg.message(v.name) : reg.type(v.name);
      const bytes = c.encode(c.fromJson(v.value));
      if (hex(bytes) !== v.hex) { failures.push(`${id}: encode ${hex(bytes)} != ${v.hex}`); continue; }
      const d = c.decode(unhex(v.hex));
      if (d.size !== v.hex.length / 2) failures.push(`${id}: decode size ${d.size} != ${v.hex.length / 2}`);
      if (!same(c.toJson(d.value), v.value)) failures.push(`${id}: decode ${JSON.stringify(c.toJson(d.value))}`);
    } catch (e) {
      failures.push(`${id}: ${(e as Error).message}`);
    }
  }
  assert.equal(failures.slice(0, 10), []);
});

test('messages carry the CRC and name_crc of the vectors', () => {
  for (const v of vectors) {
    if (v.kind !== 'message') continue;
    const m = reg.message(v.name);
    assert.is(m.crc, v.crc);
    assert.is(m.nameCrc, v.name_crc);
    assert.is(m.module, v.module);
    assert.is(reg.messageByNameCrc(v.name_crc!), m);
  }
});

test('module-owned types are attributed to their module', () => {
  for (const v of vectors) if (v.kind !== 'message') assert.is(reg.type(v.name).module, v.module, v.name);
});

test('decoded values re-encode to the same bytes (native form round trip)', () => {
  for (const v of vectors) {
    const c = v.kind === 'message' ? reg.message(v.name) : reg.type(v.name);
    const d = c.decode(unhex(v.hex));
    assert.is(hex(c.encode(d.value)), v.hex, `${v.module}/${v.name}#${v.instance}`);
  }
});

test.run();
