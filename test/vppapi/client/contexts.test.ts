// The client's bookkeeping of exchanges in flight: contexts (a ring) and timeouts (FIFOs per
// timeout value, one timer). Timing checks only say "not before" and "eventually", never "within".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ContextTable } from '../../../src/vppapi/client/contexts.js';
import { Deadlines } from '../../../src/vppapi/client/deadlines.js';
import { until } from './helpers.js';

const item = () => ({ context: 0 });

test('contexts: distinct, never 0, found by context until deleted; a slot still taken is skipped', () => {
  const t = new ContextTable<{ context: number }>();
  const old = item();
  t.add(old); // context 1, held for good
  const seen = new Set<number>([old.context]);
  for (let k = 0; k < 5000; k++) {
    const x = item();
    t.add(x);
    assert.ok(x.context !== 0 && !seen.has(x.context), `context ${x.context} reused while held`);
    assert.is(t.get(x.context), x);
    t.delete(x);
    assert.is(t.get(x.context), undefined);
  }
  assert.is(t.get(old.context), old);
  assert.is(t.size, 1);
});

test('contexts: many in flight grow the ring; every one stays findable; values() lists them', () => {
  const t = new ContextTable<{ context: number }>();
  const xs = Array.from({ length: 3000 }, () => { const x = item(); t.add(x); return x; });
  assert.is(new Set(xs.map((x) => x.context)).size, 3000);
  for (const x of xs) assert.is(t.get(x.context), x);
  assert.is(t.values().length, 3000);
  for (const x of xs.filter((_, i) => i % 2)) t.delete(x);
  assert.is(t.size, 1500);
  assert.equal(t.values().map((x) => x.context).sort((a, b) => a - b), xs.filter((_, i) => i % 2 === 0).map((x) => x.context));
});

const timed = (name: string) => ({ name, deadline: -1, queuedFor: -1 });

test('deadlines: each entry expires, not before its time; settled ones never do', async () => {
  const expired: Array<{ name: string; at: number }> = [];
  const d = new Deadlines<ReturnType<typeof timed>>((x) => expired.push({ name: x.name, at: performance.now() }));
  const t0 = performance.now();
  const a = timed('a'), b = timed('b'), c = timed('c'), e = timed('e');
  d.arm(a, 30);
  d.arm(b, 60);
  d.arm(c, 30);
  d.arm(e, 30);
  d.settle(c);
  await until('a, b and e to expire', () => expired.length === 3, 5000);
  assert.equal(expired.map((x) => x.name).sort(), ['a', 'b', 'e']);
  for (const x of expired) assert.ok(x.at - t0 >= (x.name === 'b' ? 60 : 30) - 1, `${x.name} expired early: ${x.at - t0} ms`);
  await new Promise((r) => setTimeout(r, 80));
  assert.is(expired.length, 3);
});

test('deadlines: re-arming moves an entry back: it expires only timeoutMs after its last arm', async () => {
  const expired: Array<{ name: string; at: number }> = [];
  const d = new Deadlines<ReturnType<typeof timed>>((x) => expired.push({ name: x.name, at: performance.now() }));
  const dump = timed('dump'), other = timed('other');
  const t0 = performance.now();
  d.arm(dump, 40);
  d.arm(other, 40);
  let lastArm = t0;
  // A dump receiving details every few ms (if the machine stalls us longer, it may expire: fine).
  while (performance.now() - t0 < 150 && !expired.some((x) => x.name === 'dump')) {
    lastArm = performance.now();
    d.arm(dump, 40);
    await new Promise((r) => setTimeout(r, 5));
  }
  await until('both to expire', () => expired.length === 2, 5000);
  const at = (n: string) => expired.find((x) => x.name === n)!.at;
  assert.ok(at('other') - t0 >= 39, `other expired early: ${at('other') - t0} ms`);
  assert.ok(at('dump') - lastArm >= 39, `dump expired ${at('dump') - lastArm} ms after its last arm`);
  assert.ok(lastArm - t0 > 40 || at('dump') >= at('other'), 'the re-armed entry went first');
});

test.run();
