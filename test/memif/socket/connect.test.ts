import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, MemifErrorCode as E, RxBurst, type MemifConnection, type DisconnectInfo } from '../../../src/memif/index.js';
import { openFdCount, Reactor } from '../../../src/sys/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-memif-'));
let n = 0;
const sock = () => join(dir, `m${n++}.sock`);

function once<T>(em: MemifInterface, ev: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${ev}' within ${ms} ms`)), ms);
    em.once(ev, (x: T) => { clearTimeout(t); resolve(x); });
  });
}

async function pump(from: MemifConnection, to: MemifConnection, pkts: Uint8Array[]): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const burst = new RxBurst(64, 512);
  let sent = 0;
  for (let spins = 0; got.length < pkts.length && spins < 10000; spins++) {
    if (sent < pkts.length) sent += from.txBurst(0, pkts, Math.min(32, pkts.length - sent), sent);
    const k = to.rxBurst(0, burst);
    for (let i = 0; i < k; i++) {
      const dst = new Uint8Array(burst.pktLength[i]!);
      burst.copyPacket(i, dst);
      got.push(dst);
    }
    to.release(0, k);
    if (k === 0) await new Promise((r) => setImmediate(r));
  }
  return got;
}

test('master and slave connect on a filesystem socket and exchange packets both ways, 64 B to 9000 B', async () => {
  Reactor.get(); // its epoll fd and wake eventfd live as long as the process
  const fds0 = openFdCount();
  const path = sock();
  const m = new MemifInterface({ socket: path, role: 'master', id: 3, secret: 'hunter2', ifName: 'memif0/3' });
  const s = new MemifInterface({ socket: path, role: 'slave', id: 3, secret: 'hunter2', ifName: 'slave0', reconnectMs: 50 });
  const [mc, sc] = await Promise.all([m.waitConnected(), s.waitConnected()]);
  assert.is(mc.peerIfName, 'slave0');
  assert.is(sc.peerIfName, 'memif0/3');
  assert.is(mc.peerName, 'tsvpp');
  const sizes = [64, 60, 1500, 2048, 2049, 9000];
  const pkts = sizes.map((len, k) => Uint8Array.from({ length: len }, (_, i) => (i * 7 + k) & 0xff));
  const up = await pump(sc, mc, pkts);
  assert.equal(up.map((p) => p.length), sizes);
  up.forEach((p, i) => assert.equal(p, pkts[i]));
  const down = await pump(mc, sc, pkts);
  assert.equal(down.map((p) => p.length), sizes);
  down.forEach((p, i) => assert.equal(p, pkts[i]));
  const gone = once<DisconnectInfo>(m, 'disconnected');
  s.close('bye');
  const info = await gone;
  assert.equal([info.code, info.reason], [E.DELETED, 'bye']);
  assert.ok(info.byPeer);
  m.close();
  assert.not.ok(existsSync(path), 'socket file removed with the last interface');
  await new Promise((r) => setTimeout(r, 20));
  assert.is(openFdCount(), fds0, 'no fds left behind');
});

test('slave waits for a master that is not there yet, and reconnects after the master goes away', async () => {
  const path = sock();
  const s = new MemifInterface({ socket: path, role: 'slave', reconnectMs: 30 });
  const failed = await once<{ code: E }>(s, 'connect-failed');
  assert.is(failed.code, E.NO_FILE);
  let m = new MemifInterface({ socket: path, role: 'master' });
  await s.waitConnected();
  const lost = once<DisconnectInfo>(s, 'disconnected');
  m.close('master going down');
  const info = await lost;
  assert.equal([info.code, info.reason], [E.DELETED, 'master going down']);
  m = new MemifInterface({ socket: path, role: 'master' });
  const c = await s.waitConnected(3000);
  assert.ok(c.open);
  s.close();
  m.close();
});

test('abstract socket, two interfaces on one socket told apart by id, two queues', async () => {
  const path = `@tsvpp-test-${process.pid}-${n++}`;
  const m1 = new MemifInterface({ socket: path, role: 'master', id: 1, queues: 2 });
  const m2 = new MemifInterface({ socket: path, role: 'master', id: 2, queues: 2 });
  const s1 = new MemifInterface({ socket: path, role: 'slave', id: 1, queues: 2, ifName: 'one' });
  const s2 = new MemifInterface({ socket: path, role: 'slave', id: 2, queues: 1, ifName: 'two' });
  const [c1, c2] = await Promise.all([m1.waitConnected(), m2.waitConnected(), s1.waitConnected(), s2.waitConnected()]);
  assert.is(c1.peerIfName, 'one');
  assert.is(c2.peerIfName, 'two');
  assert.is(c1.rx.length, 2);
  assert.is(c2.rx.length, 1, 'the slave decides how many queues, up to the master maximum');
  for (const x of [s1, s2, m1, m2]) x.close();
});

for (const [name, master, slave, code] of [
  ['wrong secret', { secret: 'right' }, { secret: 'wrong' }, E.SECRET],
  ['missing secret', { secret: 'right' }, {}, E.NOSECRET],
  ['unknown id', { id: 1 }, { id: 2 }, E.ID],
  ['mode mismatch', { mode: 'ethernet' }, { mode: 'ip' }, E.MODE],
] as const) {
  test(`refused: ${name} — the slave hears the code, the master keeps serving`, async () => {
    const path = sock();
    const m = new MemifInterface({ socket: path, role: 'master', ...master });
    const s = new MemifInterface({ socket: path, role: 'slave', reconnectMs: 5000, ...slave });
    const info = await once<DisconnectInfo>(s, 'disconnected');
    assert.is(info.code, code);
    assert.ok(info.byPeer);
    // A wait that times out says why the last attempt failed.
    try { await s.waitConnected(50); assert.unreachable('connected'); } catch (e) {
      assert.ok((e as Error).message.endsWith(`(last: the peer disconnected: ${info.reason})`), (e as Error).message);
    }
    s.close();
    const ok = new MemifInterface({ socket: path, role: 'slave', ...master });
    await ok.waitConnected();
    ok.close();
    m.close();
  });
}

test('a second slave for an id that is connected is refused with "Already connected"', async () => {
  const path = sock();
  const m = new MemifInterface({ socket: path, role: 'master' });
  const s1 = new MemifInterface({ socket: path, role: 'slave' });
  await s1.waitConnected();
  const s2 = new MemifInterface({ socket: path, role: 'slave', reconnectMs: 5000 });
  const info = await once<DisconnectInfo>(s2, 'disconnected');
  assert.is(info.code, E.ALRCONN);
  assert.ok(m.connection?.open, 'the first connection is untouched');
  for (const x of [s2, s1, m]) x.close();
});

test('a master whose socket directory is missing gets an error naming the directory, and nothing is left listening', () => {
  const path = join(dir, 'no-such-dir', 'm.sock');
  assert.throws(() => new MemifInterface({ socket: path, role: 'master' }), /memif socket .*no-such-dir\/m\.sock: cannot listen: directory .*no-such-dir does not exist/);
  // The failed attempt left no listener registered: once the directory exists, it works.
  mkdirSync(join(dir, 'no-such-dir'));
  const m = new MemifInterface({ socket: path, role: 'master' });
  m.close();
});

test('bad options are refused before anything is opened', () => {
  assert.throws(() => new MemifInterface({ socket: sock(), role: 'master', secret: 'x'.repeat(25) }), /secret is 25 bytes; at most 24/);
  assert.throws(() => new MemifInterface({ socket: sock(), role: 'slave', log2RingSize: 15 }), /log2RingSize must be an integer in \[1, 14\]/);
  assert.throws(() => new MemifInterface({ socket: sock(), role: 'boss' as 'master' }), /role must be 'master' or 'slave'/);
  assert.throws(() => new MemifInterface({ socket: sock(), role: 'slave', mode: 'tun' as 'ip' }), /mode must be ethernet, ip or punt-inject/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
