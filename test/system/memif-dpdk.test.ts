// Interop with a real peer: DPDK's memif driver in dpdk-testpmd (macswap), tsvpp in both roles.
// Each run sends sequence-numbered packets and checks every echo (payload and order). If testpmd
// cannot start, these tests fail: they never skip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, MemifErrorCode as E, type DisconnectInfo } from '../../src/memif/index.js';
import { runEchoTraffic, warmUp } from '../../perf/memif/traffic.js';
import { startTestpmd, testpmdPids, type Testpmd } from '../../perf/peers/testpmd.js';
import { stopAll } from '../../perf/peers/procs.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-dpdk-'));
let n = 0;

interface Case { role: 'master' | 'slave'; size: number; queues: number; mode: 'polling' | 'interrupt'; packets: number }

const cases: Case[] = [
  { role: 'slave', size: 64, queues: 1, mode: 'polling', packets: 100_000 },
  { role: 'slave', size: 9000, queues: 2, mode: 'interrupt', packets: 4_000 },
  { role: 'slave', size: 64, queues: 2, mode: 'interrupt', packets: 50_000 },
  { role: 'master', size: 64, queues: 1, mode: 'polling', packets: 100_000 },
  { role: 'master', size: 9000, queues: 1, mode: 'polling', packets: 4_000 },
  { role: 'master', size: 1500, queues: 2, mode: 'interrupt', packets: 20_000 },
];

for (const c of cases) {
  test(`tsvpp ${c.role} <-> testpmd ${c.role === 'master' ? 'client' : 'server'}: ${c.size} B, ${c.queues} queue(s), ${c.mode}`, async () => {
    const socket = join(dir, `m${n++}.sock`);
    let pmd: Testpmd | null = null;
    let iface: MemifInterface | null = null;
    try {
      const startPmd = () => startTestpmd({
        role: c.role === 'master' ? 'client' : 'server', socket, forwardMode: 'macswap', queues: c.queues, id: 7, secret: 's3cret',
      });
      const open = () => { iface = new MemifInterface({ socket, role: c.role, id: 7, secret: 's3cret', queues: c.queues, reconnectMs: 100 }); };
      if (c.role === 'master') { open(); pmd = await startPmd(); } else { pmd = await startPmd(); open(); }
      const conn = await iface!.waitConnected(30_000);
      assert.is(conn.rx.length, c.queues, 'queue count negotiated');
      assert.is(conn.peerIfName, 'net_memif0');
      assert.ok(await warmUp(conn, c.size), 'testpmd echoes probes');
      const r = await runEchoTraffic(conn, { size: c.size, packets: c.packets, mode: c.mode });
      assert.is(r.corrupted, 0, r.firstError);
      assert.is(r.lost, 0, `lost ${r.lost} of ${r.tx}`);
      assert.is(r.rx, c.packets);
      console.log(`    ${c.role} ${c.size} B x${c.queues} ${c.mode}: ${r.mpps.toFixed(3)} Mpps`);
    } finally {
      (iface as MemifInterface | null)?.close();
      if (pmd) await (pmd as Testpmd).stop();
    }
  });
}

test('testpmd client disconnects: the tsvpp master hears it and serves the next client', async () => {
  const socket = join(dir, `m${n++}.sock`);
  const iface = new MemifInterface({ socket, role: 'master' });
  try {
    let pmd = await startTestpmd({ role: 'client', socket, forwardMode: 'macswap' });
    await iface.waitConnected(30_000);
    const down = new Promise<DisconnectInfo>((r) => iface.once('disconnected', r));
    await pmd.stop();
    const info = await down;
    // testpmd sends DISCONNECT with code 0 on close (DISCONNECT), or just closes (DISCONNECTED).
    assert.ok(info.code === E.DISCONNECT || info.code === E.DISCONNECTED, `code ${info.code}: ${info.reason}`);
    assert.ok(info.byPeer);
    assert.is(iface.connection, null);
    pmd = await startTestpmd({ role: 'client', socket, forwardMode: 'macswap' });
    const conn = await iface.waitConnected(30_000);
    assert.ok(await warmUp(conn, 64));
    await pmd.stop();
  } finally {
    iface.close();
  }
});

test('a testpmd client with the wrong secret is refused, with the reason on both sides', async () => {
  const socket = join(dir, `m${n++}.sock`);
  const iface = new MemifInterface({ socket, role: 'master', secret: 'right' });
  // Refused before it bound to the interface: reported as 'rejected', not as a disconnect.
  const rejected = new Promise<{ code: E }>((r) => iface.once('rejected', r));
  try {
    const started = startTestpmd({ role: 'client', socket, forwardMode: 'macswap', secret: 'wrong', readyTimeoutMs: 30_000 });
    const err = await started.then(async (p) => { await p.stop(); return null; }, (e: Error) => e);
    assert.ok(err, 'testpmd did not connect');
    assert.match(String(err), /Incorrect secret/);
    assert.is((await rejected).code, E.SECRET);
  } finally {
    iface.close();
  }
});

test.after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  // Only ours: other processes on the machine may run their own testpmd.
  assert.equal(testpmdPids(`-${process.pid}-`), []);
});
test.run();
