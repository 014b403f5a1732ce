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

    const rc = await client.stop();
    const rs = await server.stop();
    assert.is(rc.exit.killed, false, 'client exits on SIGINT without SIGKILL');
    assert.is(rs.exit.killed, false, 'server exits on SIGINT without SIGKILL');
    assert.is(rs.exit.code, 0, `server exit code 0 (got ${rs.exit.code}, signal ${rs.exit.signal})`);
    assert.ok(rs.stats.maxRxPackets > 0);

    for (const tp of started) {
      assert.equal(testpmdPids(tp.prefix), [], `no dpdk-testpmd with --file-prefix ${tp.prefix} remains`);
      assert.not.ok(tp.proc.running, `${tp.proc.name} is not running`);
      assert.not.ok(existsSync(join(RUNTIME_DIR, tp.prefix)), `runtime dir ${tp.prefix} removed`);
    }
    assert.not.ok(existsSync(socket), 'server removed its socket file on exit');
  } finally {
    await Promise.all(started.map((t) => t.stop(5_000)));
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
