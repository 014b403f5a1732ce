// The usage example of docs/memif-ring.md, executed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  RingType,
  RxBurst,
  createMasterQueue,
  createSlaveQueues,
  initSharedMemory,
  planRegions,
} from '../../../src/memif/ring/index.js';

test('docs example: slave sends 64 B and 9000 B, master receives them zero-copy', () => {
  const plan = planRegions({ s2mRings: 1, m2sRings: 1, log2RingSize: 10, bufferSize: 2048 });
  const regions = plan.regions.map((r) => new ArrayBuffer(r.size));
  initSharedMemory(plan, regions);
  const slave = createSlaveQueues(plan, regions);
  const mS2m = createMasterQueue({ type: RingType.S2M, index: 0, region: 0, offset: 0, log2RingSize: 10 }, regions);
  mS2m.reset();
  slave.s2m[0]!.reset();
  slave.m2s[0]!.reset();
  const big = new Uint8Array(9000).map((_, i) => i * 7);
  assert.is(slave.s2m[0]!.tx([new Uint8Array(64).fill(1), big]), 2);
  assert.ok(slave.s2m[0]!.peerWantsKick());
  const burst = new RxBurst(32);
  assert.is(mS2m.rx(burst), 2);
  const s = burst.pktFirstSeg[1]!;
  const first = burst.regions[burst.segRegion[s]!]!.subarray(burst.segOffset[s]!, burst.segOffset[s]! + burst.segLength[s]!);
  assert.is(first.length, 2048);
  assert.is(first[5], (5 * 7) & 0xff);
  const dst = new Uint8Array(burst.pktLength[1]!);
  burst.copyPacket(1, dst);
  assert.equal(dst, big);
  mS2m.release(2);
  assert.is(slave.s2m[0]!.txSpace(), 1024);
});

test.run();
