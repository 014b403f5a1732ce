// The pod-side memif-agent against a real etcd: a MEMIF key appears → a tsvpp slave connects to the
// master on that socket and exchanges a packet; the key is deleted → the slave goes away.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { MemifInterface, RxBurst, type DisconnectInfo } from '../../src/memif/index.js';
import { MemifAgent, type AgentInterface } from '../../src/cni/memif-agent/agent.js';
import { vnfInterfaceKey, vnfMemifInterface } from '../../src/cni/etcd/vnf-config.js';
import { startEtcd, type EtcdServer } from '../../perf/peers/etcd.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let etcd: EtcdServer;
let client: Etcd3;
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-memif-agent-'));
test.before(async () => { etcd = await startEtcd(); client = new Etcd3({ hosts: etcd.url }); });
test.after(async () => { client?.close(); await etcd?.stop(); rmSync(dir, { recursive: true, force: true }); });

const next = <T>(em: NodeJS.EventEmitter, ev: string, ms = 5000) => new Promise<T>((res, rej) => {
  const t = setTimeout(() => rej(new Error(`no ${ev} within ${ms} ms`)), ms);
  em.once(ev, (x: T) => { clearTimeout(t); res(x); });
});

test('key put → slave up and passing packets; key deleted → slave closed', async () => {
  mkdirSync(join(dir, 'run', 'vpp'), { recursive: true });
  const master = new MemifInterface({ socket: join(dir, 'run', 'vpp', 'memif.sock'), role: 'master', id: 1, secret: 'abc', ifName: 'vpp' });
  const agent = new MemifAgent({ etcd: client, label: 'vnf9', socketRoot: dir });
  try {
    await agent.start();
    const up = next<AgentInterface>(agent, 'up');
    const key = vnfInterfaceKey('vnf9', 'memif1');
    await client.put(key).value(JSON.stringify(vnfMemifInterface({ name: 'memif1', id: 1, socketFilename: '/run/vpp/memif.sock', secret: 'abc' })));
    const ai = await up;
    assert.is(ai.config.name, 'memif1');
    const mc = await master.waitConnected(5000);
    assert.is(mc.peerIfName, 'memif1');
    const sc = await ai.memif.waitConnected(1000);
    const pkt = Uint8Array.from({ length: 100 }, (_, i) => i);
    assert.is(sc.txBurst(0, [pkt], 1, 0), 1);
    const burst = new RxBurst(8, 2048);
    let k = 0;
    for (let i = 0; i < 1000 && k === 0; i++) { k = mc.rxBurst(0, burst); if (!k) await new Promise((r) => setImmediate(r)); }
    assert.is(k, 1);
    const got = new Uint8Array(burst.pktLength[0]!); burst.copyPacket(0, got); mc.release(0, 1);
    assert.equal(got, pkt);
    const gone = next<DisconnectInfo>(master, 'disconnected');
    const removed = next<AgentInterface>(agent, 'removed');
    await client.delete().key(key);
    await removed;
    assert.is((await gone).reason, 'configuration removed');
    assert.is(agent.interfaces.size, 0);
  } finally { await agent.close(); master.close(); }
});

test('tsvpp memif-agent --socket-root refuses a socket_filename that leaves the root, naming it', async () => {
  // A master listens just outside the root: before the check, the agent connected to it.
  const outside = new MemifInterface({ socket: join(dir, 'escape.sock'), role: 'master', id: 1 });
  const root = join(dir, 'pod');
  const agent = spawn(process.execPath, [cli, 'memif-agent', '--microservice-label', 'vnf8', '--etcd', etcd.url, '--socket-root', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  agent.stdout.on('data', (d) => { out += d; });
  agent.stderr.on('data', (d) => { out += d; });
  const key = vnfInterfaceKey('vnf8', 'memif1');
  try {
    await client.put(key).value(JSON.stringify(vnfMemifInterface({ name: 'memif1', id: 1, socketFilename: '/run/vpp/../../../escape.sock', secret: '' })));
    const refusal = `memif-agent: ${key}: memif.socket_filename "/run/vpp/../../../escape.sock" is not below the socket root ${root}`;
    for (const until = Date.now() + 15_000; !out.includes(refusal) && !out.includes('added') && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    assert.ok(out.includes(refusal), out);
    assert.not.match(out, /added memif1/);
    assert.is(outside.connection, null);
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    outside.close();
    await client.delete().key(key);
  }
});

test.run();
