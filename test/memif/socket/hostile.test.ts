// Hostile peers on the control channel. Against a tsvpp master, a raw slave sends each bad input
// from docs/peers "Bad input" (and more): the master must answer DISCONNECT with the error code of
// the problem, close, keep serving the socket, and hold no fd afterwards. Against a tsvpp
// slave, a raw master misbehaves: the slave must report it, drop the connection and reconnect.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, openSync, closeSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemifInterface, MemifErrorCode as E, MsgType, memifErrorName, type DisconnectInfo, type MemifOptions,
} from '../../../src/memif/index.js';
import { openFdCount, Reactor } from '../../../src/sys/index.js';
import {
  RawMemifPeer, RawMemifListener, rawSlaveSetup, rawMasterHandshake, memfd, eventfd, initMsg, helloMsg, describe,
} from '../../../src/testing/raw-memif-peer.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-hostile-'));
let n = 0;
const sock = () => join(dir, `h${n++}.sock`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function once<T>(em: MemifInterface, ev: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${ev}' within ${ms} ms`)), ms);
    em.once(ev, (x: T) => { clearTimeout(t); resolve(x); });
  });
}

/** Waits until `cond` holds (fd closes and unwatches can trail the last message by a tick). */
async function eventually(cond: () => boolean, what: string, ms = 1000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) assert.unreachable(`not within ${ms} ms: ${what}`);
    await sleep(2);
  }
}

type Master = Partial<MemifOptions>;

/** The next message must be DISCONNECT with `code` (its reason shown when it is not), then EOF. */
async function expectCode(p: RawMemifPeer, code: E): Promise<void> {
  const d = await p.expectDisconnect();
  assert.is(d.code, code, `DISCONNECT ${memifErrorName(d.code)} '${d.reason}', expected ${memifErrorName(code)}`);
}

/** A DisconnectInfo reduced to what tests compare for a reason we made: the code and who ended it. */
const codeOf = (d: DisconnectInfo) => ({ code: d.code, byPeer: d.byPeer });

// Every interface a test makes, so that a failed test cannot leave a listener keeping the process up.
const live = new Set<MemifInterface>();
function iface(o: MemifOptions): MemifInterface {
  const x = new MemifInterface(o);
  live.add(x);
  return x;
}

/**
 * One hostile slave against a fresh tsvpp master: `script` runs after HELLO was read, then the
 * master must send DISCONNECT with `code` (or, with code null, just close) and EOF; then
 * a correct tsvpp slave must still connect on the same socket, and every fd must be back.
 */
async function hostileSlave(
  master: Master,
  script: (p: RawMemifPeer) => Promise<void>,
  code: E | null,
  opts: { hello?: boolean; slave?: Master } = {},
): Promise<void> {
  Reactor.get(); // its epoll fd and wake eventfd live as long as the process
  const fds0 = openFdCount();
  const path = sock();
  const m = iface({ socket: path, role: 'master', ...master });
  const p = RawMemifPeer.connect(path);
  try {
    if (opts.hello ?? true) await p.expect(MsgType.HELLO);
    await script(p);
    if (code !== null) await expectCode(p, code);
    else await p.expectEof();
  } finally {
    p.close();
  }
  await eventually(() => m.listener!.sessions === 0, 'the master dropped the session');
  assert.is(m.connection, null);
  const s = iface({ socket: path, role: 'slave', reconnectMs: 20, ...master, ...opts.slave });
  const c = await s.waitConnected(3000);
  assert.ok(c.open, 'a correct slave still connects after the hostile one');
  s.close();
  m.close();
  await eventually(() => openFdCount() === fds0, `fds back to ${fds0} (now ${openFdCount()})`);
}

const ackThen = async (p: RawMemifPeer) => {
  p.send(initMsg());
  await p.expect(MsgType.ACK);
};
const region = (index: number, size: number) => ({ type: MsgType.ADD_REGION, index, size: BigInt(size) }) as const;
const ring = (o: { s2m?: boolean; index?: number; region?: number; offset?: number; log2?: number; priv?: number } = {}) => ({
  type: MsgType.ADD_RING, flags: o.s2m ?? true ? 1 : 0, index: o.index ?? 0, region: o.region ?? 0,
  offset: o.offset ?? 0, log2RingSize: o.log2 ?? 4, privateHdrSize: o.priv ?? 0,
}) as const;
/** INIT, then region 0 of `size` bytes (a sealed memfd), both ACKed. */
const withRegion = (size = 65536) => async (p: RawMemifPeer) => {
  await ackThen(p);
  p.sendWith(region(0, size), () => [memfd(size)]);
  await p.expect(MsgType.ACK);
};

// --- malformed datagrams ---
test('master: a short (64-byte) message → "Invalid message size 64"', () =>
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(64).fill(3, 0, 1)); }, E.MFMSG));

test('master: an empty (0-byte) datagram is a malformed message, not EOF → "Invalid message size 0"', () =>
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(0)); }, E.MFMSG));

test('master: an oversized (200-byte) message → "Invalid message size 200"', () =>
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(200).fill(3, 0, 1)); }, E.MFMSG));

test('master: a 5000-byte datagram (longer than the receive buffer) → "Invalid message size 5000"', () =>
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(4096)); }, E.MFMSG));

test('master: a malformed message with fds: the fds are closed too', () =>
  hostileSlave({}, async (p) => {
    const fds = [memfd(4096), eventfd()];
    p.sendBytes(new Uint8Array(64), fds);
    for (const fd of fds) closeSync(fd);
  }, E.MFMSG));

test('master: unknown type 99 before INIT', () =>
  hostileSlave({}, async (p) => { p.sendPatched(99, {}); }, E.UNKNOWN_MSG));

test('master: unknown type 99 after INIT', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendPatched(99, {}); }, E.UNKNOWN_MSG));

test('master: type 0 (NONE) is unknown too', () =>
  hostileSlave({}, async (p) => { p.sendPatched(0, {}); }, E.UNKNOWN_MSG));

// --- messages out of order ---
test('master: HELLO from the slave', () =>
  hostileSlave({}, async (p) => { p.send(helloMsg()); }, E.UNEXPECTED_MSG));

for (const [name, send] of [
  ['ADD_REGION', (p: RawMemifPeer) => p.sendWith(region(0, 4096), () => [memfd(4096)])],
  ['ADD_RING', (p: RawMemifPeer) => p.sendWith(ring(), () => [eventfd()])],
  ['ACK', (p: RawMemifPeer) => p.send({ type: MsgType.ACK })],
  ['CONNECT', (p: RawMemifPeer) => p.send({ type: MsgType.CONNECT, ifName: 'x' })],
  ['CONNECTED', (p: RawMemifPeer) => p.send({ type: MsgType.CONNECTED, ifName: 'x' })],
] as const) {
  test(`master: ${name} before INIT (libmemif crashes on ADD_REGION/ADD_RING here)`, () =>
    hostileSlave({}, async (p) => { send(p); }, E.UNEXPECTED_MSG));
}

test('master: DISCONNECT before INIT: the master just closes (no reply), and keeps serving', () =>
  hostileSlave({}, async (p) => { p.send({ type: MsgType.DISCONNECT, code: 0, reason: 'never mind' }); }, null));

test('master: DISCONNECT before INIT emits "rejected" with the peer\'s reason', async () => {
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const rejected = once<{ code: E; reason: string }>(m, 'rejected');
  const p = RawMemifPeer.connect(path);
  await p.expect(MsgType.HELLO);
  p.send({ type: MsgType.DISCONNECT, code: 0, reason: 'never mind' });
  const r = await rejected;
  assert.equal([r.code, r.reason], [E.DISCONNECT, 'never mind'], 'code 0 (a C peer) reads as DISCONNECT, the text is the peer\'s');
  await p.expectEof();
  p.close();
  m.close();
});

test('master: a second INIT', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.send(initMsg()); }, E.UNEXPECTED_MSG));

test('master: INIT carrying an fd', () =>
  hostileSlave({}, async (p) => { p.sendWith(initMsg(), () => [eventfd()]); }, E.UNEXPECTED_FD));

// --- INIT checks ---
for (const v of [0x0100, 0x0201, 0x0300, 0]) {
  test(`master: INIT version 0x${v.toString(16).padStart(4, '0')}`, () =>
    hostileSlave({}, async (p) => { p.send(initMsg({ version: v })); },
      E.PROTO));
}

test('master: wrong secret', () =>
  hostileSlave({ secret: 'right' }, async (p) => { p.send(initMsg({ secret: 'wrong' })); }, E.SECRET));

test('master: a secret that only shares a prefix with the right one', () =>
  hostileSlave({ secret: 'right' }, async (p) => { p.send(initMsg({ secret: 'right!' })); }, E.SECRET));

test('master: missing secret', () =>
  hostileSlave({ secret: 'right' }, async (p) => { p.send(initMsg()); }, E.NOSECRET));

test('master without a secret accepts an INIT that carries one (as libmemif does)', async () => {
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const p = RawMemifPeer.connect(path);
  await p.expect(MsgType.HELLO);
  p.send(initMsg({ secret: 'anything' }));
  await p.expect(MsgType.ACK);
  p.close();
  await eventually(() => m.listener!.sessions === 0, 'session ended on EOF');
  m.close();
});

test('master: mode not configured (ip against ethernet)', () =>
  hostileSlave({}, async (p) => { p.send(initMsg({ mode: 1 })); }, E.MODE));

test('master: a mode that does not exist (7)', () =>
  hostileSlave({ mode: 'ip' }, async (p) => { p.send(initMsg({ mode: 7 })); }, E.MODE));

test('master: unknown interface id', () =>
  hostileSlave({ id: 4 }, async (p) => { p.send(initMsg({ id: 5 })); }, E.ID));

test('master: a second slave for an id already connected; the first connection is untouched', async () => {
  const fds0 = openFdCount();
  const path = sock();
  const m = iface({ socket: path, role: 'master', id: 9 });
  const s1 = iface({ socket: path, role: 'slave', id: 9 });
  const c1 = await s1.waitConnected();
  const p = RawMemifPeer.connect(path);
  await p.expect(MsgType.HELLO);
  p.send(initMsg({ id: 9 }));
  await expectCode(p, E.ALRCONN);
  p.close();
  assert.ok(c1.open && m.connection?.open, 'the bound pair stays connected');
  // A slave still in its handshake also holds the id.
  s1.close();
  await eventually(() => m.connection === null, 'master saw the first slave go');
  const p1 = RawMemifPeer.connect(path);
  await p1.expect(MsgType.HELLO);
  p1.send(initMsg({ id: 9 }));
  await p1.expect(MsgType.ACK);
  const p2 = RawMemifPeer.connect(path);
  await p2.expect(MsgType.HELLO);
  p2.send(initMsg({ id: 9 }));
  await expectCode(p2, E.ALRCONN);
  p1.close();
  p2.close();
  const s2 = iface({ socket: path, role: 'slave', id: 9, reconnectMs: 20 });
  await s2.waitConnected();
  s2.close();
  m.close();
  await eventually(() => openFdCount() === fds0, 'fds back');
});

// --- ADD_REGION ---
test('master: ADD_REGION without fd', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.send(region(0, 4096)); }, E.NO_SHMFD));

test('master: ADD_REGION with 2 fds (both closed)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 4096), () => [memfd(4096), memfd(4096)]); }, E.NO_SHMFD));

test('master: ADD_REGION with 16 fds (all closed)', () =>
  hostileSlave({}, async (p) => {
    await ackThen(p);
    p.sendWith(region(0, 4096), () => Array.from({ length: 16 }, () => eventfd()));
  }, E.NO_SHMFD));

test('master: ADD_REGION index 300', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(300, 4096), () => [memfd(4096)]); }, E.MAXREG));

test('master: ADD_REGION with a non-contiguous index (1 first)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(1, 4096), () => [memfd(4096)]); }, E.BAD_REGION));

test('master: ADD_REGION index 0 twice', () =>
  hostileSlave({}, async (p) => { await withRegion(4096)(p); p.sendWith(region(0, 4096), () => [memfd(4096)]); }, E.BAD_REGION));

test('master: ADD_REGION size 0', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 0), () => [memfd(4096)]); }, E.BAD_REGION));

test('master: ADD_REGION size above 4 GiB', () =>
  hostileSlave({}, async (p) => {
    await ackThen(p);
    p.sendWith({ type: MsgType.ADD_REGION, index: 0, size: 2n ** 40n }, () => [memfd(4096)]);
  }, E.BAD_REGION));

test('master: ADD_REGION larger than its memfd', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 8192), () => [memfd(4096)]); }, E.BAD_REGION));

test('master: ADD_REGION with an eventfd as the region (fstat size 0)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 4096), () => [eventfd()]); }, E.BAD_REGION));

test('master: ADD_REGION with a regular file that is big enough but cannot be sealed', () =>
  hostileSlave({}, async (p) => {
    await ackThen(p);
    const file = join(dir, `plain-${n++}`);
    p.sendWith(region(0, 4096), () => {
      const fd = openSync(file, 'w+');
      ftruncateSync(fd, 4096);
      return [fd];
    });
  }, E.UNSEALED_REGION));

test('master with allowUnsealedRegions takes that regular file', async () => {
  const path = sock();
  const fds0 = openFdCount();
  const m = iface({ socket: path, role: 'master', allowUnsealedRegions: true });
  const p = RawMemifPeer.connect(path);
  await p.expect(MsgType.HELLO);
  await ackThen(p);
  const file = join(dir, `plain-${n++}`);
  p.sendWith(region(0, 4096), () => {
    const fd = openSync(file, 'w+');
    ftruncateSync(fd, 4096);
    return [fd];
  });
  const r = await p.receive();
  assert.is(r.kind === 'msg' && r.msg.type, MsgType.ACK, describe(r));
  p.close();
  m.close();
  await eventually(() => openFdCount() === fds0, 'fds back');
});

// --- ADD_RING ---
test('master: ADD_RING without fd', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.send(ring()); }, E.NO_INTFD));

test('master: ADD_RING with 2 fds', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring(), () => [eventfd(), eventfd()]); }, E.NO_INTFD));

test('master: ADD_RING whose interrupt fd is a memfd, not an eventfd', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring(), () => [memfd(4096)]); }, E.BAD_INTFD));

test('master: ADD_RING whose interrupt fd is a socket the peer could feed', () =>
  hostileSlave({}, async (p) => {
    await withRegion()(p);
    const l = new RawMemifListener(sock());
    const a = RawMemifPeer.connect(l.path);
    p.send(ring(), [a.fd]);
    a.close();
    l.close();
  }, E.BAD_INTFD));

test('master: ADD_RING index beyond the configured queues', () =>
  hostileSlave({ queues: 2 }, async (p) => { await withRegion()(p); p.sendWith(ring({ index: 2 }), () => [eventfd()]); }, E.MAXRING));

test('master: duplicate ring', () =>
  hostileSlave({}, async (p) => {
    await withRegion()(p);
    p.sendWith(ring({ s2m: false }), () => [eventfd()]);
    await p.expect(MsgType.ACK);
    p.sendWith(ring({ s2m: false, offset: 4096 }), () => [eventfd()]);
  }, E.BAD_RING));

test('master: ring in a region that does not exist', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring({ region: 5 }), () => [eventfd()]); }, E.BAD_RING));

test('master: ring that does not fit its region', () =>
  // 16 slots: 128 + 16 * 16 = 384 bytes from offset 4096 - 128 overruns the 4096-byte region.
  hostileSlave({}, async (p) => { await withRegion(4096)(p); p.sendWith(ring({ offset: 4096 - 128 }), () => [eventfd()]); }, E.BAD_RING));

test('master: ring at an offset near 2^32 (no wrap-around in the fit check)', () =>
  hostileSlave({}, async (p) => { await withRegion(4096)(p); p.sendWith(ring({ offset: 2 ** 32 - 8 }), () => [eventfd()]); }, E.BAD_RING));

for (const log2 of [15, 0, 255]) {
  test(`master: log2 ring size ${log2}`, () =>
    hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring({ log2 }), () => [eventfd()]); }, E.MAX_RING));
}

test('master: private_hdr_size 8', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring({ priv: 8 }), () => [eventfd()]); }, E.PRIVHDR));

// --- CONNECT ---
test('master: CONNECT with no regions or rings (libmemif and DPDK accept it; we refuse)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.send({ type: MsgType.CONNECT, ifName: 'x' }); }, E.INCOMPLETE));

test('master: CONNECT with a region but no rings', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.send({ type: MsgType.CONNECT, ifName: 'x' }); }, E.INCOMPLETE));

test('master: CONNECT with only S2M rings', () =>
  hostileSlave({}, async (p) => {
    await withRegion()(p);
    p.sendWith(ring(), () => [eventfd()]);
    await p.expect(MsgType.ACK);
    p.send({ type: MsgType.CONNECT, ifName: 'x' });
  }, E.INCOMPLETE));

test('master: CONNECT with ring 1 but no ring 0', () =>
  hostileSlave({ queues: 2 }, async (p) => {
    await withRegion()(p);
    for (const r of [ring(), ring({ s2m: false, index: 1, offset: 1024 })]) {
      p.sendWith(r, () => [eventfd()]);
      await p.expect(MsgType.ACK);
    }
    p.send({ type: MsgType.CONNECT, ifName: 'x' });
  }, E.INCOMPLETE));

test('master: CONNECT carrying an fd', () =>
  hostileSlave({}, async (p) => {
    const setup = await rawSlaveSetup(p, { initMemory: true });
    p.sendWith({ type: MsgType.CONNECT, ifName: 'x' }, () => [eventfd()]);
    setup.regions.forEach((r) => r.unmap());
  }, E.UNEXPECTED_FD, { hello: false }));

test('master: CONNECT with rings whose cookie is wrong (region memory never initialised)', () =>
  hostileSlave({}, async (p) => {
    const setup = await rawSlaveSetup(p, { initMemory: false });
    p.send({ type: MsgType.CONNECT, ifName: 'x' });
    setup.regions.forEach((r) => r.unmap());
  }, E.COOKIE, { hello: false }));

test('master: a raw slave that does everything right gets CONNECTED; garbage after that disconnects it', async () => {
  const fds0 = openFdCount();
  const path = sock();
  const m = iface({ socket: path, role: 'master', ifName: 'm-side' });
  const p = RawMemifPeer.connect(path);
  const setup = await rawSlaveSetup(p);
  const up = once<unknown>(m, 'connected');
  p.send({ type: MsgType.CONNECT, ifName: 'raw-slave' });
  assert.is((await p.expect(MsgType.CONNECTED)).ifName, 'm-side');
  await up;
  assert.is(m.connection?.peerIfName, 'raw-slave');
  const down = once<DisconnectInfo>(m, 'disconnected');
  p.send({ type: MsgType.ACK });
  await expectCode(p, E.UNEXPECTED_MSG);
  const info = await down;
  assert.equal(codeOf(info), { code: E.UNEXPECTED_MSG, byPeer: false });
  assert.is(m.connection, null);
  p.close();
  setup.regions.forEach((r) => r.unmap());
  m.close();
  await eventually(() => openFdCount() === fds0, 'fds back');
});

test('master: a peer that sends a bad message and closes at once: the master reports the real problem', async () => {
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const p = RawMemifPeer.connect(path);
  await p.expect(MsgType.HELLO);
  await ackThen(p);
  const down = once<DisconnectInfo>(m, 'disconnected');
  p.send(region(0, 4096)); // no fd
  p.close(); // gone before the master can answer
  assert.equal(codeOf(await down), { code: E.NO_SHMFD, byPeer: false });
  const rejected = once<{ code: E }>(m, 'rejected');
  const q = RawMemifPeer.connect(path);
  await q.expect(MsgType.HELLO);
  q.send(initMsg({ version: 0x0100 }));
  q.close();
  assert.is((await rejected).code, E.PROTO);
  m.close();
});

// --- timeouts ---
test('master: a silent peer is dropped after handshakeTimeoutMs', async () => {
  const t0 = Date.now();
  await hostileSlave({ handshakeTimeoutMs: 150 }, async () => undefined, E.TIMEOUT);
  assert.ok(Date.now() - t0 < 900, `took ${Date.now() - t0} ms for a 150 ms timeout`);
});

test('master: a peer that stops after INIT is dropped after handshakeTimeoutMs', () =>
  hostileSlave({ handshakeTimeoutMs: 150 }, ackThen, E.TIMEOUT));

test('master: a peer that sends nothing and never reads HELLO is dropped too', () =>
  hostileSlave({ handshakeTimeoutMs: 150 }, async (p) => {
    await sleep(300); // the master must not wait on us to read: it times out meanwhile
    await p.expect(MsgType.HELLO);
  }, E.TIMEOUT, { hello: false }));

// --- against a tsvpp slave ---
/** A tsvpp slave connecting to a raw master; the first accepted connection is handed to `script`. */
async function hostileMaster(script: (p: RawMemifPeer, s: MemifInterface, l: RawMemifListener) => Promise<void>, slave: Master = {}): Promise<void> {
  Reactor.get();
  const fds0 = openFdCount();
  const l = new RawMemifListener(sock());
  const s = iface({ socket: l.path, role: 'slave', reconnectMs: 20, ...slave });
  const p = await l.accept();
  try {
    await script(p, s, l);
  } finally {
    p.close();
    s.close();
    l.close();
  }
  await eventually(() => openFdCount() === fds0, `fds back to ${fds0} (now ${openFdCount()})`);
}

/** After the slave dropped the first connection, it must come back and send INIT after a HELLO. */
async function reconnects(l: RawMemifListener): Promise<void> {
  const again = await l.accept();
  again.send(helloMsg());
  const init = await again.expect(MsgType.INIT);
  assert.is(init.version, 0x0200);
  again.close();
}

for (const [min, max] of [[0x0100, 0x0100], [0x0201, 0x0300], [0x0300, 0x0100]]) {
  test(`slave: HELLO with versions 0x${min.toString(16)}..0x${max.toString(16)} → "Incompatible memif version", then it reconnects`, () =>
    hostileMaster(async (p, s, l) => {
      const down = once<DisconnectInfo>(s, 'disconnected');
      p.send(helloMsg({ minVersion: min, maxVersion: max }));
      await expectCode(p, E.PROTO);
      const info = await down;
      assert.is(info.code, E.PROTO);
      assert.is(info.byPeer, false);
      await reconnects(l);
    }));
}

test('slave: HELLO with a version range that includes 2.0 (1.0..3.0) is accepted', () =>
  hostileMaster(async (p) => {
    p.send(helloMsg({ minVersion: 0x0100, maxVersion: 0x0300 }));
    assert.is((await p.expect(MsgType.INIT)).version, 0x0200);
  }));

test('slave: HELLO that allows log2 ring size 0 → refused', () =>
  hostileMaster(async (p) => {
    p.send(helloMsg({ maxLog2RingSize: 0 }));
    await expectCode(p, E.MAXRING);
  }));

test('slave: HELLO that allows one region (ours needs two) → refused', () =>
  hostileMaster(async (p) => {
    p.send(helloMsg({ maxRegion: 0 }));
    await expectCode(p, E.MAXREG);
  }));

test('slave: HELLO caps the queues and the ring size it asks for', () =>
  hostileMaster(async (p) => {
    const rings: Array<{ flags: number; log2: number }> = [];
    p.send(helloMsg({ maxS2mRing: 0, maxM2sRing: 1, maxLog2RingSize: 6 }));
    await p.expect(MsgType.INIT);
    p.send({ type: MsgType.ACK });
    for (;;) {
      const r = await p.receive();
      assert.ok(r.kind === 'msg', describe(r));
      if (r.kind !== 'msg') return;
      for (const fd of r.fds) closeSync(fd);
      if (r.msg.type === MsgType.CONNECT) break;
      if (r.msg.type === MsgType.ADD_RING) rings.push({ flags: r.msg.flags, log2: r.msg.log2RingSize });
      p.send({ type: MsgType.ACK });
    }
    assert.equal(rings, [{ flags: 1, log2: 6 }, { flags: 0, log2: 6 }, { flags: 0, log2: 6 }]);
  }, { queues: 4 }));

test('slave: a first message that is not HELLO', () =>
  hostileMaster(async (p, s, l) => {
    p.send({ type: MsgType.ACK });
    await expectCode(p, E.UNEXPECTED_MSG);
    await reconnects(l);
  }));

test('slave: an undecodable first message', () =>
  hostileMaster(async (p) => {
    p.sendBytes(new Uint8Array(100));
    await expectCode(p, E.MFMSG);
  }));

test('slave: fds sent by the master are closed, not kept', () =>
  hostileMaster(async (p) => {
    p.sendWith(helloMsg(), () => [memfd(4096), eventfd()]);
    await p.expect(MsgType.INIT);
  }));

test('slave: CONNECTED during setup', () =>
  hostileMaster(async (p) => {
    p.send(helloMsg());
    await p.expect(MsgType.INIT);
    p.send({ type: MsgType.CONNECTED, ifName: 'early' });
    await expectCode(p, E.UNEXPECTED_MSG);
  }));

for (const [what, send, code] of [
  ['a 64-byte datagram', (p: RawMemifPeer) => p.sendBytes(new Uint8Array(64)), E.MFMSG],
  ['type 99', (p: RawMemifPeer) => p.sendPatched(99, {}), E.UNKNOWN_MSG],
  ['a second CONNECTED', (p: RawMemifPeer) => p.send({ type: MsgType.CONNECTED, ifName: 'again' }), E.UNEXPECTED_MSG],
  ['an ACK', (p: RawMemifPeer) => p.send({ type: MsgType.ACK }), E.UNEXPECTED_MSG],
] as const) {
  test(`slave: garbage after CONNECTED (${what}) → disconnect with the code, then reconnect`, () =>
    hostileMaster(async (p, s, l) => {
      const up = s.waitConnected();
      await rawMasterHandshake(p);
      const conn = await up;
      const down = once<DisconnectInfo>(s, 'disconnected');
      send(p);
      await expectCode(p, code);
      assert.equal(codeOf(await down), { code, byPeer: false });
      assert.not.ok(conn.open, 'the connection is disposed');
      assert.is(s.connection, null);
      await reconnects(l);
    }));
}

test('slave: DISCONNECT with a reason → "disconnected" carries it (byPeer), then the slave reconnects', () =>
  hostileMaster(async (p, s, l) => {
    const up = s.waitConnected();
    await rawMasterHandshake(p);
    await up;
    const down = once<DisconnectInfo>(s, 'disconnected');
    p.send({ type: MsgType.DISCONNECT, code: 7, reason: 'maintenance window' });
    // 7 is no tsvpp code (libmemif's MEMIF_ERR_ALREADY): it reads as DISCONNECT, the text is kept.
    assert.equal(await down, { code: E.DISCONNECT, reason: 'maintenance window', byPeer: true });
    await p.expectEof();
    // It comes back and goes all the way to CONNECTED again.
    const again = await l.accept();
    const up2 = s.waitConnected();
    await rawMasterHandshake(again);
    assert.is((await up2).peerIfName, 'raw-master');
    again.close();
  }));

test('slave: DISCONNECT during setup also carries the reason', () =>
  hostileMaster(async (p, s) => {
    const down = once<DisconnectInfo>(s, 'disconnected');
    p.send(helloMsg());
    await p.expect(MsgType.INIT);
    p.send({ type: MsgType.DISCONNECT, code: 0, reason: 'Incorrect secret' });
    assert.equal(await down, { code: E.DISCONNECT, reason: 'Incorrect secret', byPeer: true });
  }));

test('slave: a silent master is dropped after handshakeTimeoutMs', () =>
  hostileMaster(async (p, s) => {
    const down = once<DisconnectInfo>(s, 'disconnected');
    await expectCode(p, E.TIMEOUT);
    assert.equal(codeOf(await down), { code: E.TIMEOUT, byPeer: false });
  }, { handshakeTimeoutMs: 100 }));

test.after(() => {
  for (const x of live) x.close();
  rmSync(dir, { recursive: true, force: true });
});
test.run();
