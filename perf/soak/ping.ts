// One packet through a connected memif and back from an echoing peer: proves a connection carries
// traffic, cheaply enough to do on every connect/disconnect cycle.
import { RxBurst, type MemifConnection } from '../../src/memif/index.js';
import { makeTemplate } from '../memif/traffic.js';

const rxb = new RxBurst(64);

export async function pingOnce(conn: MemifConnection, tag: number, timeoutMs = 3000): Promise<void> {
  const pkt = makeTemplate(64);
  new DataView(pkt.buffer).setUint32(16, tag >>> 0, true);
  // A master that just connected cannot send until the slave has processed CONNECTED and posted
  // its receive buffers (memif: the slave zeroes the rings on CONNECTED, then refills M2S), so
  // txBurst returns 0 for a moment: retry at once until the packet is on the ring, then again
  // every 200 ms until echoed.
  let lastSend = 0;
  let queued = false;
  const deadline = Date.now() + timeoutMs;
  while (conn.open && Date.now() < deadline) {
    if (!queued || Date.now() - lastSend >= 200) { lastSend = Date.now(); queued = conn.txBurst(0, [pkt]) > 0; }
    const n = conn.rxBurst(0, rxb);
    let found = false;
    for (let i = 0; i < n; i++) {
      const f = rxb.pktFirstSeg[i]!;
      const buf = rxb.regions[rxb.segRegion[f]!]!;
      const off = rxb.segOffset[f]!;
      if (rxb.pktLength[i] === 64 && new DataView(buf.buffer, buf.byteOffset + off).getUint32(16, true) === (tag >>> 0)) found = true;
    }
    if (n > 0) conn.release(0, n);
    if (found) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(conn.open ? `ping ${tag}: no echo within ${timeoutMs} ms` : `ping ${tag}: connection went down`);
}
