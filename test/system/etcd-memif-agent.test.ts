// The pod-side memif-agent against a real etcd: a MEMIF key appears → a tsvpp slave connects to the
// master on that socket and exchanges a packet; the key is deleted → the slave goes away. With an
// address, ARP and route keys (what the CNI agent writes for a labelled pod) it answers ARP and
// ping on the memif and pings through its gateway: the master side here is the gateway, an IpHost
// at the address and MAC the ARP key names.
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
import { vnfArpKey, vnfInterfaceKey, vnfMemifInterface, vnfRouteKey } from '../../src/cni/etcd/vnf-config.js';
import { IpHost } from '../../src/cni/memif-agent/ip-host.js';
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

test('address, ARP and route keys: the agent answers ARP and ping at its address, pings the gateway without ARP (static entry) and routes through it', async () => {
  mkdirSync(join(dir, 'ip', 'run', 'vpp'), { recursive: true });
  const GW_MAC = '02:00:0a:01:01:01', POD_MAC = '02:11:22:33:44:55';
  const master = new MemifInterface({ socket: join(dir, 'ip', 'run', 'vpp', 'memif.sock'), role: 'master', id: 1, secret: 's', ifName: 'vpp' });
  const agent = new MemifAgent({ etcd: client, label: 'vnfip', socketRoot: join(dir, 'ip') });
  const keys: string[] = [];
  const put = async (k: string, v: unknown) => { keys.push(k); await client.put(k).value(JSON.stringify(v)); };
  let gw: IpHost | undefined;
  try {
    // The keys before the agent starts (the CNI agent wrote them at ADD), ARP and route first.
    await put(vnfArpKey('vnfip', { interface: 'memif1', ip_address: '10.1.1.1' }), { interface: 'memif1', ip_address: '10.1.1.1', phys_address: GW_MAC, static: true });
    await put(vnfRouteKey('vnfip', { dst_network: '10.1.0.0/16', next_hop_addr: '10.1.1.1', outgoing_interface: 'memif1' }), { dst_network: '10.1.0.0/16', next_hop_addr: '10.1.1.1', outgoing_interface: 'memif1' });
    await put(vnfInterfaceKey('vnfip', 'memif1'), vnfMemifInterface({ name: 'memif1', id: 1, socketFilename: '/run/vpp/memif.sock', secret: 's', mac: POD_MAC, ipAddresses: ['10.1.1.5/32'] }));
    const up = next<AgentInterface>(agent, 'up');
    await agent.start();
    const ai = await up;
    assert.ok(ai.host, 'an IpHost on the connected interface');
    assert.is(ai.host!.nextHop('10.1.7.9'), '10.1.1.1', 'the route key: the pod network via the gateway');
    gw = new IpHost(await master.waitConnected(5000), { mac: GW_MAC, ip: '10.1.1.1' });
    gw.start();
    // The gateway pings the pod: ARP for 10.1.1.5 answered with phys_address, then the echo.
    const r = await gw.ping('10.1.1.5', 7);
    assert.equal([r.from, r.seq], ['10.1.1.5', 7]);
    assert.is(ai.host!.seen.arpRequests, 1);
    assert.is(ai.host!.seen.echoRequests >= 1, true);
    // The pod pings the gateway: the static entry means no ARP request reaches the gateway.
    const p = await agent.ping('memif1', '10.1.1.1');
    assert.is(p.from, '10.1.1.1');
    assert.is(gw.seen.arpRequests, 0, 'no ARP for the gateway: its MAC came from the ARP key');
    assert.is(gw.seen.badChecksums + ai.host!.seen.badChecksums, 0);
    // The ARP key goes: the pod asks by ARP next time.
    await client.delete().key(keys[0]!);
    await new Promise((res) => setTimeout(res, 500)); // the watch delivers the delete
    await agent.ping('memif1', '10.1.1.1');
    assert.is(gw.seen.arpRequests, 1, 'ARP once the static entry is gone');
    const e = await agent.ping('memif9', '10.1.1.1').then(() => null, (x: Error) => x);
    assert.match(e?.message ?? '', /no interface memif9/);
  } finally {
    gw?.stop();
    for (const k of keys) await client.delete().key(k);
    await agent.close();
    master.close();
  }
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
