// The API reflector (the client benchmark's zero-cost peer) speaks VPP's socket protocol well
// enough for the real client: the handshake, pipelined control_pings each answered with its own
// context, show_version, a clean close; other messages get no reply.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startReflector } from '../../perf/peers/api-reflector.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';

test('handshake, 5,000 pipelined control_pings, show_version, close', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvpp-reflector-'));
  const socket = path.join(dir, 'api.sock');
  const server = await startReflector(socket);
  try {
    const c = await VppClient.connect({ socket, registry: ApiRegistry.fromDir(shippedApiDir()), name: 'reflector-test', timeoutMs: 5_000 });
    try {
      const replies = await Promise.all(Array.from({ length: 5_000 }, () => c.request<{ retval: number; vpe_pid: number }>('control_ping')));
      assert.ok(replies.every((r) => r.retval === 0 && r.vpe_pid === process.pid));
      assert.is((await c.request<{ version: string }>('show_version')).version, 'reflector');
      // Not answered: the request times out rather than getting someone else's reply.
      await c.request('sw_interface_set_flags', { sw_if_index: 1, flags: 1 }, { timeoutMs: 300 }).then(
        () => assert.unreachable('the reflector answered a message it does not serve'),
        (e: Error) => assert.match(e.message, /sw_interface_set_flags.*(timed out|no reply|within)/i, e.message));
    } finally {
      await c.close();
    }
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
