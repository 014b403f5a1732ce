// The tsvpp-cni shim (a real bash process) against the agent's loopback listener, and the reader
// of its wire format: what the shim sends is what the agent reads, what the agent answers is what
// the shim prints, and every way the agent can fail to answer ends in the Node tsvpp-cni.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INVOCATION_ENV, InvocationReader, encodeAnswer, rendezvousPath, tsvppCniShim, type Invocation } from '../../src/cni/invocation.js';
import { MAX_INVOCATION_CONNECTIONS, startCniServer, startInvocationServer, type InvocationServer } from '../../src/cni/agent/server.js';
import { listPendingDels } from '../../src/cni/pending-del.js';
import { CniError, ErrorCode, type CniResult } from '../../src/cni/spec.cjs';
import type { AgentRequest } from '../../src/cni/agent-protocol.cjs';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = join(here, '../../src/cni/cni-main.cjs');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-invocation-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A shim for an agent whose unix socket would be `sock` (the Node tsvpp-cni behind it uses the conflist's). */
function shimFor(sock: string): string {
  const f = join(dir, `tsvpp-cni-${n++}`);
  writeFileSync(f, tsvppCniShim({ cniSocket: sock, node: process.execPath, cniMain: CNI_MAIN }), { mode: 0o755 });
  return f;
}

interface Run { code: number; stdout: string; stderr: string }
function run(file: string, env: Record<string, string>, stdin: string, args: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: { PATH: process.env.PATH ?? '', LANG: 'C.UTF-8', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const env = (cmd: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: cmd, CNI_CONTAINERID: 'abc123', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=abc123', CNI_PATH: '/opt/cni/bin', ...extra,
});
const conf = (sock: string, extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: sock, agentStateDir: join(dir, 'state'), ...extra });

/** A raw listener announced in the rendezvous file, doing what `serve` says with each connection. */
async function rawAgent(sock: string, token: string, serve: (s: Socket) => void): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((s) => { s.on('error', () => {}); serve(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  writeFileSync(rendezvousPath(sock), `${port} ${token} ${PROOF}\n`, { mode: 0o600 });
  return { server, port, async close() { rmSync(rendezvousPath(sock), { force: true }); await new Promise<void>((r) => server.close(() => r())); } };
}

const TOKEN = 'ab'.repeat(32), PROOF = 'cd'.repeat(32);
const line = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\n') && !s.includes('\0'));

test('what the shim sends is what the reader reads, in any chunks; what the agent answers is what the shim prints', async () => {
  const sock = join(dir, 'prop.sock');
  const shim = shimFor(sock);
  let answer = { code: 0, stdout: '', stderr: '' };
  const chunkSizes: number[] = [];
  let got: Invocation | undefined;
  const agent = await rawAgent(sock, TOKEN, (s) => {
    const reader = new InvocationReader(Buffer.from(TOKEN, 'latin1'));
    s.on('data', (d: Buffer) => {
      // Fed back in pieces as small as one byte, as a slow connection would deliver them.
      let inv: Invocation | undefined;
      for (let i = 0, k = 0; i < d.length; i += chunkSizes[k++ % chunkSizes.length]!) {
        inv = reader.push(d.subarray(i, i + chunkSizes[k % chunkSizes.length]!)) ?? inv;
      }
      if (inv) { got = inv; s.end(encodeAnswer(PROOF, answer)); }
    });
  });
  try {
    await fc.assert(fc.asyncProperty(
      fc.record({ CNI_COMMAND: fc.constantFrom('ADD', 'DEL', 'CHECK'), CNI_CONTAINERID: line, CNI_NETNS: line, CNI_IFNAME: line, CNI_ARGS: line, CNI_PATH: line }, { requiredKeys: ['CNI_COMMAND'] }),
      fc.string({ unit: 'grapheme', maxLength: 300 }).filter((s) => !s.includes('\0')),
      fc.record({ code: fc.integer({ min: 0, max: 3 }), stdout: fc.string({ unit: 'grapheme', maxLength: 200 }), stderr: fc.string({ unit: 'grapheme', maxLength: 50 }) }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }),
      async (rec, stdin, a, chunks) => {
        const e: Record<string, string> = { ...rec };
        answer = a; got = undefined;
        chunkSizes.splice(0, chunkSizes.length, ...chunks);
        const r = await run(shim, e, stdin);
        assert.equal(got, { env: e, stdin });
        assert.equal(r, { code: a.code, stdout: a.stdout, stderr: a.stderr });
      },
    ), { numRuns: 60 });
  } finally { await agent.close(); }
});

test('the reader refuses a stranger, another release and anything malformed, naming it', () => {
  const read = (s: string) => new InvocationReader(Buffer.from(TOKEN, 'latin1')).push(Buffer.from(s, 'utf8'));
  assert.throws(() => read('GET / HTTP/1.1\r\n'), /not a tsvpp-cni request/);
  assert.throws(() => read('GET'), /not a tsvpp-cni request/);
  assert.is(read('tsvpp-c'), undefined); // a prefix: wait for more
  assert.throws(() => read(`tsvpp-cni 1 ${'cd'.repeat(32)}\n`), (e: any) => /wrong token/.test(e.message) && e.tokenRefused === true);
  assert.throws(() => read(`tsvpp-cni 1 ${TOKEN.slice(2)}\n`), /wrong token/);
  assert.throws(() => read(`tsvpp-cni 2 ${TOKEN}\n`), /protocol version "2".*different releases/);
  assert.throws(() => read(`tsvpp-cni 1 ${TOKEN}\nx\n\n`), /stdin length "x"/);
  assert.throws(() => read(`tsvpp-cni 1 ${TOKEN}\n99999999\n\n`), /over the limit/);
  assert.throws(() => read(`tsvpp-cni 1 ${TOKEN}\n0\nHOME=/root\n\n`), /"HOME=\/root" is not one of CNI_COMMAND/);
  assert.throws(() => read(`tsvpp-cni 1 ${TOKEN}\n0\nCNI_IFNAME=a\nCNI_IFNAME=b\n\n`), /CNI_IFNAME given twice/);
  assert.throws(() => read(`tsvpp-cni 1 ${TOKEN}\n2\n\nabc`), /3 bytes of stdin where the header said 2/);
  assert.throws(() => read('x'.repeat(70_000) + '\n'), /not a tsvpp-cni request/);
  assert.equal(read(`tsvpp-cni 1 ${TOKEN}\n2\nCNI_NETNS=\n\n{}`), { env: { CNI_NETNS: '' }, stdin: '{}' });
  assert.equal(INVOCATION_ENV.length, 6);
});

test('through the agent listener: the same requests and answers as the Node tsvpp-cni over the socket', async () => {
  const sock = join(dir, 'agent.sock');
  const seen: AgentRequest[] = [];
  const handler = async (req: AgentRequest): Promise<CniResult | undefined> => {
    seen.push(req);
    if (req.containerId === 'fails') throw new CniError(ErrorCode.Wiring, 'wiring failed', 'veth1: gone');
    return req.command === 'ADD' ? { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: req.netns }], ips: [{ address: '10.1.1.2/24', interface: 0 }] } : undefined;
  };
  const logs: string[] = [];
  const unix = await startCniServer({ socketPath: sock, handler, allowedUid: process.getuid!() });
  const tcp: InvocationServer = await startInvocationServer({ cniSocket: sock, handler, log: (m) => logs.push(m) });
  const shim = shimFor(sock);
  try {
    assert.is(statSync(rendezvousPath(sock)).mode & 0o777, 0o600);
    assert.match(readFileSync(rendezvousPath(sock), 'utf8'), new RegExp(`^${tcp.port} [0-9a-f]{64} [0-9a-f]{64}\\n$`));
    const cases: Array<[Record<string, string>, string]> = [
      [env('ADD'), conf(sock, { cniVersion: '0.4.0' })],
      [env('CHECK'), conf(sock, { prevResult: { cniVersion: '1.0.0' } })],
      [env('DEL', { CNI_NETNS: '' }), conf(sock)],
      [env('ADD', { CNI_CONTAINERID: 'fails' }), conf(sock)],
      [env('ADD', { CNI_IFNAME: 'bad/name' }), conf(sock)],
      [env('ADD'), '{"cniVersion":'],
    ];
    for (const [e, stdin] of cases) {
      seen.length = 0;
      const viaShim = await run(shim, e, stdin);
      const fromShim = [...seen];
      seen.length = 0;
      const node = await run(process.execPath, e, stdin, [CNI_MAIN]);
      assert.equal(viaShim, node, `${e.CNI_COMMAND} ${e.CNI_CONTAINERID} ${e.CNI_IFNAME}: the shim answers as the Node tsvpp-cni`);
      assert.equal(fromShim, seen, 'the agent got the same request');
    }
    const add = await run(shim, env('ADD'), conf(sock, { cniVersion: '0.4.0' }));
    assert.is(add.code, 0);
    assert.equal(JSON.parse(add.stdout).ips, [{ address: '10.1.1.2/24', interface: 0, version: '4' }]);
    const failed = await run(shim, env('ADD', { CNI_CONTAINERID: 'fails' }), conf(sock));
    assert.is(failed.code, 1);
    assert.equal(JSON.parse(failed.stdout), { cniVersion: '1.0.0', code: ErrorCode.Wiring, msg: 'wiring failed', details: 'veth1: gone' });
    // A stranger with the port but not the token: cut off, nothing handled.
    seen.length = 0;
    const s = connect(tcp.port, '127.0.0.1');
    s.on('error', () => {});
    s.end(`tsvpp-cni 1 ${'0'.repeat(64)}\n0\nCNI_COMMAND=DEL\n\n`);
    const reply = await new Promise<string>((r) => { let b = ''; s.on('data', (d) => { b += d; }); s.on('close', () => r(b)); });
    assert.is(reply, '');
    assert.equal(seen, []);
    assert.ok(logs.some((l) => /refused a connection: wrong token/.test(l)), logs.join('\n'));
    // The port full (connections that send nothing): the shim's call goes through the socket.
    const idle: Socket[] = [];
    for (let i = 0; i < MAX_INVOCATION_CONNECTIONS; i++) {
      const c = connect(tcp.port, '127.0.0.1');
      c.on('error', () => {});
      idle.push(c);
      await new Promise((r) => c.once('connect', r));
    }
    const full = await run(shim, env('ADD'), conf(sock, { cniVersion: '0.4.0' }));
    for (const c of idle) c.destroy();
    assert.is(full.code, 0, JSON.stringify(full));
    assert.equal(full.stdout, add.stdout);
    assert.match(full.stderr, /(closed the connection without an answer|sending to the tsvpp agent on \S+ failed): handed to the Node tsvpp-cni/);
  } finally {
    await tcp.close();
    unix.close();
  }
  assert.not.ok(existsSync(rendezvousPath(sock)), 'the rendezvous file goes with the listener');
  // A listener whose file another agent has overwritten leaves that agent's file alone.
  const a = await startInvocationServer({ cniSocket: sock, handler });
  const b = await startInvocationServer({ cniSocket: sock, handler });
  const theirs = readFileSync(rendezvousPath(sock), 'utf8');
  await a.close();
  assert.is(readFileSync(rendezvousPath(sock), 'utf8'), theirs);
  await b.close();
  assert.not.ok(existsSync(rendezvousPath(sock)));
});

test('VERSION, an agent away, one that answers nothing: the Node tsvpp-cni takes over (a DEL is recorded)', async () => {
  const sock = join(dir, 'away.sock');
  const shim = shimFor(sock);
  const stateDir = join(dir, 'state');
  const version = await run(shim, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  assert.equal(JSON.parse(version.stdout), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  // No rendezvous file, no socket.
  const add = await run(shim, env('ADD'), conf(sock));
  assert.is(add.code, 1);
  assert.is(JSON.parse(add.stdout).code, ErrorCode.TryAgainLater);
  assert.match(add.stdout, /not reachable/);
  const del = await run(shim, env('DEL', { CNI_CONTAINERID: 'away1' }), conf(sock));
  assert.is(del.code, 0, del.stdout + del.stderr);
  assert.ok((await listPendingDels(stateDir)).some((p) => p.containerId === 'away1'));
  // A rendezvous file whose port no one listens on.
  writeFileSync(rendezvousPath(sock), `1 ${TOKEN} ${PROOF}\n`, { mode: 0o600 });
  const refused = await run(shim, env('ADD'), conf(sock));
  assert.match(refused.stdout, /not reachable/);
  // An agent that takes the invocation and never answers: a DEL is recorded after timeoutSeconds
  // (not a second wait on the unix socket), naming the wait.
  const held: Socket[] = [];
  const hung = await rawAgent(sock, TOKEN, (s) => { held.push(s); s.resume(); });
  const t0 = Date.now();
  const late = await run(shim, env('DEL', { CNI_CONTAINERID: 'hung1' }), conf(sock, { timeoutSeconds: 1 }));
  assert.is(late.code, 0, late.stdout + late.stderr);
  assert.ok(Date.now() - t0 < 5000);
  const rec = (await listPendingDels(stateDir)).find((p) => p.containerId === 'hung1');
  assert.match(rec?.record?.reason ?? '', new RegExp(`no answer from the tsvpp agent on 127\\.0\\.0\\.1:${hung.port} within 1 s`));
  for (const s of held) s.destroy();
  await hung.close();
  // One that closes without an answer: the Node tsvpp-cni asks the unix socket (here there is
  // none: "try again later"), and stderr says why the shim handed it over.
  const closer = await rawAgent(sock, TOKEN, (s) => { s.resume(); s.on('data', () => s.end()); });
  const cut = await run(shim, env('ADD'), conf(sock));
  assert.is(JSON.parse(cut.stdout).code, ErrorCode.TryAgainLater);
  assert.match(cut.stdout, /not reachable/);
  assert.match(cut.stderr, new RegExp(`tsvpp-cni: the tsvpp agent on 127\\.0\\.0\\.1:${closer.port} closed the connection without an answer: handed to the Node tsvpp-cni`));
  await closer.close();
  // Whatever took the port of an agent that died learns the token, but cannot answer as the agent.
  const impostor = await rawAgent(sock, TOKEN, (s) => { s.on('data', () => s.end(encodeAnswer('ef'.repeat(32), { code: 0, stdout: '{"cniVersion":"1.0.0","ips":[]}\n', stderr: '' }))); });
  const fake = await run(shim, env('ADD'), conf(sock));
  assert.is(fake.code, 1);
  assert.is(JSON.parse(fake.stdout).code, ErrorCode.TryAgainLater);
  assert.match(fake.stderr, /is not the tsvpp agent \(no proof\)/);
  await impostor.close();
  // A value the line format cannot carry goes to the Node tsvpp-cni, which names it.
  const nl = await run(shim, env('ADD', { CNI_IFNAME: 'eth\n0' }), conf(sock));
  assert.is(nl.code, 1);
  assert.match(JSON.parse(nl.stdout).details, /CNI_IFNAME/);
});

test.run();
