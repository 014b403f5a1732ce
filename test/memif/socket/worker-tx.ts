// Worker for worker.test.ts: transmits `count` numbered packets on the queue it is handed.
import { parentPort, workerData } from 'node:worker_threads';
import { attachQueue, type QueueExport } from '../../../src/memif/index.js';

const { exp, count, size } = workerData as { exp: QueueExport; count: number; size: number };
const wq = attachQueue(exp);
const pkt = new Uint8Array(size);
const one = [pkt];
let sent = 0;
const deadline = Date.now() + 10_000;
while (sent < count && Date.now() < deadline) {
  pkt[0] = sent & 0xff; pkt[1] = (sent >> 8) & 0xff; pkt[2] = (sent >> 16) & 0xff;
  if (wq.queue.tx(one, 1) === 1) { sent++; wq.kickIfWanted(); }
}
wq.close();
parentPort!.postMessage({ sent });
