// MemifEcho over a real connection (socket handshake, memfd regions, both sides in this process):
// as the slave it forwards without copying (MemifConnection.forward), as the master it copies. The
// checker (perf/memif/traffic.ts) checks every byte past the addresses; the swap is checked here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, RxBurst, type MemifConnection } from '../../../src/memif/index.js';
import { MemifEcho } from '../../../src/memif/echo.js';
import { runEchoTraffic } from '../../../perf/memif/traffic.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-echo-'));
let n = 0;

async function pair(echoRole: 'master' | 'slave') {
  const socket = join(dir, `e${n++}.sock`);
  const m = new MemifInterface({ socket, role: 'master' });
  const s = new MemifInterface({ socket, role: 'slave', log2RingSize: 8 });
  const [mc, sc] = await Promise.all([m.waitConnected(), s.waitConnected()]);
  const echoSide = echoRole === 'master' ? m : s;
  const echo = new MemifEcho(echoSide, { mode: 'polling' });
  return { echo, checker: echoRole === 'master' ? sc : mc, reflector: echoRole === 'master' ? mc : sc, close: () => { echo.close(); s.close(); m.close(); } };
}

/** "region:offset" of every buffer the slave's slot tables list. */
function slaveBuffers(c: MemifConnection): string[] {
  return [...c.rx, ...c.tx].flatMap((q) => Array.from(q.slots!.region, (r, j) => `${r}:${q.slots!.offset[j]}`));
}

async function swapsAddresses(checker: MemifConnection): Promise<void> {
  const p = new Uint8Array(100).map((_, i) => i);
  assert.is(checker.txBurst(0, [p]), 1);
  const rb = new RxBurst(4);
  for (let t = 0; t < 2000 && checker.rxBurst(0, rb) === 0; t++) await new Promise((r) => setTimeout(r, 1));
  assert.is(rb.count, 1, 'the echo came back');
  const got = new Uint8Array(rb.pktLength[0]!);
  rb.copyPacket(0, got);
  checker.release(0, 1);
  assert.equal(Array.from(got.subarray(0, 12)), [6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]);
  assert.equal(Array.from(got.subarray(12)), Array.from(p.subarray(12)));
}

for (const role of ['slave', 'master'] as const) {
  test(`MemifEcho as the ${role} (${role === 'slave' ? 'forwards without copying' : 'copies'}): 64, 1500 and chained 9000 B, nothing lost or changed`, async () => {
    const t = await pair(role);
    try {
      const slave = role === 'slave' ? t.reflector : t.checker;
      const before = slaveBuffers(slave);
      await swapsAddresses(t.checker);
      for (const size of [64, 1500, 9000]) {
        const r = await runEchoTraffic(t.checker, { size, packets: 3000, idleTimeoutMs: 2000 });
        assert.equal([r.rx, r.lost, r.corrupted, r.firstError], [3000, 0, 0, undefined], `${size} B`);
      }
      assert.equal(t.echo.counters.dropped, 0);
      assert.ok(t.echo.counters.tx >= 9001, `echoed ${t.echo.counters.tx}`);
      const after = slaveBuffers(slave);
      assert.equal([...after].sort(), [...before].sort(), 'the slave still has each of its buffers once');
      // Forwarding trades buffers between the rings' slots; copying never does.
      assert.is(after.some((b, i) => b !== before[i]), role === 'slave', 'slot tables traded');
    } finally {
      t.close();
    }
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
