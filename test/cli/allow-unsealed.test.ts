// --allow-unsealed-regions on the CLI's master end. A raw slave whose region is a plain file (it
// cannot be sealed against shrinking, like DPDK's memory segments under zero-copy): without the
// flag, `tsvpp memif echo` and `tsvpp perf` refuse it with a reason that names the flag; with it,
// the slave connects and its packet is echoed. The DPDK zero-copy run is in test/system.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import { ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MsgType } from '../../src/memif/index.js';
import { RawMemifPeer, rawSlaveSetup, describe } from '../../src/testing/raw-memif-peer.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-unsealed-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const REFUSAL = 'region 0 fd cannot be sealed against shrinking; accept with --allow-unsealed-regions';

/** A region backed by a plain file: mappable and shareable, but not a memfd, so it cannot be sealed. */
function plainFileRegion(size: number): number {
  const fd = openSync(join(dir, `region-${n++}`), 'w+');
  ftruncateSync(fd, size);
  return fd;
}

async function waitFor(get: () => string, re: RegExp, what: string): Promise<void> {
  for (const until = Date.now() + 20_000; !re.test(get());) {
    if (Date.now() > until) assert.unreachable(`${what}: ${re} did not appear in:\n${get()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const allow of [false, true]) {
  test(`memif echo master ${allow ? 'with' : 'without'} --allow-unsealed-regions, a slave with an unsealable region: ${allow ? 'connected and echoed' : 'refused, naming the flag'}`, async () => {
    const socket = join(dir, `echo${n++}.sock`);
    const child = spawn(process.execPath, [cli, 'memif', 'echo', '--socket', socket, '--role', 'master', '--stats-interval', '0',
      ...(allow ? ['--allow-unsealed-regions'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    let peer: RawMemifPeer | null = null;
    try {
      await waitFor(() => out, /listening:/, 'memif echo');
      peer = RawMemifPeer.connect(socket);
      if (!allow) {
        // The first ADD_REGION gets DISCONNECT instead of ACK: the setup stops there.
        const err = await rawSlaveSetup(peer, { regionFd: plainFileRegion }).then(() => null, (e: Error) => e);
        assert.match(String(err), new RegExp(`DISCONNECT .*${REFUSAL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        await waitFor(() => out, new RegExp(`disconnected: ${REFUSAL} \\(by us\\)`), 'memif echo');
      } else {
        const setup = await rawSlaveSetup(peer, { regionFd: plainFileRegion });
        peer.send({ type: MsgType.CONNECT, ifName: 'raw' });
        const r = await peer.receive(5000);
        assert.ok(r.kind === 'msg' && r.msg.type === MsgType.CONNECTED, describe(r));
        await waitFor(() => out, /connected: peer 'raw peer'/, 'memif echo');
        setup.regions.forEach((m) => m.unmap());
      }
    } finally {
      peer?.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
}

test('perf as master refuses the unsealable slave naming the flag; with the flag it connects', async () => {
  for (const allow of [false, true]) {
    const socket = join(dir, `perf${n++}.sock`);
    const run = new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [cli, 'perf', '--peer', 'external', '--role', 'master', '--socket', socket, '--timeout', '3', '--packets', '10',
        ...(allow ? ['--allow-unsealed-regions'] : [])], { timeout: 60_000 }, (e, stdout, stderr) => {
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: stdout + stderr });
      });
    });
    let peer: RawMemifPeer | null = null;
    for (const until = Date.now() + 20_000; ;) {
      try { peer = RawMemifPeer.connect(socket); break; } catch (e) {
        if (Date.now() > until) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const setup = await rawSlaveSetup(peer, { regionFd: plainFileRegion }).catch((e: Error) => e);
    if (!allow) {
      assert.instance(setup, Error);
      const r = await run;
      assert.is(r.code, 1, r.out);
      assert.match(r.out, `memif disconnected: ${REFUSAL}`);
    } else {
      assert.not.instance(setup, Error, String(setup));
      peer.send({ type: MsgType.CONNECT, ifName: 'raw' });
      const c = await peer.receive(5000);
      assert.ok(c.kind === 'msg' && c.msg.type === MsgType.CONNECTED, describe(c));
      // We do not echo: perf says so after its warm-up, which shows it was connected.
      peer.close();
      const r = await run;
      assert.is(r.code, 1, r.out);
      assert.match(r.out, /connected to external \(raw peer\)/);
      (setup as { regions: Array<{ unmap(): void }> }).regions.forEach((m) => m.unmap());
    }
    peer.close();
  }
});

test.run();
