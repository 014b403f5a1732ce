// The agent's pod records: saves of one record asked for while another is being written are
// coalesced into one later write. Whatever the interleaving, every save resolves only once the file
// holds the record at least as it was when that save was asked for, saves land in order (the file
// never goes back to an older state), and the last one leaves the final record.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore, type PodRecord } from '../../src/cni/agent/state.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-state-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const record = (id: string): PodRecord => ({ containerId: id, ifName: 'eth0', phase: 'adding', resources: [], interfaces: [], createdAt: new Date(0).toISOString() });
const onDisk = (store: StateStore, id: string): PodRecord => JSON.parse(readFileSync(join(store.podsDir, `${id}.json`), 'utf8')) as PodRecord;

test('coalesced saves (property): each resolves with its state or a newer one on disk, in order, the last one final', async () => {
  let n = 0;
  await fc.assert(fc.asyncProperty(
    // Per step: how many saves are asked for back to back (without awaiting), and whether that one is durable.
    fc.array(fc.record({ burst: fc.integer({ min: 1, max: 6 }), durable: fc.boolean(), wait: fc.boolean() }), { minLength: 1, maxLength: 12 }),
    async (steps) => {
      const store = new StateStore(join(dir, `s${n++}`));
      await store.init();
      const rec = record('c1');
      let seen = -1; // resources on disk when a save resolved last: never goes back
      const pending: Promise<void>[] = [];
      for (const s of steps) {
        for (let k = 0; k < s.burst; k++) {
          rec.resources.push({ kind: 'lease', network: 'default', ifName: `if${rec.resources.length}` });
          const asked = rec.resources.length;
          pending.push(store.savePod(rec, { durable: s.durable }).then(() => {
            const got = onDisk(store, 'c1').resources.length;
            assert.ok(got >= asked, `a save resolved with ${got} resources on disk, asked with ${asked}`);
            assert.ok(got >= seen, `the file went back from ${seen} to ${got} resources`);
            seen = got;
          }));
        }
        if (s.wait) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      assert.equal(onDisk(store, 'c1'), rec);
      assert.equal(readdirSync(store.podsDir), ['c1.json'], 'no temp file left');
    },
  ), { numRuns: 40 });
});

test('saves of different records do not wait for or join each other', async () => {
  const store = new StateStore(join(dir, 'two'));
  await store.init();
  const a = record('a'), b = record('b');
  a.resources.push({ kind: 'lease', network: 'default', ifName: 'eth0' });
  await Promise.all([store.savePod(a), store.savePod(b), store.savePod(a, { durable: true })]);
  assert.equal(onDisk(store, 'a'), a);
  assert.equal(onDisk(store, 'b'), b);
});

test('a removal asked for while saves are queued lands after them: the record does not come back', async () => {
  const store = new StateStore(join(dir, 'rm'));
  await store.init();
  const rec = record('c1');
  const saves: Promise<void>[] = [];
  for (let k = 0; k < 3; k++) {
    rec.resources.push({ kind: 'lease', network: 'default', ifName: `if${k}` });
    saves.push(store.savePod(rec, { durable: k === 1 }));
  }
  const removed = store.removePod('c1');
  await Promise.all([...saves, removed]);
  assert.equal(readdirSync(store.podsDir), [], 'the record and no temp file left');
  assert.equal(await store.loadPod('c1'), undefined);
  await store.savePod(rec); // a record saved after the removal is there again
  assert.equal(onDisk(store, 'c1'), rec);
});

test.run();
