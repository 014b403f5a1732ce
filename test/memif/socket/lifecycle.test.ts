// Connection lifecycle: many connect/disconnect cycles with either end initiating, with no fd
// left behind and the listener still serving; closing either side while connected; the socket
// file's lifetime; and a process that exits by itself when its interfaces are closed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { MemifInterface, MemifListener, MemifErrorCode as E, type DisconnectInfo, type MemifOptions, type MemifConnection } from '../../../src/memif/index.js';
import { MsgType } from '../../../src/memif/wire.js';
import { openFdCount, Reactor } from '../../../src/sys/index.js';
import { RawMemifPeer, rawSlaveSetup } from '../../../src/testing/raw-memif-peer.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-lifecycle-'));
let n = 0;
const sock = () => join(dir, `l${n++}.sock`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const live = new Set<MemifInterface>();
function iface(o: MemifOptions): MemifInterface {
  const x = new MemifInterface(o);
  live.add(x);
  return x;
}

function once<T>(em: MemifInterface, ev: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${ev}' within ${ms} ms`)), ms);
    em.once(ev, (x: T) => { clearTimeout(t); resolve(x); });
  });
}

async function eventually(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) assert.unreachable(`not within ${ms} ms: ${what}`);
    await sleep(2);
  }
}

/** Both ends connected to each other (the slave's connection is new since `before`). */
async function bothUp(m: MemifInterface, s: MemifInterface): Promise<[MemifConnection, MemifConnection]> {
  return Promise.all([m.waitConnected(3000), s.waitConnected(3000)]);
}

test('200 connect/disconnect cycles, both roles initiating: fds back to the start, listener still serving', async () => {
  Reactor.get(); // its epoll fd and wake eventfd live as long as the process
  const fds0 = openFdCount();
  const watching0 = Reactor.get().watching;
  const path = sock();
  let m = iface({ socket: path, role: 'master', log2RingSize: 6 });
  const count = { slaveDown: 0, masterDown: 0, masterUp: 0 };
  const onMaster = (x: MemifInterface) => {
    x.on('connected', () => count.masterUp++);
    x.on('disconnected', () => count.masterDown++);
  };
  onMaster(m);

  // 1. The slave initiates: a new slave interface connects, then closes (sending DISCONNECT).
  for (let i = 0; i < 50; i++) {
    const s = iface({ socket: path, role: 'slave', log2RingSize: 6, ifName: `s${i}` });
    const [mc] = await bothUp(m, s);
    assert.is(mc.peerIfName, `s${i}`);
    const down = once<DisconnectInfo>(m, 'disconnected');
    s.close(`slave bye ${i}`);
    assert.equal(await down, { code: E.DELETED, reason: `slave bye ${i}`, byPeer: true });
    assert.not.ok(mc.open);
  }

  // 2. The master initiates a disconnect; the same slave reconnects each time.
  const s = iface({ socket: path, role: 'slave', log2RingSize: 6, reconnectMs: 1 });
  s.on('disconnected', () => count.slaveDown++);
  let [, sc] = await bothUp(m, s);
  for (let i = 0; i < 50; i++) {
    const down = once<DisconnectInfo>(s, 'disconnected');
    m.disconnect(`master kick ${i}`);
    assert.equal(await down, { code: E.USER, reason: `master kick ${i}`, byPeer: true });
    assert.not.ok(sc.open);
    [, sc] = await bothUp(m, s);
  }

  // 3. The slave drops the connection (without closing the interface) and reconnects.
  for (let i = 0; i < 50; i++) {
    const down = once<DisconnectInfo>(m, 'disconnected');
    s.disconnect(`slave kick ${i}`);
    assert.equal(await down, { code: E.USER, reason: `slave kick ${i}`, byPeer: true });
    [, sc] = await bothUp(m, s);
  }

  // 4. The master interface is closed and re-created (the listener and its socket file go and come back).
  for (let i = 0; i < 50; i++) {
    const down = once<DisconnectInfo>(s, 'disconnected');
    m.close(`master gone ${i}`);
    assert.equal(await down, { code: E.DELETED, reason: `master gone ${i}`, byPeer: true });
    assert.not.ok(existsSync(path));
    m = iface({ socket: path, role: 'master', log2RingSize: 6 });
    onMaster(m);
    [, sc] = await bothUp(m, s);
  }

  assert.is(count.slaveDown, 150, 'the long-lived slave saw every disconnect of parts 2-4');
  assert.is(count.masterDown, 200);
  assert.is(count.masterUp, 201);
  s.close();
  await eventually(() => m.connection === null, 'master saw the slave go');

  // The listener is still serving a new slave.
  const last = iface({ socket: path, role: 'slave', log2RingSize: 6 });
  await bothUp(m, last);
  last.close();
  m.close();
  await eventually(() => openFdCount() === fds0, `fds back to ${fds0} (now ${openFdCount()})`);
  assert.is(Reactor.get().watching, watching0, 'nothing left watched by the reactor');
});

test('master closes while the slave is connected: the slave hears why, the socket file goes, the slave waits', async () => {
  const fds0 = openFdCount();
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const s = iface({ socket: path, role: 'slave', reconnectMs: 10 });
  const [mc, sc] = await bothUp(m, s);
  const down = once<DisconnectInfo>(s, 'disconnected');
  const failed = once<{ code: E }>(s, 'connect-failed');
  m.close('shutting down');
  assert.equal(await down, { code: E.DELETED, reason: 'shutting down', byPeer: true });
  assert.not.ok(mc.open);
  assert.not.ok(sc.open);
  assert.is(s.connection, null);
  assert.not.ok(existsSync(path), 'the socket file is removed');
  assert.is((await failed).code, E.NO_FILE, 'the slave keeps trying');
  const m2 = iface({ socket: path, role: 'master' });
  await bothUp(m2, s);
  s.close();
  m2.close();
  await eventually(() => openFdCount() === fds0, 'fds back');
});

test('slave closes while the master is connected: the master hears why and serves the next slave', async () => {
  const fds0 = openFdCount();
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const s = iface({ socket: path, role: 'slave' });
  const [mc, sc] = await bothUp(m, s);
  const down = once<DisconnectInfo>(m, 'disconnected');
  s.close('app exit');
  assert.equal(await down, { code: E.DELETED, reason: 'app exit', byPeer: true });
  assert.not.ok(mc.open);
  assert.not.ok(sc.open);
  assert.is(m.connection, null);
  assert.ok(existsSync(path), 'the master keeps its socket');
  await sleep(30);
  assert.is(m.connection, null, 'a closed slave does not come back');
  const s2 = iface({ socket: path, role: 'slave' });
  await bothUp(m, s2);
  s2.close();
  m.close();
  await eventually(() => openFdCount() === fds0, 'fds back');
});

test('a slave that dies without DISCONNECT (its socket just closes): the master notices and frees all', async () => {
  const fds0 = openFdCount();
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const p = RawMemifPeer.connect(path);
  const setup = await rawSlaveSetup(p);
  p.send({ type: MsgType.CONNECT, ifName: 'doomed' });
  await p.expect(MsgType.CONNECTED);
  const mc = await m.waitConnected();
  const down = once<DisconnectInfo>(m, 'disconnected');
  p.close();
  const info = await down;
  assert.equal({ code: info.code, byPeer: info.byPeer }, { code: E.DISCONNECTED, byPeer: true });
  assert.not.ok(mc.open);
  setup.regions.forEach((r) => r.unmap());
  m.close();
  await eventually(() => openFdCount() === fds0, 'fds back (the regions and eventfds the master held too)');
});

test('the socket file is removed only when the last master interface on it closes', async () => {
  const path = sock();
  const m1 = iface({ socket: path, role: 'master', id: 1 });
  const m2 = iface({ socket: path, role: 'master', id: 2 });
  assert.is(m1.listener, m2.listener, 'one listener per socket path');
  assert.ok(existsSync(path));
  const s2 = iface({ socket: path, role: 'slave', id: 2 });
  await bothUp(m2, s2);
  const down = once<DisconnectInfo>(s2, 'disconnected');
  m1.close();
  assert.ok(existsSync(path), 'm2 still needs the socket');
  assert.ok(m2.connection?.open, "m1's close leaves m2's connection alone");
  // A slave for the closed id is now refused.
  const s1 = iface({ socket: path, role: 'slave', id: 1, reconnectMs: 5000 });
  assert.is((await once<DisconnectInfo>(s1, 'disconnected')).code, E.ID);
  s1.close();
  m2.close();
  assert.is((await down).code, E.DELETED);
  assert.not.ok(existsSync(path), 'gone with the last interface');
  s2.close();
  // Closing twice is harmless, and a new master makes a new listener and file.
  m2.close();
  const m3 = iface({ socket: path, role: 'master', id: 1 });
  assert.ok(existsSync(path));
  assert.is.not(m3.listener, m1.listener);
  m3.close();
  assert.not.ok(existsSync(path));
});

test('an abstract socket leaves no file and can be re-bound after the last master closes', async () => {
  const path = `@tsvpp-lifecycle-${process.pid}-${n++}`;
  for (let i = 0; i < 3; i++) {
    const m = iface({ socket: path, role: 'master' });
    const s = iface({ socket: path, role: 'slave' });
    await bothUp(m, s);
    s.close();
    m.close();
  }
  assert.not.ok(existsSync(path));
});

test('a process that closes its interfaces exits by itself (no dangling reactor watch or timer)', () => {
  const url = (p: string) => pathToFileURL(resolve(p)).href;
  const index = url('dist/src/memif/index.js');
  const sys = url('dist/src/sys/index.js');
  const path = sock();
  const script = `
    import { MemifInterface } from ${JSON.stringify(index)};
    import { Reactor } from ${JSON.stringify(sys)};
    const m = new MemifInterface({ socket: ${JSON.stringify(path)}, role: 'master' });
    const s = new MemifInterface({ socket: ${JSON.stringify(path)}, role: 'slave', reconnectMs: 5 });
    const [mc, sc] = await Promise.all([m.waitConnected(), s.waitConnected()]);
    mc.onInterrupt(0, () => {});
    sc.onInterrupt(0, () => {});
    await new Promise((r) => m.once('disconnected', r) && s.close());
    m.close();
    console.log('closed, watching=' + Reactor.get().watching);
  `;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.is(r.signal, null, `the child had to be killed after ${Date.now() - t0} ms: it did not exit by itself`);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'closed, watching=0');
  assert.ok(Date.now() - t0 < 5000);
  assert.not.ok(existsSync(path));
});

test('MemifListener instances do not outlive their interfaces', async () => {
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const l = m.listener!;
  assert.is(MemifListener.for(path), l);
  m.close();
  const again = MemifListener.for(path);
  assert.is.not(again, l, 'a fresh listener after the last interface closed');
  again.close();
  assert.not.ok(existsSync(path));
});

test.after(() => {
  for (const x of live) x.close();
  rmSync(dir, { recursive: true, force: true });
});
test.run();
