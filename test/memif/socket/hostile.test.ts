// Hostile peers on the control channel. Against a tsvpp master, a raw slave sends each bad input
// from docs/peers "Bad input" (and more): the master must answer DISCONNECT with a reason that
// names the problem, close, keep serving the socket, and hold no fd afterwards. Against a tsvpp
// slave, a raw master misbehaves: the slave must report it, drop the connection and reconnect.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, openSync, closeSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, MsgType, type DisconnectInfo, type MemifOptions } from '../../../src/memif/index.js';
import { openFdCount, Reactor } from '../../../src/sys/index.js';
import {
  RawMemifPeer, RawMemifListener, rawSlaveSetup, rawMasterHandshake, memfd, eventfd, initMsg, helloMsg, describe,
} from '../../support/raw-memif-peer.js';

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

// Every interface a test makes, so that a failed test cannot leave a listener keeping the process up.
const live = new Set<MemifInterface>();
function iface(o: MemifOptions): MemifInterface {
  const x = new MemifInterface(o);
  live.add(x);
  return x;
}

/**
 * One hostile slave against a fresh tsvpp master: `script` runs after HELLO was read, then the
 * master must send DISCONNECT matching `reason` (or, with reason null, just close) and EOF; then
 * a correct tsvpp slave must still connect on the same socket, and every fd must be back.
 */
async function hostileSlave(
  master: Master,
  script: (p: RawMemifPeer) => Promise<void>,
  reason: RegExp | null,
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
    if (reason) assert.match(await p.expectDisconnect(), reason);
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
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(64).fill(3, 0, 1)); }, /^Invalid message size 64\b/));

test('master: an empty (0-byte) datagram is a malformed message, not EOF → "Invalid message size 0"', () =>
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(0)); }, /^Invalid message size 0\b/));

test('master: an oversized (200-byte) message → "Invalid message size 200"', () =>
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(200).fill(3, 0, 1)); }, /^Invalid message size 200\b/));

test('master: a 5000-byte datagram (longer than the receive buffer) → "Invalid message size 5000"', () =>
  hostileSlave({}, async (p) => { p.sendBytes(new Uint8Array(4096)); }, /^Invalid message size 4096\b/));

test('master: a malformed message with fds: the fds are closed too', () =>
  hostileSlave({}, async (p) => {
    const fds = [memfd(4096), eventfd()];
    p.sendBytes(new Uint8Array(64), fds);
    for (const fd of fds) closeSync(fd);
  }, /^Invalid message size 64\b/));

test('master: unknown type 99 before INIT', () =>
  hostileSlave({}, async (p) => { p.sendPatched(99, {}); }, /^Unknown message type 99$/));

test('master: unknown type 99 after INIT', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendPatched(99, {}); }, /^Unknown message type 99$/));

test('master: type 0 (NONE) is unknown too', () =>
  hostileSlave({}, async (p) => { p.sendPatched(0, {}); }, /^Unknown message type 0$/));

// --- messages out of order ---
test('master: HELLO from the slave', () =>
  hostileSlave({}, async (p) => { p.send(helloMsg()); }, /Unexpected message HELLO before INIT/));

for (const [name, send] of [
  ['ADD_REGION', (p: RawMemifPeer) => p.sendWith(region(0, 4096), () => [memfd(4096)])],
  ['ADD_RING', (p: RawMemifPeer) => p.sendWith(ring(), () => [eventfd()])],
  ['ACK', (p: RawMemifPeer) => p.send({ type: MsgType.ACK })],
  ['CONNECT', (p: RawMemifPeer) => p.send({ type: MsgType.CONNECT, ifName: 'x' })],
  ['CONNECTED', (p: RawMemifPeer) => p.send({ type: MsgType.CONNECTED, ifName: 'x' })],
] as const) {
  test(`master: ${name} before INIT (libmemif crashes on ADD_REGION/ADD_RING here)`, () =>
    hostileSlave({}, async (p) => { send(p); }, new RegExp(`^Unexpected message ${name} before INIT$`)));
}

test('master: DISCONNECT before INIT: the master just closes (no reply), and keeps serving', () =>
  hostileSlave({}, async (p) => { p.send({ type: MsgType.DISCONNECT, code: 0, reason: 'never mind' }); }, null));

test('master: DISCONNECT before INIT emits "rejected" with the peer\'s reason', async () => {
  const path = sock();
  const m = iface({ socket: path, role: 'master' });
  const rejected = once<{ reason: string }>(m, 'rejected');
  const p = RawMemifPeer.connect(path);
  await p.expect(MsgType.HELLO);
  p.send({ type: MsgType.DISCONNECT, code: 0, reason: 'never mind' });
  assert.is((await rejected).reason, 'never mind');
  await p.expectEof();
  p.close();
  m.close();
});

test('master: a second INIT', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.send(initMsg()); }, /^Unexpected message INIT during setup$/));

test('master: INIT carrying an fd', () =>
  hostileSlave({}, async (p) => { p.sendWith(initMsg(), () => [eventfd()]); }, /^Unexpected fd with INIT$/));

// --- INIT checks ---
for (const v of [0x0100, 0x0201, 0x0300, 0]) {
  test(`master: INIT version 0x${v.toString(16).padStart(4, '0')}`, () =>
    hostileSlave({}, async (p) => { p.send(initMsg({ version: v })); },
      new RegExp(`^Incompatible memif version ${v >> 8}\\.${v & 0xff}\\b`)));
}

test('master: wrong secret', () =>
  hostileSlave({ secret: 'right' }, async (p) => { p.send(initMsg({ secret: 'wrong' })); }, /^Incorrect secret$/));

test('master: a secret that only shares a prefix with the right one', () =>
  hostileSlave({ secret: 'right' }, async (p) => { p.send(initMsg({ secret: 'right!' })); }, /^Incorrect secret$/));

test('master: missing secret', () =>
  hostileSlave({ secret: 'right' }, async (p) => { p.send(initMsg()); }, /^Secret required$/));

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
  hostileSlave({}, async (p) => { p.send(initMsg({ mode: 1 })); }, /^Mode mismatch: interface id 0 is ethernet, peer asked for ip$/));

test('master: a mode that does not exist (7)', () =>
  hostileSlave({ mode: 'ip' }, async (p) => { p.send(initMsg({ mode: 7 })); }, /^Mode mismatch: .* is ip, peer asked for mode 7$/));

test('master: unknown interface id', () =>
  hostileSlave({ id: 4 }, async (p) => { p.send(initMsg({ id: 5 })); }, /^ID not found: no interface with id 5\b/));

test('master: a second slave for an id already connected; the first connection is untouched', async () => {
  const fds0 = openFdCount();
  const path = sock();
  const m = iface({ socket: path, role: 'master', id: 9 });
  const s1 = iface({ socket: path, role: 'slave', id: 9 });
  const c1 = await s1.waitConnected();
  const p = RawMemifPeer.connect(path);
  await p.expect(MsgType.HELLO);
  p.send(initMsg({ id: 9 }));
  assert.match(await p.expectDisconnect(), /^Already connected: interface id 9\b/);
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
  assert.match(await p2.expectDisconnect(), /^Already connected/);
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
  hostileSlave({}, async (p) => { await ackThen(p); p.send(region(0, 4096)); }, /^Missing region fd$/));

test('master: ADD_REGION with 2 fds (both closed)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 4096), () => [memfd(4096), memfd(4096)]); }, /^ADD_REGION carried 2 fds, expected 1$/));

test('master: ADD_REGION with 16 fds (all closed)', () =>
  hostileSlave({}, async (p) => {
    await ackThen(p);
    p.sendWith(region(0, 4096), () => Array.from({ length: 16 }, () => eventfd()));
  }, /^ADD_REGION carried 16 fds, expected 1$/));

test('master: ADD_REGION index 300', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(300, 4096), () => [memfd(4096)]); }, /^Invalid region index 300\b/));

test('master: ADD_REGION with a non-contiguous index (1 first)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(1, 4096), () => [memfd(4096)]); }, /^Invalid region index 1 \(expected 0\)$/));

test('master: ADD_REGION index 0 twice', () =>
  hostileSlave({}, async (p) => { await withRegion(4096)(p); p.sendWith(region(0, 4096), () => [memfd(4096)]); }, /^Invalid region index 0 \(expected 1\)$/));

test('master: ADD_REGION size 0', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 0), () => [memfd(4096)]); }, /^Invalid region size 0 for region 0$/));

test('master: ADD_REGION size above 4 GiB', () =>
  hostileSlave({}, async (p) => {
    await ackThen(p);
    p.sendWith({ type: MsgType.ADD_REGION, index: 0, size: 2n ** 40n }, () => [memfd(4096)]);
  }, /^Invalid region size 1099511627776\b/));

test('master: ADD_REGION larger than its memfd', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 8192), () => [memfd(4096)]); }, /^region 0 fd holds 4096 bytes, less than its announced size 8192$/));

test('master: ADD_REGION with an eventfd as the region (fstat size 0)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.sendWith(region(0, 4096), () => [eventfd()]); }, /^region 0 fd holds 0 bytes\b/));

test('master: ADD_REGION with a regular file that is big enough but cannot be sealed', () =>
  hostileSlave({}, async (p) => {
    await ackThen(p);
    const file = join(dir, `plain-${n++}`);
    p.sendWith(region(0, 4096), () => {
      const fd = openSync(file, 'w+');
      ftruncateSync(fd, 4096);
      return [fd];
    });
  }, /^region 0 fd cannot be sealed against shrinking$/));

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
  hostileSlave({}, async (p) => { await withRegion()(p); p.send(ring()); }, /^Missing interrupt fd$/));

test('master: ADD_RING with 2 fds', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring(), () => [eventfd(), eventfd()]); }, /^ADD_RING carried 2 fds, expected 1$/));

test('master: ADD_RING whose interrupt fd is a memfd, not an eventfd', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring(), () => [memfd(4096)]); }, /^S2M ring 0: interrupt fd is not an eventfd \(\/memfd:/));

test('master: ADD_RING whose interrupt fd is a socket the peer could feed', () =>
  hostileSlave({}, async (p) => {
    await withRegion()(p);
    const l = new RawMemifListener(sock());
    const a = RawMemifPeer.connect(l.path);
    p.send(ring(), [a.fd]);
    a.close();
    l.close();
  }, /^S2M ring 0: interrupt fd is not an eventfd \(socket:\[\d+\]\)$/));

test('master: ADD_RING index beyond the configured queues', () =>
  hostileSlave({ queues: 2 }, async (p) => { await withRegion()(p); p.sendWith(ring({ index: 2 }), () => [eventfd()]); }, /^Invalid ring index 2: interface has 2 S2M queues$/));

test('master: duplicate ring', () =>
  hostileSlave({}, async (p) => {
    await withRegion()(p);
    p.sendWith(ring({ s2m: false }), () => [eventfd()]);
    await p.expect(MsgType.ACK);
    p.sendWith(ring({ s2m: false, offset: 4096 }), () => [eventfd()]);
  }, /^M2S ring 0 added twice$/));

test('master: ring in a region that does not exist', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring({ region: 5 }), () => [eventfd()]); }, /^S2M ring 0: invalid region index 5$/));

test('master: ring that does not fit its region', () =>
  // 16 slots: 128 + 16 * 16 = 384 bytes from offset 4096 - 128 overruns the 4096-byte region.
  hostileSlave({}, async (p) => { await withRegion(4096)(p); p.sendWith(ring({ offset: 4096 - 128 }), () => [eventfd()]); }, /^S2M ring 0 at offset 3968 \(384 bytes\) does not fit region 0 of 4096 bytes$/));

test('master: ring at an offset near 2^32 (no wrap-around in the fit check)', () =>
  hostileSlave({}, async (p) => { await withRegion(4096)(p); p.sendWith(ring({ offset: 2 ** 32 - 8 }), () => [eventfd()]); }, /does not fit region 0/));

for (const log2 of [15, 0, 255]) {
  test(`master: log2 ring size ${log2}`, () =>
    hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring({ log2 }), () => [eventfd()]); }, new RegExp(`^S2M ring 0: invalid log2 ring size ${log2}$`)));
}

test('master: private_hdr_size 8', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.sendWith(ring({ priv: 8 }), () => [eventfd()]); }, /^S2M ring 0: private headers are not supported$/));

// --- CONNECT ---
test('master: CONNECT with no regions or rings (libmemif and DPDK accept it; we refuse)', () =>
  hostileSlave({}, async (p) => { await ackThen(p); p.send({ type: MsgType.CONNECT, ifName: 'x' }); }, /^CONNECT before any region was added$/));

test('master: CONNECT with a region but no rings', () =>
  hostileSlave({}, async (p) => { await withRegion()(p); p.send({ type: MsgType.CONNECT, ifName: 'x' }); }, /^CONNECT without any S2M ring$/));

test('master: CONNECT with only S2M rings', () =>
  hostileSlave({}, async (p) => {
    await withRegion()(p);
    p.sendWith(ring(), () => [eventfd()]);
    await p.expect(MsgType.ACK);
    p.send({ type: MsgType.CONNECT, ifName: 'x' });
  }, /^CONNECT without any M2S ring$/));

test('master: CONNECT with ring 1 but no ring 0', () =>
  hostileSlave({ queues: 2 }, async (p) => {
    await withRegion()(p);
    for (const r of [ring(), ring({ s2m: false, index: 1, offset: 1024 })]) {
      p.sendWith(r, () => [eventfd()]);
      await p.expect(MsgType.ACK);
    }
    p.send({ type: MsgType.CONNECT, ifName: 'x' });
  }, /^CONNECT with M2S rings not numbered from 0 \(missing ring 0\)$/));

test('master: CONNECT carrying an fd', () =>
  hostileSlave({}, async (p) => {
    const setup = await rawSlaveSetup(p, { initMemory: true });
    p.sendWith({ type: MsgType.CONNECT, ifName: 'x' }, () => [eventfd()]);
    setup.regions.forEach((r) => r.unmap());
  }, /^Unexpected fd with CONNECT$/, { hello: false }));

test('master: CONNECT with rings whose cookie is wrong (region memory never initialised)', () =>
  hostileSlave({}, async (p) => {
    const setup = await rawSlaveSetup(p, { initMemory: false });
    p.send({ type: MsgType.CONNECT, ifName: 'x' });
    setup.regions.forEach((r) => r.unmap());
  }, /^S2M ring 0: wrong cookie 0x0 \(expected 0x3e31f20\)$/, { hello: false }));

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
  assert.match(await p.expectDisconnect(), /^Unexpected message ACK while connected$/);
  const info = await down;
  assert.equal(info, { reason: 'Unexpected message ACK while connected', byPeer: false });
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
  assert.equal(await down, { reason: 'Missing region fd', byPeer: false });
  const rejected = once<{ reason: string }>(m, 'rejected');
  const q = RawMemifPeer.connect(path);
  await q.expect(MsgType.HELLO);
  q.send(initMsg({ version: 0x0100 }));
  q.close();
  assert.match((await rejected).reason, /^Incompatible memif version 1\.0/);
  m.close();
});

// --- timeouts ---
test('master: a silent peer is dropped after handshakeTimeoutMs', async () => {
  const t0 = Date.now();
  await hostileSlave({ handshakeTimeoutMs: 150 }, async () => undefined, /^handshake timed out$/);
  assert.ok(Date.now() - t0 < 900, `took ${Date.now() - t0} ms for a 150 ms timeout`);
});

test('master: a peer that stops after INIT is dropped after handshakeTimeoutMs', () =>
  hostileSlave({ handshakeTimeoutMs: 150 }, ackThen, /^handshake timed out$/));

test('master: a peer that sends nothing and never reads HELLO is dropped too', () =>
  hostileSlave({ handshakeTimeoutMs: 150 }, async (p) => {
    await sleep(300); // the master must not wait on us to read: it times out meanwhile
    await p.expect(MsgType.HELLO);
  }, /^handshake timed out$/, { hello: false }));

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
      assert.match(await p.expectDisconnect(), /^Incompatible memif version: master speaks /);
      const info = await down;
      assert.match(info.reason, /^Incompatible memif version/);
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
    assert.match(await p.expectDisconnect(), /^master allows no usable rings/);
  }));

test('slave: HELLO that allows one region (ours needs two) → refused', () =>
  hostileMaster(async (p) => {
    p.send(helloMsg({ maxRegion: 0 }));
    assert.match(await p.expectDisconnect(), /^master allows 1 regions, 2 needed$/);
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
    assert.match(await p.expectDisconnect(), /^Unexpected message ACK before HELLO$/);
    await reconnects(l);
  }));

test('slave: an undecodable first message', () =>
  hostileMaster(async (p) => {
    p.sendBytes(new Uint8Array(100));
    assert.match(await p.expectDisconnect(), /^Invalid message size 100\b/);
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
    assert.match(await p.expectDisconnect(), /^Unexpected message CONNECTED during setup$/);
  }));

for (const [what, send, reason] of [
  ['a 64-byte datagram', (p: RawMemifPeer) => p.sendBytes(new Uint8Array(64)), /^Invalid message size 64\b/],
  ['type 99', (p: RawMemifPeer) => p.sendPatched(99, {}), /^Unknown message type 99$/],
  ['a second CONNECTED', (p: RawMemifPeer) => p.send({ type: MsgType.CONNECTED, ifName: 'again' }), /^Unexpected message CONNECTED while connected$/],
  ['an ACK', (p: RawMemifPeer) => p.send({ type: MsgType.ACK }), /^Unexpected message ACK while connected$/],
] as const) {
  test(`slave: garbage after CONNECTED (${what}) → disconnect with the reason, then reconnect`, () =>
    hostileMaster(async (p, s, l) => {
      const up = s.waitConnected();
      await rawMasterHandshake(p);
      const conn = await up;
      const down = once<DisconnectInfo>(s, 'disconnected');
      send(p);
      assert.match(await p.expectDisconnect(), reason);
      const info = await down;
      assert.match(info.reason, reason);
      assert.is(info.byPeer, false);
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
    assert.equal(await down, { reason: 'maintenance window', byPeer: true });
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
    assert.equal(await down, { reason: 'Incorrect secret', byPeer: true });
  }));

test('slave: a silent master is dropped after handshakeTimeoutMs', () =>
  hostileMaster(async (p, s) => {
    const down = once<DisconnectInfo>(s, 'disconnected');
    assert.match(await p.expectDisconnect(), /^handshake timed out$/);
    assert.equal(await down, { reason: 'handshake timed out', byPeer: false });
  }, { handshakeTimeoutMs: 100 }));

test.after(() => {
  for (const x of live) x.close();
  rmSync(dir, { recursive: true, force: true });
});
test.run();
