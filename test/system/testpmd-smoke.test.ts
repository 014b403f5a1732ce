// Two real DPDK memif peers (testpmd server in macswap, testpmd client in txonly) on a socket
// in a temp dir: proves the machine can run the reference peer the memif tests rely on.
// Needs root-installed Debian packages (scripts/system-deps.sh); fails loudly without them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestpmd, testpmdPids, RUNTIME_DIR, type Testpmd } from '../../perf/peers/testpmd.js';
import { stopAll } from '../../perf/peers/procs.js';

test('testpmd macswap server receives from a testpmd txonly client, and both stop cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-testpmd-'));
  const socket = join(dir, 'memif.sock');
  const started: Testpmd[] = [];
  try {
    const server = await startTestpmd({ role: 'server', socket, forwardMode: 'macswap' });
    started.push(server);
    assert.ok(existsSync(socket), `server socket ${socket} exists after start`);
    const mark = server.proc.outputLength;

    const client = await startTestpmd({ role: 'client', socket, forwardMode: 'txonly', txpkts: 64, burst: 32 });
    started.push(client);
    assert.is(await server.waitConnected(30_000, mark), 'net_memif0', 'server logs the client interface name');

    const s = await server.waitStats((st) => st.maxRxPackets > 0 && st.rxPpsSeries.some((p) => p > 0), 60_000);
    assert.ok(s.maxRxPackets > 0, `server Rx counter grew (${s.maxRxPackets})`);
    const c = await client.waitStats((st) => st.maxTxPackets > 0, 30_000);
    assert.ok(c.maxTxPackets > 0, `client Tx counter grew (${c.maxTxPackets})`);

    const beforeLeave = server.proc.outputLength;
    const rc = await client.stop();
    assert.is(rc.exit.killed, false, 'client exits on SIGINT without SIGKILL');
    assert.is(rc.exit.code, 0, `client exit code 0 (got ${rc.exit.code}, signal ${rc.exit.signal})`);
    // The server logs the client's departure; DPDK 22.11 may instead die of SIGSEGV right here:
    // its control thread unmaps the regions while the forwarding lcore is inside a burst
    // (docs/peers.md, "DPDK 22.11 crash"). No stop order avoids it in non-interactive testpmd
    // (whichever side stays forwarding sees the other leave), so that one crash, and only in
    // this window, is told apart and reported; any other exit before or after our SIGINT fails.
    await server.waitDisconnected(10_000, beforeLeave).catch(() => undefined);
    // The forwarding lcore can crash a moment after the control thread logged the departure (the
    // check right after the log line missed one such SIGSEGV): give it a second before asking.
    const diedOnDisconnect = await server.proc.waitExit(1_000);
    const rs = await server.stop();
    if (diedOnDisconnect) {
      assert.is(rs.exit.signal, 'SIGSEGV',
        `server died before it was asked to stop, not of the known DPDK race (code ${rs.exit.code}, signal ${rs.exit.signal})`);
      console.log('note: testpmd server hit the DPDK 22.11 memif disconnect race (SIGSEGV as the client left); see docs/peers.md');
    } else {
      assert.is(rs.exit.killed, false, 'server exits on SIGINT without SIGKILL');
      assert.is(rs.exit.code, 0, `server exit code 0 (got ${rs.exit.code}, signal ${rs.exit.signal})`);
    }
    assert.ok(rs.stats.maxRxPackets > 0);

    for (const tp of started) {
      assert.equal(testpmdPids(tp.prefix), [], `no dpdk-testpmd with --file-prefix ${tp.prefix} remains`);
      assert.not.ok(tp.proc.running, `${tp.proc.name} is not running`);
      assert.not.ok(existsSync(join(RUNTIME_DIR, tp.prefix)), `runtime dir ${tp.prefix} removed`);
    }
    // A crashed server cannot remove its socket file; the temp dir goes in finally.
    if (!diedOnDisconnect) assert.not.ok(existsSync(socket), 'server removed its socket file on exit');
  } finally {
    await Promise.all(started.map((t) => t.stop(5_000)));
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
