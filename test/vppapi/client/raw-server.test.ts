// The client against a hand-driven fake VPP: out-of-order replies and bytes VPP would never send.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { VppClient, VppProtocolError, VppDisconnectedError } from '../../../src/vppapi/client/index.js';
import { encodeFrame, FrameDecoder } from '../../../src/vppapi/transport/frame.js';
import { registry, tempDir, until } from './helpers.js';

const tmp = tempDir();
const reg = registry();

/** Table like the emulator's: memclnt first from id 1. */
const ordered = [...reg.messages().filter((m) => m.module === 'memclnt'), ...reg.messages().filter((m) => m.module !== 'memclnt')];
const idOf = new Map(ordered.map((m, k) => [m.name, k + 1]));
const nameOf = new Map(ordered.map((m, k) => [k + 1, m.name]));
const table = ordered.map((m, k) => ({ index: k + 1, name: m.nameCrc }));

function enc(name: string, v: Record<string, unknown>): Uint8Array {
  return reg.message(name).encode({ ...v, _vl_msg_id: idOf.get(name)! });
}

interface Fake { server: net.Server; sock: () => net.Socket; requests: Array<{ name: string; value: any }>; close(): Promise<void> }

/** Answers sockclnt_create, records every later request and leaves answering to the test. */
async function fakeVpp(path: string): Promise<Fake> {
  let current: net.Socket | null = null;
  const requests: Fake['requests'] = [];
  const server = net.createServer((s) => {
    current = s;
    const d = new FrameDecoder();
    s.on('error', () => {});
    s.on('data', (chunk) => {
      for (const f of d.push(chunk)) {
        const name = nameOf.get(f.readUInt16BE(0))!;
        const value = reg.message(name).decode(f).value;
        if (name === 'sockclnt_create') {
          s.write(encodeFrame(enc('sockclnt_create_reply', { context: value.context, response: 0, index: 0x80000001, count: table.length, message_table: table })));
        } else requests.push({ name, value });
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    server, requests, sock: () => current!,
    close: () => new Promise<void>((r) => { current?.destroy(); server.close(() => r()); }),
  };
}

test.after(() => tmp.cleanup());

test('replies sent in reverse order reach the right callers; client_index is filled in', async () => {
  const f = await fakeVpp(`${tmp.dir}/a.sock`);
  const c = await VppClient.connect({ socket: `${tmp.dir}/a.sock`, registry: reg, reconnect: false });
  try {
    const ps = [1, 2, 3, 4].map((k) => c.request('memif_create', { id: k }));
    await until('4 requests', () => f.requests.length === 4);
    assert.ok(f.requests.every((r) => r.value.client_index === 0x80000001));
    for (const r of [...f.requests].reverse()) {
      f.sock().write(encodeFrame(enc('memif_create_reply', { context: r.value.context, retval: 0, sw_if_index: 10 + r.value.id })));
    }
    assert.equal((await Promise.all(ps)).map((r) => r.sw_if_index), [11, 12, 13, 14]);
  } finally {
    await c.close();
    await f.close();
  }
});

test('unknown message id: protocol-error event, the waiting request fails, connection survives', async () => {
  const f = await fakeVpp(`${tmp.dir}/b.sock`);
  const c = await VppClient.connect({ socket: `${tmp.dir}/b.sock`, registry: reg, reconnect: false });
  const errors: VppProtocolError[] = [];
  c.on('protocol-error', (e) => errors.push(e));
  try {
    const p = c.request('control_ping').catch((e) => e);
    await until('request', () => f.requests.length === 1);
    const ctx = f.requests[0]!.value.context;
    const bogus = Buffer.alloc(10);
    bogus.writeUInt16BE(60000, 0);
    bogus.writeUInt32BE(ctx, 2);
    f.sock().write(encodeFrame(bogus));
    const err = await p;
    assert.instance(err, VppProtocolError);
    assert.match(err.message, /message id 60000/);
    // an event-like unknown message with no waiting context is only reported
    const lone = Buffer.alloc(6);
    lone.writeUInt16BE(60001, 0);
    f.sock().write(encodeFrame(lone));
    await until('second protocol error', () => errors.length === 2);
    const q = c.request('control_ping');
    await until('second request', () => f.requests.length === 2);
    f.sock().write(encodeFrame(enc('control_ping_reply', { context: f.requests[1]!.value.context, retval: 0 })));
    assert.is((await q).retval, 0);
  } finally {
    await c.close();
    await f.close();
  }
});

test('truncated message body (decodes short): the request fails with a protocol error', async () => {
  const f = await fakeVpp(`${tmp.dir}/c.sock`);
  const c = await VppClient.connect({ socket: `${tmp.dir}/c.sock`, registry: reg, reconnect: false });
  try {
    const p = c.request('show_version').catch((e) => e);
    await until('request', () => f.requests.length === 1);
    const full = enc('show_version_reply', { context: f.requests[0]!.value.context, retval: 0, program: 'vpe' });
    f.sock().write(encodeFrame(full.subarray(0, 20)));
    const err = await p;
    assert.instance(err, VppProtocolError);
    assert.match(err.message, /cannot decode show_version_reply \(20 bytes\)/);
  } finally {
    await c.close();
    await f.close();
  }
});

test('oversized frame length: connection dropped, pending fails, disconnected event, no crash', async () => {
  const f = await fakeVpp(`${tmp.dir}/d.sock`);
  const c = await VppClient.connect({ socket: `${tmp.dir}/d.sock`, registry: reg, reconnect: false, maxFrameBytes: 1 << 20 });
  const reasons: string[] = [];
  c.on('disconnected', (i) => reasons.push(i.reason));
  try {
    const p = c.request('control_ping').catch((e) => e);
    await until('request', () => f.requests.length === 1);
    const h = Buffer.alloc(16);
    h.writeUInt32BE(0x7fffffff, 8);
    f.sock().write(h);
    const err = await p;
    assert.instance(err, VppDisconnectedError);
    assert.match(err.message, /control_ping: not answered, .*announces 2147483647 bytes/);
    assert.equal(reasons.length, 1);
    assert.is(c.connected, false);
  } finally {
    await c.close();
    await f.close();
  }
});

test('stream cut mid-frame and garbage: disconnect names the truncation', async () => {
  const f = await fakeVpp(`${tmp.dir}/e.sock`);
  const c = await VppClient.connect({ socket: `${tmp.dir}/e.sock`, registry: reg, reconnect: false });
  try {
    const p = c.request('control_ping').catch((e) => e);
    await until('request', () => f.requests.length === 1);
    const frame = encodeFrame(enc('control_ping_reply', { context: f.requests[0]!.value.context }));
    f.sock().end(frame.subarray(0, frame.length - 3));
    const err = await p;
    assert.instance(err, VppDisconnectedError);
    assert.match(err.message, /ended inside a frame/);
  } finally {
    await c.close();
    await f.close();
  }
  // Garbage before any handshake: connect fails with a protocol error, not a hang.
  const g = net.createServer((s) => { s.on('error', () => {}); s.resume(); s.write(encodeFrame(Buffer.from('not a vpp message at all'))); });
  await new Promise<void>((r) => g.listen(`${tmp.dir}/g.sock`, r));
  const err = await VppClient.connect({ socket: `${tmp.dir}/g.sock`, registry: reg, connectTimeoutMs: 500 }).catch((e) => e);
  assert.instance(err, VppProtocolError);
  assert.match(err.message, /expected sockclnt_create_reply \(id 16\)/);
  await new Promise<void>((r) => g.close(() => r()));
  // Silent server: connect times out naming the socket.
  const h = net.createServer((s) => { s.on('error', () => {}); s.resume(); });
  await new Promise<void>((r) => h.listen(`${tmp.dir}/h.sock`, r));
  const err2 = await VppClient.connect({ socket: `${tmp.dir}/h.sock`, registry: reg, connectTimeoutMs: 100 }).catch((e) => e);
  assert.match(err2.message, /no sockclnt_create_reply .* within 100 ms/);
  await new Promise<void>((r) => h.close(() => r()));
});

test.run();
