// The table of interface kinds. The @ts-expect-error lines are checked by tsc, which `npm test`
// runs first: if a kind could leave a recorded resource without an undo, the build would fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CUSTOM_IF_TYPES } from '../../src/cni/annotations.js';
import { exhaustive } from '../../src/cni/exhaustive.js';
import { KINDS, kindOf, kindOfVppName, resourceHandler, type KindResource } from '../../src/cni/agent/kinds/index.js';
import type { InterfaceKind, ResourceHandlers } from '../../src/cni/agent/kinds/kind.js';

test('every annotation type has its kind module, and only those', () => {
  assert.equal(Object.keys(KINDS).sort(), [...CUSTOM_IF_TYPES].sort());
  for (const t of CUSTOM_IF_TYPES) assert.is(kindOf(t), KINDS[t]);
});

test('each recorded resource kind is undone by the kind that records it', () => {
  const seen = new Set<string>();
  for (const k of Object.values(KINDS)) {
    for (const [name, h] of Object.entries(k.resources)) {
      assert.not.ok(seen.has(name), `${name} owned twice`);
      seen.add(name);
      assert.is(resourceHandler({ kind: name } as KindResource), h);
    }
  }
  assert.equal([...seen].sort(), ['afpacket', 'memif', 'memif-socket', 'tap', 'veth']);
});

test('orphans are recognised by the VPP name of each kind\'s interface', () => {
  assert.is(kindOfVppName('tap0'), KINDS.tap);
  assert.is(kindOfVppName('host-tsv0123456789a'), KINDS.veth);
  assert.is(kindOfVppName('memif3/1'), KINDS.memif);
  assert.is(kindOfVppName('loop0'), undefined);
  assert.is(kindOfVppName('local0'), undefined);
});

test('a kind must handle every resource kind it records (compile-time)', () => {
  type Two = { kind: 'a' } | { kind: 'b' };
  const one = { a: { undo: async () => undefined } };
  // @ts-expect-error: no handler for "b"
  const missing: ResourceHandlers<Two> = one;
  const both: ResourceHandlers<Two> = { ...one, b: { undo: async () => undefined } };
  assert.equal(Object.keys(missing), ['a']);
  assert.equal(Object.keys(both), ['a', 'b']);
  const partial: Partial<InterfaceKind<Two>> = { resources: both };
  assert.ok(partial.resources);
});

test('exhaustive() rejects an unhandled member at compile time and names it at run time', () => {
  const end = (e: 'x' | 'y'): string => {
    switch (e) {
      case 'x': return 'x';
      // @ts-expect-error: 'y' is not handled, so e is not never here
      default: return exhaustive(e, 'end');
    }
  };
  assert.is(end('x'), 'x');
  assert.throws(() => end('y'), /unhandled end: "y"/);
});

test.run();
