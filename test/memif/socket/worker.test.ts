import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, RxBurst } from '../../../src/memif/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-worker-'));

test('a queue driven from a worker thread: the slave transmits in a worker, the master receives in order', async () => {
  const path = join(dir, 'w.sock');
  const m = new MemifInterface({ socket: path, role: 'master' });
  const s = new MemifInterface({ socket: path, role: 'slave' });
  const [mc, sc] = await Promise.all([m.waitConnected(), s.waitConnected()]);
  const count = 50_000;
  const worker = new Worker(new URL('./worker-tx.js', import.meta.url), { workerData: { exp: sc.exports.tx[0], count, size: 1500 } });
  const done = new Promise<{ sent: number }>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  const burst = new RxBurst(64);
  const buf = new Uint8Array(2048);
  let got = 0;
  let bad = 0;
  const deadline = Date.now() + 15_000;
  while (got < count && Date.now() < deadline) {
    const n = mc.rxBurst(0, burst);
    for (let i = 0; i < n; i++) {
      burst.copyPacket(i, buf);
      const seq = buf[0]! | (buf[1]! << 8) | (buf[2]! << 16);
      if (seq !== (got & 0xffffff) || burst.pktLength[i] !== 1500) bad++;
      got++;
    }
    mc.release(0, n);
    if (n === 0) await new Promise((r) => setImmediate(r));
  }
  const { sent } = await done;
  await worker.terminate();
  assert.is(sent, count);
  assert.is(got, count);
  assert.is(bad, 0, 'every packet in order and whole');
  s.close();
  m.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
