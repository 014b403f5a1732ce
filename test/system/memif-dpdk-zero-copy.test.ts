// DPDK zero-copy clients against a tsvpp master. With zero-copy=yes testpmd hands its own memory
// as memif regions 1.. (EAL's memory: here a memfd "nohuge" created without MFD_ALLOW_SEALING, so
// it can never be sealed); region 0, the rings, is a sealed memfd. The master refuses a region it
// cannot seal, naming --allow-unsealed-regions; with the option (allowUnsealedRegions, which the
// flag sets: test/cli/allow-unsealed.test.ts covers the flag on both commands) packets flow both
// ways through DPDK's buffers, every one checked. testpmd is stopped before the master closes: a
// zero-copy client that the server disconnects while it forwards can crash (docs/peers.md).
// If testpmd cannot start, these tests fail: they never skip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemifInterface, RxBurst, type MemifConnection } from '../../src/memif/index.js';
import { runEchoTraffic, warmUp } from '../../perf/memif/traffic.js';
import { startTestpmd, testpmdPids, type Testpmd } from '../../perf/peers/testpmd.js';
import { startProc, stopAll } from '../../perf/peers/procs.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-dpdk-zc-'));
let n = 0;
const REFUSAL = 'region 1 fd cannot be sealed against shrinking; accept with --allow-unsealed-regions';

test('without --allow-unsealed-regions, tsvpp memif echo refuses a zero-copy client; both sides print the reason, which names the flag', async () => {
  const socket = join(dir, `z${n++}.sock`);
  const echo = startProc({ name: 'tsvpp-echo', cmd: process.execPath, args: [cli, 'memif', 'echo', '--socket', socket, '--role', 'master', '--stats-interval', '0'] });
  try {
    await echo.waitFor(/listening:/, 20_000);
    const started = await startTestpmd({ role: 'client', socket, forwardMode: 'txonly', zeroCopy: true, readyTimeoutMs: 60_000 })
      .then(async (p) => { await p.stop(); return null; }, (e: Error) => e);
    assert.ok(started, 'testpmd connected although its regions cannot be sealed');
    assert.match(String(started), `Disconnect received: ${REFUSAL}`);
    await echo.waitFor(new RegExp(`disconnected: ${REFUSAL} \\(by us\\)`), 10_000);
  } finally {
    await echo.stop();
  }
});

/** testpmd txonly's frame (DPDK 22.11): IPv4/UDP 198.18.0.1:9 -> 198.18.0.2:9, 64 bytes. */
function txonlyHeaderProblem(p: Uint8Array): string | null {
  if (p.length !== 64) return `length ${p.length}, sent 64`;
  const dv = new DataView(p.buffer, p.byteOffset, p.length);
  if (dv.getUint16(12) !== 0x0800) return `ethertype 0x${dv.getUint16(12).toString(16)}`;
  if (p[14] !== 0x45 || dv.getUint16(16) !== 50 || p[23] !== 17) return `IPv4 header ${Buffer.from(p.subarray(14, 34)).toString('hex')}`;
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += dv.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  if (sum !== 0xffff) return `IPv4 header checksum does not add up (${Buffer.from(p.subarray(14, 34)).toString('hex')})`;
  if (dv.getUint32(26) !== 0xc6120001 || dv.getUint32(30) !== 0xc6120002) return 'IPv4 addresses';
  if (dv.getUint16(34) !== 9 || dv.getUint16(36) !== 9 || dv.getUint16(38) !== 30) return `UDP header ${Buffer.from(p.subarray(34, 42)).toString('hex')}`;
  return null;
}

/** Receives up to `max` packets, checking each; returns how many. */
function take(conn: MemifConnection, burst: RxBurst, pkt: Uint8Array, max: number, bad: string[]): number {
  const k = conn.rxBurst(0, burst, Math.min(max, burst.maxPackets));
  for (let i = 0; i < k; i++) {
    const len = burst.copyPacket(i, pkt);
    const problem = txonlyHeaderProblem(pkt.subarray(0, len));
    if (problem && bad.length < 5) bad.push(problem);
  }
  if (k) conn.release(0, k);
  return k;
}

test('txonly zero-copy client -> tsvpp master with unsealed regions allowed: every packet testpmd sent arrives intact', async () => {
  const socket = join(dir, `z${n++}.sock`);
  const iface = new MemifInterface({ socket, role: 'master', allowUnsealedRegions: true });
  let pmd: Testpmd | null = null;
  try {
    pmd = await startTestpmd({ role: 'client', socket, forwardMode: 'txonly', zeroCopy: true, txpkts: 64 });
    const conn = await iface.waitConnected(30_000);
    assert.is(conn.regions.length, 2, 'rings in region 0, DPDK memory in region 1');
    const burst = new RxBurst(32);
    const pkt = new Uint8Array(2048);
    const bad: string[] = [];
    let rx = 0;
    // Receive (and check) for a while.
    for (let spins = 1; ; spins++) {
      rx += take(conn, burst, pkt, Infinity, bad);
      if (spins % 256 !== 0) continue;
      assert.ok(conn.open, 'the connection stays up');
      if (pmd.stats().maxTxPackets >= 200_000) break;
      await new Promise((r) => setImmediate(r));
    }
    // Stop reading: testpmd fills the ring and drops the rest, so its TX count stops; once two
    // stats blocks show the same count, that many went into the ring, and the ring holds the rest.
    let last = -1;
    const held = await pmd.waitStats((s) => { const same = s.txPackets === last; last = s.txPackets; return same; }, 30_000);
    const sent = held.txPackets;
    assert.is(sent - rx, 1024, `sent ${sent}, received ${rx}: the full ring holds the difference`);
    while (rx < sent) {
      const k = take(conn, burst, pkt, sent - rx, bad);
      if (k === 0) break;
      rx += k;
    }
    assert.is(rx, sent, 'nothing lost');
    assert.equal(bad, [], 'nothing corrupted');
    console.log(`    txonly zero-copy: ${sent} packets sent by testpmd, ${rx} received and checked`);
  } finally {
    // testpmd first: the client ends the connection, as docs/peers.md recommends for zero-copy.
    const r = await pmd?.stop();
    iface.close();
    if (r) assert.is(r.exit.code, 0, r.log.slice(-2000));
  }
});

for (const [mode, size] of [['io', 64], ['macswap', 1500]] as const) {
  test(`${mode} zero-copy client echoes ${size}-byte packets of a tsvpp master with unsealed regions allowed: nothing lost or corrupted`, async () => {
    const socket = join(dir, `z${n++}.sock`);
    const iface = new MemifInterface({ socket, role: 'master', allowUnsealedRegions: true });
    let pmd: Testpmd | null = null;
    try {
      pmd = await startTestpmd({ role: 'client', socket, forwardMode: mode, zeroCopy: true });
      const conn = await iface.waitConnected(30_000);
      assert.is(conn.regions.length, 2);
      assert.ok(await warmUp(conn, size), 'testpmd echoes probes');
      const packets = 100_000;
      const r = await runEchoTraffic(conn, { size, packets });
      assert.is(r.corrupted, 0, r.firstError);
      assert.is(r.lost, 0, `lost ${r.lost} of ${r.tx}`);
      assert.is(r.rx, packets);
      console.log(`    ${mode} zero-copy ${size} B: ${r.rx} echoed, ${r.mpps.toFixed(3)} Mpps`);
    } finally {
      const res = await pmd?.stop();
      iface.close();
      if (res) assert.is(res.exit.code, 0, res.log.slice(-2000));
    }
  });
}

test.after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(testpmdPids(`-${process.pid}-`), []);
});
test.run();
