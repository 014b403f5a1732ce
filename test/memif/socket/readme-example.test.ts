// The README's memif example (a slave that echoes every packet back), run as written against a
// tsvpp master that sends and checks. If the public API drifts from the README, this fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, RxBurst, type MemifConnection } from '../../../src/memif/index.js';

test('README example: the echoing slave sends back every packet, 9000 B included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-readme-'));
  const socket = join(dir, 'memif.sock');
  const master = new MemifInterface({ socket, role: 'master', secret: 'fh99pwvrkvd7n2kjvmtv' });
  // --- as in README.md ---
  const iface = new MemifInterface({ socket, role: 'slave', id: 0, secret: 'fh99pwvrkvd7n2kjvmtv' });
  iface.on('connected', (conn: MemifConnection) => {
    const burst = new RxBurst(64);
    conn.onInterrupt(0, () => {
      let n;
      while ((n = conn.rxBurst(0, burst)) > 0) {
        const sent = conn.forward(0, 0, burst, n);
        conn.release(0, n - sent);
      }
    });
  });
  // --- end of the example ---
  try {
    const mc = await master.waitConnected();
    await iface.waitConnected();
    const sizes = [60, 64, 1500, 9000];
    const sent = sizes.map((len, k) => Uint8Array.from({ length: len }, (_, i) => (i + k * 7) & 0xff));
    // Kick the slave: the master's tx kicks when the slave's ring is unmasked (interrupt mode).
    assert.is(mc.txBurst(0, sent), sizes.length);
    const got: Uint8Array[] = [];
    const rb = new RxBurst(16);
    const deadline = Date.now() + 5000;
    while (got.length < sizes.length && Date.now() < deadline) {
      const n = mc.rxBurst(0, rb);
      for (let i = 0; i < n; i++) {
        const p = new Uint8Array(rb.pktLength[i]!);
        rb.copyPacket(i, p);
        got.push(p);
      }
      mc.release(0, n);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(got.map((p) => p.length), sizes);
    got.forEach((p, i) => assert.equal(p, sent[i]));
  } finally {
    iface.close();
    master.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
