// The master seals a region against shrinking before it measures it. Measured first, a slave that
// truncates the memfd between the size check and the seal leaves the master mapping more than the
// file holds; its first touch (the ring cookie at CONNECT) is SIGBUS and the master process dies.
// The truncate is placed exactly there by shrink-after-measure.ts, preloaded into a real
// `tsvpp memif echo --role master` process, so the test does not depend on winning a race.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MsgType } from '../../../src/memif/index.js';
import { C, errno, libc } from '../../../src/sys/libc.js';
import { closeFd, SysError } from '../../../src/sys/index.js';
import { describe, RawMemifPeer, rawSlaveSetup } from '../../../src/testing/raw-memif-peer.js';

const cli = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const preload = new URL('./shrink-after-measure.js', import.meta.url).href;
const NAME = `tsvpp-shrinking-${randomBytes(4).toString('hex')}`;

/** A memfd that allows sealing but is not sealed yet: the master has to seal it. */
function unsealedMemfd(size: number): number {
  const fd = libc.memfd_create(NAME, C.MFD_CLOEXEC | C.MFD_ALLOW_SEALING);
  if (fd < 0) throw new SysError('memfd_create', errno(), NAME);
  if (libc.ftruncate(fd, size) !== 0) { closeFd(fd); throw new SysError('ftruncate', errno(), NAME); }
  return fd;
}

test('a slave truncating its region right after the master measured it cannot crash the master', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-seal-'));
  const socket = join(dir, 'm.sock');
  const child = spawn(process.execPath, ['--import', preload, cli, 'memif', 'echo', '--socket', socket, '--role', 'master', '--stats-interval', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHRINKING_REGION: NAME },
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
  let p: RawMemifPeer | null = null;
  let connect = 'not sent';
  try {
    for (const until = Date.now() + 20_000; !/listening:/.test(out);) {
      if (Date.now() > until || child.exitCode !== null) assert.unreachable(`the master did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    p = RawMemifPeer.connect(socket);
    const setup = await rawSlaveSetup(p, { regionFd: unsealedMemfd });
    p.send({ type: MsgType.CONNECT, ifName: 'shrinker' });
    const r = await p.receive(10_000);
    setup.regions.forEach((m) => m.unmap());
    connect = describe(r);
    assert.ok(r.kind === 'msg' && r.msg.type === MsgType.CONNECTED);
  } catch (e) {
    connect = `${connect} (${(e as Error).message})`;
  } finally {
    p?.close();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  const how = await exited;
  rmSync(dir, { recursive: true, force: true });
  assert.is(how, 'exit 0', `the master ended with ${how}; CONNECT got ${connect}:\n${out}`);
  assert.match(connect, /^CONNECTED /, connect);
  assert.match(out, /shrink-after-measure: fd \d+ truncate refused \(EPERM\)/, 'the seal was on before the size was read');
  assert.not.match(out, /truncated to 0 bytes/);
});

test.run();
