import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { contains4, formatIp4, formatPrefix4, hostRange4, parseIp4, parsePrefix4, slice4 } from '../../src/cni/ipv4.js';

test('node slices of the pod subnet', () => {
  const p = parsePrefix4('10.1.0.0/16');
  assert.is(formatPrefix4(slice4(p, 24, 1)), '10.1.1.0/24');
  assert.is(formatPrefix4(slice4(p, 24, 255)), '10.1.255.0/24');
  assert.throws(() => slice4(p, 24, 256), /slice 256 is outside 10.1.0.0\/16 split into \/24 \(0..255\)/);
  assert.equal(hostRange4(slice4(p, 24, 1)), { gateway: '10.1.1.1', rangeStart: '10.1.1.2', rangeEnd: '10.1.1.254' });
  assert.is(formatPrefix4(slice4(parsePrefix4('10.99.0.0/16'), 25, 3)), '10.99.1.128/25');
});

test('parse errors', () => {
  assert.throws(() => parsePrefix4('10.1.0.1/16'), /host bits set/);
  assert.throws(() => parsePrefix4('10.1.0.0'), /not an IPv4 CIDR/);
  assert.throws(() => parseIp4('256.1.1.1'), /not an IPv4 address/);
});

test('property: slices are disjoint, contained, and format/parse round-trips', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 8, max: 24 }), fc.integer({ min: 0, max: 6 }), fc.nat(), (a, len, extra, i) => {
    const p = parsePrefix4(formatPrefix4({ addr: (a & ((0xffffffff << (32 - len)) >>> 0)) >>> 0, len }));
    const n = 2 ** extra;
    const s = slice4(p, len + extra, i % n);
    assert.ok(contains4(p, formatIp4(s.addr)));
    assert.equal(parsePrefix4(formatPrefix4(s)), s);
  }));
});

test.run();
