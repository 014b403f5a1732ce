// MemifConnection.kick(q): a second kick for a peer in interrupt mode that has not taken everything
// (VPP's memif input reads at most 256 packets per interrupt and then waits for the next one).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, RxBurst } from '../../../src/memif/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-memif-kick-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('kick: only while the peer wants interrupts and has packets left on the ring; each kick reaches the peer', async () => {
  const socket = join(dir, 'k.sock');
  const m = new MemifInterface({ socket, role: 'master', id: 0 });
  const s = new MemifInterface({ socket, role: 'slave', id: 0, reconnectMs: 50 });
  try {
    const [mc, sc] = await Promise.all([m.waitConnected(), s.waitConnected()]);
    const pkt = new Uint8Array(64).fill(7);
    // The master polls (its default): no kick wanted, even with packets waiting.
    assert.is(sc.txBurst(0, [pkt, pkt, pkt]), 3);
    assert.is(sc.kick(0), false, 'peer polls');
    let kicks = 0;
    mc.onInterrupt(0, () => { kicks++; });
    assert.is(sc.kick(0), true, 'peer in interrupt mode, 3 packets not taken');
    for (let i = 0; i < 200 && kicks === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(kicks >= 1, 'the master saw the kick');
    // The master takes only part (as VPP would) and waits: a kick is still due.
    const b = new RxBurst(1);
    assert.is(mc.rxBurst(0, b), 1);
    mc.release(0, 1);
    assert.is(sc.kick(0), true, '2 packets still on the ring');
    const rest = new RxBurst(8);
    assert.is(mc.rxBurst(0, rest), 2);
    mc.release(0, 2);
    assert.is(sc.kick(0), false, 'everything taken');
  } finally {
    s.close();
    m.close();
  }
});

test.run();
