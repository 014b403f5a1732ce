import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  AnnotationError, CUSTOM_IF_ANNOTATION, MEMIF_RESOURCE, MICROSERVICE_LABEL_ANNOTATION, SERVICE_ENDPOINT_IF_ANNOTATION,
  fuzzAnnotations, memifResourceCount, parseCustomIf, parsePodAnnotations, printCustomIf, referencedNetworks,
  type CustomInterface,
} from '../../src/cni/annotations.js';

const nets = new Set(['l2net', 'l3net']);

function throwsAnn(fn: () => unknown, re: RegExp): void {
  try { fn(); } catch (e) {
    assert.instance(e, AnnotationError);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected AnnotationError matching ${re}`);
}

test('seed example: tap1/tap, veth1/veth', () => {
  assert.equal(parseCustomIf('tap1/tap, veth1/veth'), [
    { name: 'tap1', type: 'tap', network: 'default' },
    { name: 'veth1', type: 'veth', network: 'default' },
  ]);
});

test('issue example keeps annotation order and networks', () => {
  assert.equal(parseCustomIf(' tap1 / tap ,veth1/veth/stub,  memif1/memif/l3net ', { knownNetworks: nets, memifResources: 1 }), [
    { name: 'tap1', type: 'tap', network: 'default' },
    { name: 'veth1', type: 'veth', network: 'stub' },
    { name: 'memif1', type: 'memif', network: 'l3net' },
  ]);
});

test('empty or blank value means no custom interfaces', () => {
  assert.equal(parseCustomIf(''), []);
  assert.equal(parseCustomIf('   '), []);
});

test('explicit default network equals omitted network', () => {
  assert.equal(parseCustomIf('a/tap/default'), parseCustomIf('a/tap'));
});

test('errors name the item and what was wrong', () => {
  throwsAnn(() => parseCustomIf('tap1'), /item 1 "tap1": missing interface type/);
  throwsAnn(() => parseCustomIf('tap1/'), /item 1 "tap1\/": missing interface type/);
  throwsAnn(() => parseCustomIf('a/tap, b/vhost'), /item 2 "b\/vhost": unknown interface type "vhost"/);
  throwsAnn(() => parseCustomIf('a/tap, a/veth'), /item 2 "a\/veth": duplicate interface name "a"/);
  throwsAnn(() => parseCustomIf('averyveryverylongname/tap'), /is 21 bytes long \(at most 15\)/);
  throwsAnn(() => parseCustomIf('a:b/tap'), /contains ":"/);
  throwsAnn(() => parseCustomIf('a b/tap'), /contains whitespace/);
  throwsAnn(() => parseCustomIf('./tap'), /must not be "\."/);
  throwsAnn(() => parseCustomIf('../tap'), /must not be "\.\."/);
  throwsAnn(() => parseCustomIf('/tap'), /item 1 "\/tap": interface name "" is empty/);
  throwsAnn(() => parseCustomIf('eth0/tap'), /"eth0" is reserved/);
  throwsAnn(() => parseCustomIf('lo/veth'), /"lo" is reserved/);
  throwsAnn(() => parseCustomIf('net1/veth', { reservedNames: ['net1'] }), /"net1" is reserved/);
  throwsAnn(() => parseCustomIf('a/tap/nonet', { knownNetworks: nets }), /item 1 "a\/tap\/nonet": unknown network "nonet"/);
  throwsAnn(() => parseCustomIf('a/tap/Bad_Net'), /not a valid CustomNetwork name/);
  throwsAnn(() => parseCustomIf('a/tap/'), /empty network/);
  throwsAnn(() => parseCustomIf('a/tap/l2net/x', { knownNetworks: nets }), /extra parts after the network: "x"/);
  throwsAnn(() => parseCustomIf('a/tap,,b/tap'), /item 2 "": empty item/);
  throwsAnn(() => parseCustomIf('a/tap,'), /item 2 "": empty item/);
  throwsAnn(() => parseCustomIf('a/tap, b/tap, c/tap', { maxCustomInterfaces: 2 }), /3 custom interfaces requested, at most 2 allowed/);
  throwsAnn(() => parseCustomIf('m1/memif, m2/memif', { memifResources: 1 }), /2 memif interface\(s\) \(m1, m2\) but the pod requests 1 "contivpp.io\/memif"/);
  throwsAnn(() => parseCustomIf('m1/memif', { memifResources: 0 }), /requests 0 "contivpp.io\/memif"/);
});

test('unicode name length is counted in bytes', () => {
  assert.equal(parseCustomIf('ééééééé/tap')[0]!.name, 'ééééééé'); // 14 bytes
  throwsAnn(() => parseCustomIf('éééééééé/tap'), /16 bytes long/); // 16 bytes
});

test('memif resource count sums container limits', () => {
  assert.is(memifResourceCount([{ [MEMIF_RESOURCE]: '1' }, undefined, { cpu: '1', [MEMIF_RESOURCE]: 2 }]), 3);
  throwsAnn(() => memifResourceCount([{ [MEMIF_RESOURCE]: '1.5' }]), /not a whole non-negative count/);
  throwsAnn(() => memifResourceCount([{ [MEMIF_RESOURCE]: '-1' }]), /not a whole non-negative count/);
});

test('service endpoint and microservice label', () => {
  const p = parsePodAnnotations({
    [CUSTOM_IF_ANNOTATION]: 'tap1/tap, m1/memif/stub',
    [SERVICE_ENDPOINT_IF_ANNOTATION]: ' tap1 ',
    [MICROSERVICE_LABEL_ANNOTATION]: 'vnf1',
  }, 1);
  assert.is(p.serviceEndpointIf, 'tap1');
  assert.is(p.microserviceLabel, 'vnf1');
  assert.is(p.memifResources, 1);
  throwsAnn(() => parsePodAnnotations({ [CUSTOM_IF_ANNOTATION]: 'tap1/tap', [SERVICE_ENDPOINT_IF_ANNOTATION]: 'tap2' }, 0), /service-endpoint-if: names no custom interface: "tap2"/);
  throwsAnn(() => parsePodAnnotations({ [CUSTOM_IF_ANNOTATION]: 'tap1/tap/stub', [SERVICE_ENDPOINT_IF_ANNOTATION]: 'tap1' }, 0), /in network "stub", not the default network/);
  throwsAnn(() => parsePodAnnotations({ [SERVICE_ENDPOINT_IF_ANNOTATION]: '' }, 0), /empty value/);
  throwsAnn(() => parsePodAnnotations({ [MICROSERVICE_LABEL_ANNOTATION]: 'a/b' }, 0), /contains "\/"/);
  throwsAnn(() => parsePodAnnotations({ [CUSTOM_IF_ANNOTATION]: 'm1/memif' }, 0), /memif/);
});

test('referencedNetworks lists custom networks only', () => {
  assert.equal(referencedNetworks('a/tap, b/veth/stub, c/memif/l3net, d/tap/default, e/tap/l3net'), ['l3net']);
});

// --- properties ---------------------------------------------------------------------------------

const nameChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.@'.split(''));
const ifName = fc.string({ unit: nameChar, minLength: 1, maxLength: 15 })
  .filter((n) => n !== '.' && n !== '..' && n !== 'eth0' && n !== 'lo');
const network = fc.constantFrom('default', 'stub', 'l2net', 'l3net');
const customIf = fc.record({ name: ifName, type: fc.constantFrom('tap' as const, 'veth' as const, 'memif' as const), network })
  .map((r): CustomInterface => ({ name: r.name, type: r.type, network: r.network }));
const customIfs = fc.uniqueArray(customIf, { selector: (c) => c.name, maxLength: 10 });
const ws = fc.constantFrom('', ' ', '  ', '\t');

test('property: printed annotations parse back to the same list', () => {
  fc.assert(fc.property(customIfs, (ifs: CustomInterface[]) => {
    assert.equal(parseCustomIf(printCustomIf(ifs), { knownNetworks: nets }), ifs);
  }));
});

test('property: whitespace around items and parts is ignored', () => {
  fc.assert(fc.property(customIfs.filter((a) => a.length > 0), fc.array(ws, { minLength: 64, maxLength: 64 }), (ifs, pads) => {
    let k = 0;
    const pad = () => pads[k++ % pads.length]!;
    const value = ifs.map((i) => {
      const parts = [i.name, i.type, ...(i.network === 'default' ? [] : [i.network])];
      return pad() + parts.map((p) => pad() + p + pad()).join('/') + pad();
    }).join(',');
    assert.equal(parseCustomIf(value, { knownNetworks: nets }), ifs);
  }));
});

test('property: arbitrary strings only ever throw AnnotationError', () => {
  const alphabet = fc.constantFrom(...'ab/,: \t.é\u0000lo0eth-tapvethmemif'.split(''));
  fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 60 }), fc.string({ unit: 'grapheme' })), (s) => {
    fuzzAnnotations(s);
    try { parseCustomIf(s, { knownNetworks: nets, maxCustomInterfaces: 5, memifResources: 2 }); } catch (e) {
      assert.instance(e, AnnotationError);
      assert.match((e as Error).message, /^contivpp\.io\/custom-if: /);
    }
  }), { numRuns: 2000 });
});

test('property: a successful parse yields valid, unique, non-reserved names', () => {
  const alphabet = fc.constantFrom(...'ab/, lo0eth-tapvethmemifstubl2net'.split(''));
  fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 60 }), (s) => {
    let ifs: CustomInterface[];
    try { ifs = parseCustomIf(s, { knownNetworks: nets }); } catch { return; }
    const names = ifs.map((i) => i.name);
    assert.is(new Set(names).size, names.length);
    for (const n of names) {
      assert.ok(n.length > 0 && Buffer.byteLength(n) <= 15 && !/[\s/:]/.test(n) && n !== 'eth0' && n !== 'lo', n);
    }
  }), { numRuns: 2000 });
});

test.run();
