// The agent's CNI socket checks the connecting process's uid with SO_PEERCRED (checkPeer), on top
// of the socket's 0600 mode. These tests run as root (like the agent): root is admitted; a
// configured other uid rejects root; and a real unprivileged process is rejected by SO_PEERCRED
// itself once the file mode is loosened so that connect() lets it through.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConnection, createServer, type Socket } from 'node:net';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { checkPeer, startCniServer } from '../../src/cni/agent/server.js';
import { AGENT_PROTOCOL_VERSION, encodeLine } from '../../src/cni/agent-protocol.cjs';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-agent-peercred-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const uid = process.getuid!();
const request = encodeLine({ v: AGENT_PROTOCOL_VERSION, command: 'ADD', containerId: 'c1', ifName: 'eth0', args: {}, config: { cniVersion: '1.0.0', name: 'n', type: 't' } });

function talk(path: string, line: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(line));
    c.on('data', (d: string) => { buf += d; });
    c.on('end', () => { try { resolve(JSON.parse(buf)); } catch (e) { reject(new Error(`bad reply ${JSON.stringify(buf)}`)); } });
    c.on('error', reject);
  });
}

async function withServer(opts: { allowedUid?: number }, f: (path: string, handled: string[], logs: string[]) => Promise<void>): Promise<void> {
  const path = join(dir, `cni${n++}.sock`);
  const handled: string[] = [];
  const logs: string[] = [];
  const server = await startCniServer({
    socketPath: path, ...opts, log: (m) => logs.push(m),
    handler: async (req) => { handled.push(req.containerId); return { cniVersion: '1.0.0' }; },
  });
  try { await f(path, handled, logs); } finally { await new Promise((r) => server.close(r)); }
}

test('checkPeer on a live connection reads this process\'s uid', async () => {
  const path = join(dir, `raw${n++}.sock`);
  const seen: Array<ReturnType<typeof checkPeer>> = [];
  const server = createServer((s: Socket) => { seen.push(checkPeer(s, uid), checkPeer(s, uid + 1)); s.end(); });
  await new Promise<void>((r) => server.listen(path, r));
  await new Promise<void>((resolve, reject) => createConnection(path).on('close', () => resolve()).on('error', reject).resume());
  await new Promise((r) => server.close(r));
  assert.equal(seen[0], { ok: true });
  assert.is(seen[1]!.ok, false);
  assert.match(seen[1]!.reason!, new RegExp(`^peer uid ${uid} \\(pid ${process.pid}\\) may not use the agent socket: only uid ${uid + 1} may$`));
});

test('checkPeer fails closed on a socket without an fd', () => {
  const r = checkPeer({} as Socket);
  assert.is(r.ok, false);
  assert.match(r.reason!, /cannot read the peer's credentials/);
});

test('agent socket: root (the default allowed uid) is served', async () => {
  assert.is(uid, 0, 'this test runs as root, as the agent does');
  await withServer({}, async (path, handled) => {
    assert.equal(await talk(path, request), { ok: true, result: { cniVersion: '1.0.0' } });
    assert.equal(handled, ['c1']);
  });
});

test('agent socket: a peer whose uid is not the allowed one gets "permission denied" and the handler never runs', async () => {
  await withServer({ allowedUid: 4242 }, async (path, handled, logs) => {
    const r = await talk(path, request);
    assert.is(r.ok, false);
    assert.is(r.error.msg, 'permission denied');
    assert.match(r.error.details, new RegExp(`^peer uid ${uid} \\(pid \\d+\\) may not use the agent socket: only uid 4242 may$`));
    assert.equal(handled, []);
    assert.ok(logs.some((l) => /refused a connection: peer uid/.test(l)), logs.join('\n'));
  });
});

test('agent socket: an unprivileged process that gets past a loosened file mode is still refused', async () => {
  await withServer({}, async (path, handled) => {
    chmodSync(dir, 0o755);
    chmodSync(path, 0o666); // what a careless deployment might do: only SO_PEERCRED stands now
    const client = `const c=require('net').createConnection(${JSON.stringify(path)});let b='';c.setEncoding('utf8');` +
      `c.on('connect',()=>c.write(${JSON.stringify(request)}));c.on('data',d=>b+=d);c.on('end',()=>{process.stdout.write(b)});` +
      `c.on('error',e=>{process.stdout.write('ERR '+e.code)})`;
    // spawnSync would block the event loop that serves the socket: run it async.
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', client], { uid: 65534, gid: 65534, timeout: 10_000 }, (e, stdout) => (e ? reject(e) : resolve(stdout)));
    });
    const r = JSON.parse(out);
    assert.is(r.ok, false, out);
    assert.match(r.error.details, /^peer uid 65534 \(pid \d+\) may not use the agent socket: only uid 0 may$/);
    assert.equal(handled, []);
  });
});

test.run();
