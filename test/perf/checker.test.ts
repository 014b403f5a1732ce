// The echo checker must notice what a broken peer does: a flipped byte anywhere in a chained
// packet, a dropped packet, a duplicate. A reflector that misbehaves on purpose stands in here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, RxBurst, TxBurst, type MemifConnection } from '../../src/memif/index.js';
import { copyPacket } from '../../src/memif/echo.js';
import { runEchoTraffic } from '../../perf/memif/traffic.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-checker-'));
let n = 0;

type Mischief = (seq: number, txb: TxBurst, i: number) => 'send' | 'drop' | 'twice';

/** Echoes like MemifEcho, but lets `mischief` alter, drop or duplicate packets by sequence number. */
function startBadEcho(c: MemifConnection, mischief: Mischief): () => void {
  const rxb = new RxBurst(64);
  const txb = new TxBurst(64);
  let stop = false;
  let seqSeen = 0;
  const loop = () => {
    if (stop || !c.open) return;
    const k = c.rxBurst(0, rxb);
    for (let i = 0; i < k; i++) {
      const seq = seqSeen++;
      const m = c.allocTx(0, txb, 1, [rxb.pktLength[i]!]);
      if (m !== 1) continue;
      copyPacket(rxb, i, txb, 0, true);
      const what = mischief(seq, txb, 0);
      if (what === 'drop') { c.commitTx(0, 0); continue; }
      c.commitTx(0, 1);
      if (what === 'twice' && c.allocTx(0, txb, 1, [rxb.pktLength[i]!]) === 1) { copyPacket(rxb, i, txb, 0, true); c.commitTx(0, 1); }
    }
    c.release(0, k);
    setImmediate(loop);
  };
  loop();
  return () => { stop = true; };
}

async function run(size: number, packets: number, mischief: Mischief, timed?: { warmupMs: number; durationMs: number }) {
  const socket = join(dir, `c${n++}.sock`);
  const m = new MemifInterface({ socket, role: 'master' });
  const s = new MemifInterface({ socket, role: 'slave' });
  const [mc, sc] = await Promise.all([m.waitConnected(), s.waitConnected()]);
  const stop = startBadEcho(mc, mischief);
  try {
    return await runEchoTraffic(sc, { size, packets, idleTimeoutMs: 300, ...timed });
  } finally {
    stop();
    s.close();
    m.close();
  }
}

test('an honest reflector: nothing lost or corrupted (9000-byte chains)', async () => {
  const r = await run(9000, 300, () => 'send');
  assert.equal([r.rx, r.lost, r.corrupted], [300, 0, 0]);
});

test('a byte flipped deep in the 4th segment of a chained packet is counted as corrupted', async () => {
  const r = await run(9000, 300, (seq, txb, i) => {
    if (seq === 17) {
      const s = txb.pktFirstSeg[i]! + 3;
      txb.regions[txb.segRegion[s]!]![txb.segOffset[s]! + 101]! ^= 0x40;
    }
    return 'send';
  });
  assert.is(r.corrupted, 1);
  assert.match(r.firstError ?? '', /seq 17: payload differs/);
  assert.is(r.rx, 299);
  assert.is(r.lost, 0, 'a damaged packet arrived: corrupted, not lost');
});

test('a byte flipped in the last, odd-length part of a 1501-byte packet is caught', async () => {
  const r = await run(1501, 200, (seq, txb, i) => {
    if (seq === 5) {
      const s = txb.pktFirstSeg[i]!;
      txb.regions[txb.segRegion[s]!]![txb.segOffset[s]! + 1500]! ^= 1;
    }
    return 'send';
  });
  assert.is(r.corrupted, 1);
});

test('short one-buffer packets: a flipped byte past the last whole word, in the ethertype or in the queue stamp, a packet cut short: each caught, counted once; a changed MAC is not an error', async () => {
  const flip = (txb: TxBurst, i: number, at: number) => { txb.regions[txb.segRegion[txb.pktFirstSeg[i]!]!]![txb.segOffset[txb.pktFirstSeg[i]!]! + at]! ^= 0x10; };
  const r = await run(67, 300, (seq, txb, i) => {
    if (seq === 5) flip(txb, i, 66); // the last of the 3 bytes after 16 whole words
    if (seq === 7) flip(txb, i, 13); // ethertype
    if (seq === 9) flip(txb, i, 14); // queue stamp (its sequence number is still the next one: not lost too)
    if (seq === 11) flip(txb, i, 3); // a MAC address: reflectors swap them, the checker skips them
    if (seq === 13) txb.segLength[txb.pktFirstSeg[i]!] = 60; // cut short
    return 'send';
  });
  assert.match(r.firstError ?? '', /seq 5: payload differs/);
  assert.equal({ rx: r.rx, lost: r.lost, corrupted: r.corrupted }, { rx: 296, lost: 0, corrupted: 4 }, 'each damaged packet counted once');
});

test('a dropped packet is lost; a duplicate is corrupted', async () => {
  const dropped = await run(64, 1000, (seq) => (seq === 500 ? 'drop' : 'send'));
  assert.is(dropped.lost, 1);
  assert.is(dropped.corrupted, 0);
  const twice = await run(64, 1000, (seq) => (seq === 10 ? 'twice' : 'send'));
  assert.is(twice.corrupted, 1);
  assert.match(twice.firstError ?? '', /duplicate or reordered/);
});

test('a timed run: packets of the warm-up are checked too (a flipped byte in it counts), the rate covers only the timed part', async () => {
  const r = await run(64, 1e9, (seq, txb, i) => {
    if (seq === 3) txb.regions[txb.segRegion[txb.pktFirstSeg[i]!]!]![txb.segOffset[txb.pktFirstSeg[i]!]! + 40]! ^= 2;
    return 'send';
  }, { warmupMs: 150, durationMs: 150 });
  assert.is(r.corrupted, 1);
  assert.match(r.firstError ?? '', /seq 3: payload differs/);
  assert.is(r.rx + r.lost + r.corrupted, r.tx, 'every packet accounted for');
  assert.ok(r.mpps > 0);
  // rx counts the warm-up too; the rate's packets are those of the timed part only
  assert.ok(Math.round(r.mpps * 1e6 * r.seconds) <= r.rx, 'the warm-up is left out of the rate');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
