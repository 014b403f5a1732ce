import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMemfd, fdSize, fdSeals, MappedRegion, createEventfd, signalEventfd, drainEventfd,
  listenSeqpacket, acceptSeqpacket, connectUnix, sendMessage, receiveMessage, peerCredentials,
  closeFd, closeFdAsync, closeAll, openFdCount, Reactor, SysError,
} from '../../src/sys/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-sys-'));
const fdsAtStart = openFdCount();

test('memfd: sized, sealed against shrinking, mapped twice shares memory', () => {
  const fd = createMemfd('test-region', 65536);
  assert.is(fdSize(fd), 65536);
  assert.ok((fdSeals(fd) & 2) !== 0, 'F_SEAL_SHRINK set');
  const a = MappedRegion.map(fd, 65536);
  const b = MappedRegion.map(fd, 65536);
  new Uint32Array(a.buffer)[100] = 0xdeadbeef;
  assert.is(new Uint32Array(b.buffer)[100], 0xdeadbeef);
  a.unmap();
  assert.is(new Uint32Array(a.buffer)[100], 0, 'after unmap the old view reads zeros, not the shared page');
  assert.is(new Uint32Array(b.buffer)[100], 0xdeadbeef, 'the other mapping is untouched');
  a.unmap(); // idempotent
  b.unmap();
  closeFd(fd);
});

test('memfd: bad sizes are refused with a clear error', () => {
  assert.throws(() => createMemfd('x', 0), /positive integer/);
  assert.throws(() => MappedRegion.map(-1, 4096), (e: unknown) => e instanceof SysError && /mmap/.test(String(e)) && e.code === 'EBADF');
});

test('eventfd: signal then drain, drain when empty returns 0', () => {
  const fd = createEventfd();
  assert.is(drainEventfd(fd), 0);
  signalEventfd(fd);
  signalEventfd(fd);
  assert.is(drainEventfd(fd), 2);
  assert.is(drainEventfd(fd), 0);
  closeFd(fd);
});

for (const abstract of [false, true]) {
  test(`seqpacket (${abstract ? 'abstract' : 'filesystem'}): messages keep boundaries and carry several fds`, () => {
    const path = abstract ? `@tsvpp-test-${process.pid}-${Date.now()}` : join(dir, 'sp.sock');
    const l = listenSeqpacket(path);
    if (!abstract) assert.ok(existsSync(path));
    const c = connectUnix(path);
    const s = acceptSeqpacket(l);
    assert.ok(s !== null);
    assert.is(acceptSeqpacket(l), null, 'no second pending connection');
    const m1 = createMemfd('m1', 4096);
    const e1 = createEventfd();
    const msg = new Uint8Array(128).map((_, i) => i);
    assert.ok(sendMessage(c, msg, [m1, e1]));
    assert.ok(sendMessage(c, new Uint8Array([9, 9, 9])));
    const r1 = receiveMessage(s!);
    assert.ok(typeof r1 === 'object');
    if (typeof r1 !== 'object') return;
    assert.equal(Array.from(r1.data), Array.from(msg));
    assert.is(r1.fds.length, 2);
    assert.is(fdSize(r1.fds[0]), 4096, 'the memfd arrived');
    signalEventfd(r1.fds[1]);
    assert.is(drainEventfd(e1), 1, 'the eventfd arrived: a signal on the copy reaches the original');
    const r2 = receiveMessage(s!);
    assert.ok(typeof r2 === 'object' && r2.length === 3 && r2.fds.length === 0);
    assert.is(receiveMessage(s!), 'again');
    const cred = peerCredentials(s!);
    assert.is(cred.pid, process.pid);
    assert.is(cred.uid, process.getuid!());
    closeAll([...r1.fds, m1, e1]);
    closeFd(c);
    assert.is(receiveMessage(s!), 'eof');
    closeAll([s!, l]);
  });
}

test('seqpacket: an empty datagram is a message of length 0; the peer closing is eof', () => {
  const path = join(dir, 'empty.sock');
  const l = listenSeqpacket(path);
  const c = connectUnix(path);
  const s = acceptSeqpacket(l)!;
  sendMessage(c, new Uint8Array(0));
  sendMessage(c, new Uint8Array([1]));
  const r = receiveMessage(s);
  assert.ok(typeof r === 'object' && r.length === 0, 'empty datagram');
  const r2 = receiveMessage(s);
  assert.ok(typeof r2 === 'object' && r2.length === 1, 'the next one is intact');
  sendMessage(c, new Uint8Array(0));
  sendMessage(c, new Uint8Array(0));
  const r3 = receiveMessage(s);
  const r4 = receiveMessage(s);
  assert.ok(typeof r3 === 'object' && r3.length === 0 && typeof r4 === 'object' && r4.length === 0, 'two empty datagrams in a row');
  assert.is(receiveMessage(s), 'again');
  closeFd(c);
  assert.is(receiveMessage(s), 'eof');
  closeAll([s, l]);
});

test('seqpacket: an oversized message is reported truncated with its real length', () => {
  const path = join(dir, 'big.sock');
  const l = listenSeqpacket(path);
  const c = connectUnix(path);
  const s = acceptSeqpacket(l)!;
  sendMessage(c, new Uint8Array(300));
  const r = receiveMessage(s, 256);
  assert.ok(typeof r === 'object' && r.length === 300 && r.data.length === 256);
  closeAll([c, s, l]);
});

test('seqpacket: connecting to nothing names the call, the path and the errno', () => {
  try {
    connectUnix(join(dir, 'nobody.sock'));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, SysError);
    assert.is((e as SysError).code, 'ENOENT');
    assert.match(String(e), /connect .*nobody\.sock.*ENOENT/);
  }
  assert.throws(() => listenSeqpacket('x'.repeat(200)), /limit is 107/);
});

test('reactor: calls back on readiness without blocking the event loop, then lets go', async () => {
  const reactor = Reactor.get();
  const fd = createEventfd();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const fired = new Promise<number>((resolve) => reactor.watch(fd, () => resolve(drainEventfd(fd))));
  setTimeout(() => signalEventfd(fd), 50);
  assert.is(await fired, 1);
  clearInterval(timer);
  assert.ok(ticks >= 3, `event loop kept running while waiting (${ticks} ticks)`);
  reactor.unwatch(fd);
  assert.is(reactor.watching, 0);
  closeFd(fd);
});

test('reactor: process.exit() while a wait is pending ends the process (a wait on a pool thread would hold the exit)', () => {
  // In a process of its own: the exit is the point. Without the wake at exit it never ends; the
  // 60 s is only there to turn that hang into a failure.
  const sys = new URL('../../src/sys/index.js', import.meta.url).href;
  const script = `import { Reactor, createEventfd } from ${JSON.stringify(sys)};
    Reactor.get().watch(createEventfd(), () => {});
    setTimeout(() => process.exit(7), 50);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, encoding: 'utf8' });
  assert.is(r.signal, null, `the process hung in exit and was killed (${r.signal}); stderr: ${r.stderr}`);
  assert.is(r.status, 7, r.stderr);
});

test('closeFdAsync closes off the event loop; a closed fd is refused with EBADF', async () => {
  const before = openFdCount();
  const fd = createEventfd();
  assert.is(openFdCount(), before + 1);
  await closeFdAsync(fd);
  assert.is(openFdCount(), before);
  try {
    await closeFdAsync(fd);
    assert.unreachable('closing a closed fd must fail');
  } catch (e) {
    assert.instance(e, SysError);
    assert.is((e as SysError).code, 'EBADF');
  }
});

test('no fds leaked by this file', async () => {
  await new Promise((r) => setTimeout(r, 20));
  rmSync(dir, { recursive: true, force: true });
  // The reactor keeps its epoll fd and wake eventfd for the life of the thread.
  assert.is(openFdCount(), fdsAtStart + 2);
});

test.run();
