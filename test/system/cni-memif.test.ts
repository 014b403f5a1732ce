// End to end for memif pods (issue 5), on this host (root: a real netns for eth0):
// kubelet stand-in (real device plugin + PodResources protos) → memif device plugin Allocate →
// tsvpp-cni ADD → agent (PodResources lookup, VppVswitch over the vppapi client) → VPP emulator,
// whose memif_create hook starts a tsvpp MemifInterface master where VPP would listen → a tsvpp
// slave that knows only MEMIF_SOCKET/MEMIF_SECRET (mapped through the mount's host path) connects
// and exchanges packets; etcd (Debian's etcd-server) holds the ligato pod-side config; DEL removes
// the VPP memifs, the socket, the dir and the keys.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { MemifInterface, RxBurst, type MemifConnection } from '../../src/memif/index.js';
import { startVppEmulator, type EmulatorHooks, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { addNetns, deleteLinkIfExists, deleteNetns } from '../../src/cni/linux/ip.js';
import { MemifDevicePlugin } from '../../src/cni/deviceplugin/plugin.js';
import { AllocationStore } from '../../src/cni/deviceplugin/allocations.js';
import { PodResourcesClient } from '../../src/cni/podresources/client.js';
import { PodResourcesMemifSource } from '../../src/cni/podresources/memif-source.js';
import { EtcdKeyValueStore, type KeyValueStore } from '../../src/cni/etcd/store.js';
import { KubeletStandin } from '../../src/testing/kubelet-standin.js';
import { hostRange4, parsePrefix4 } from '../../src/cni/ipv4.js';
import { startEtcd, freePort, type EtcdServer } from '../../perf/peers/etcd.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = resolve(here, '../../src/cni/cni-main.cjs');
const API_DIR = shippedApiDir();

const rnd = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-cni-memif-'));
const manifests = join(dir, 'manifests');
const dpDir = join(dir, 'device-plugins');
const podNs = `tsvpp-memif-${rnd}`;
const podNsPath = `/var/run/netns/${podNs}`;
const config: AgentConfig = {
  ...DEFAULT_CONFIG,
  stateDir: join(dir, 'state'), memifSocketDir: join(dir, 'memif'), cniSocket: join(dir, 'cni.sock'),
  vppApiSocket: join(dir, 'api.sock'), podManifests: manifests, nodeName: 'node-memif', eth0Kind: 'tap',
};

let emu: VppEmulator;
let agent: Agent | undefined;
let client: VppClient | undefined;
let kubelet: KubeletStandin;
let plugin: MemifDevicePlugin;
let prClient: PodResourcesClient;
let etcd: EtcdServer;
let etcdRaw: Etcd3;
/** Delegates to a real etcd client; a test points it at a dead port to make etcd unreachable. */
const kv: KeyValueStore & { target: EtcdKeyValueStore } = {
  target: undefined as unknown as EtcdKeyValueStore,
  createIfAbsent: (k, v) => kv.target.createIfAbsent(k, v),
  compareAndDelete: (k, v) => kv.target.compareAndDelete(k, v),
  update: (k, f) => kv.target.update(k, f),
  close: async () => {},
};
// What VPP does for a master memif: listen on the socket. Here: a tsvpp memif master.
const masters = new Map<number, MemifInterface>(); // by memif id (one pod at a time in these tests)
const hooks: EmulatorHooks = {
  onMemifCreate: (r) => {
    assert.ok(r.isMaster);
    masters.set(r.request.id, new MemifInterface({ socket: r.socketFilename, role: 'master', id: r.request.id, secret: r.request.secret, ifName: `vpp-memif${r.socketId}/${r.request.id}` }));
  },
  onMemifDelete: (i) => { masters.get(i.memif!.id)?.close('memif_delete'); masters.delete(i.memif!.id); },
};

function cni(command: string, pod: string, containerId: string, namespace = 'default'): Promise<{ code: number; out: any; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CNI_MAIN], {
      env: {
        PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: podNsPath, CNI_IFNAME: 'eth0',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${containerId}`, CNI_PATH: '/usr/lib/cni',
      },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => res({ code: code ?? -1, out: stdout.trim() ? JSON.parse(stdout) : undefined, stderr }));
    child.stdin.end(JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: config.cniSocket }));
  });
}

async function pump(from: MemifConnection, to: MemifConnection, pkts: Uint8Array[]): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const burst = new RxBurst(64, 2048);
  let sent = 0;
  for (let spins = 0; got.length < pkts.length && spins < 20000; spins++) {
    if (sent < pkts.length) sent += from.txBurst(0, pkts, Math.min(32, pkts.length - sent), sent);
    const k = to.rxBurst(0, burst);
    for (let i = 0; i < k; i++) { const d = new Uint8Array(burst.pktLength[i]!); burst.copyPacket(i, d); got.push(d); }
    to.release(0, k);
    if (k === 0) await new Promise((r) => setImmediate(r));
  }
  return got;
}

const podMemifsInEmu = () => [...emu.state.interfaces.values()].filter((i) => i.kind === 'memif');
/** The pod-side keys of vnf-pod's memif1 and memif2 on the default network, whose gateway is gw. */
const memifKeys = (gw: string) => ['arp/memif1', 'arp/memif2', 'interfaces/memif1', 'interfaces/memif2', 'route/if/memif1', 'route/if/memif2']
  .map((k) => `/vnf-agent/vnf1/config/vpp/v2/${k}${k.startsWith('arp') ? `/${gw}` : k.startsWith('route') ? `/vrf/0/dst/10.1.0.0/16/gw/${gw}` : ''}`);
/** The node's default-network gateway (the first address of its pod slice). */
const nodeGateway = () => hostRange4(parsePrefix4(agent!.node.podSubnet)).gateway;
const etcdKeys = async () => Object.keys(await etcdRaw.getAll().prefix('/vnf-agent/').strings()).sort();
/** Every key in etcd (the pod-side config and the label owner records). */
const allEtcdKeys = async () => (await etcdRaw.getAll().keys()).sort();

test.before(async () => {
  mkdirSync(manifests); mkdirSync(dpDir);
  // No spec.podCIDR: the agent claims a slice (a file in manifests/tsvpp-slices).
  writeFileSync(join(manifests, 'node.yaml'), nodeManifest({ name: 'node-memif', internalIp: '192.0.2.4' }));
  const pod = (name: string, customIf: string, limit: number | undefined, label?: string, namespace = 'default') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${namespace}
  annotations:
    contivpp.io/custom-if: ${customIf}
${label ? `    contivpp.io/microservice-label: ${label}\n` : ''}spec:
  containers:
    - name: vnf
      image: x
${limit ? `      resources:\n        limits:\n          contivpp.io/memif: ${limit}\n` : ''}`;
  writeFileSync(join(manifests, 'pods.yaml'), [
    pod('vnf-pod', 'memif1/memif, memif2/memif', 2, 'vnf1'),
    pod('unadmitted-pod', 'memif1/memif', 1),
    pod('nolimit-pod', 'memif1/memif', undefined),
    pod('other-team-pod', 'tap1/tap', undefined, 'vnf1', 'team-b'),
  ].join('---\n'));
  etcd = await startEtcd();
  etcdRaw = new Etcd3({ hosts: etcd.url });
  kv.target = new EtcdKeyValueStore({ endpoints: [etcd.url], timeoutMs: 2000 });
  kubelet = new KubeletStandin(dpDir, join(dir, 'pod-resources.sock'));
  await kubelet.start();
  const store = new AllocationStore(config.stateDir, config.memifSocketDir);
  plugin = new MemifDevicePlugin({ dir: dpDir, devices: 8, store, pollMs: 200 });
  await plugin.start();
  await kubelet.waitFor(() => (kubelet.plugins.get('contivpp.io/memif')?.devices.length ?? 0) === 8, 5000, 'memif devices');
  const registry = ApiRegistry.fromDir(API_DIR);
  emu = await startVppEmulator({ socketPath: config.vppApiSocket, registry, runtimeDir: dir, hooks, vhostNet: true, kernelTaps: true });
  await addNetns(podNs);
  client = await VppClient.connect({ socket: config.vppApiSocket, registry, name: 'cni-memif-e2e', reconnect: false });
  prClient = new PodResourcesClient(kubelet.podResourcesSocket);
  agent = await startAgent(config, {
    vswitch: new VppVswitch(client), pods: new ManifestPodSource(manifests), log: () => {}, vhostNet: true, // the emulator's kernel taps need none
    memifs: new PodResourcesMemifSource(prClient, store), vnfConfig: kv,
  });
});

test.after(async () => {
  for (const m of masters.values()) m.close();
  try { await agent?.close(); } catch { /* closed */ }
  try { await client?.close(); } catch { /* closed */ }
  prClient?.close();
  try { await emu?.close(); } catch { /* ignore */ }
  await plugin?.close();
  await kubelet?.stop(true);
  etcdRaw?.close();
  await kv.target?.close();
  await etcd?.stop();
  await deleteNetns(podNs).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('memif pod: ADD → VPP masters on the allocated socket, a slave with only MEMIF_SOCKET/MEMIF_SECRET exchanges packets, etcd config; DEL removes it all', async () => {
  const [alloc] = await kubelet.admit('default', 'vnf-pod', [{ name: 'vnf', count: 2 }]);
  const env = alloc!.envs, mount = alloc!.mounts[0]!;
  assert.is(env['MEMIF_SOCKET'], '/run/vpp/memif.sock');
  const add = await cni('ADD', 'vnf-pod', 'm1');
  assert.is(add.code, 0, JSON.stringify(add.out) + add.stderr);
  assert.equal(add.out.interfaces.map((i: any) => i.name), ['eth0', 'memif1', 'memif2']);

  // VPP side: two masters, ids 1 and 2 in annotation order, on the pod's socket, with the pod's secret.
  const memifs = podMemifsInEmu();
  assert.equal(memifs.map((i) => i.memif!.id).sort(), [1, 2]);
  for (const i of memifs) {
    assert.is(i.memif!.secret, env['MEMIF_SECRET']);
    assert.is(emu.state.memifSockets.get(i.memif!.socketId)!.filename, join(mount.host_path, 'memif.sock'));
    assert.ok(i.adminUp);
  }

  // Pod side: MEMIF_SOCKET as seen in the pod, mapped through the mount to the host path.
  const hostSocket = env['MEMIF_SOCKET']!.replace(mount.container_path, mount.host_path);
  const slaves = [1, 2].map((id) => new MemifInterface({ socket: hostSocket, role: 'slave', id, secret: env['MEMIF_SECRET']!, ifName: `pod-memif${id}`, reconnectMs: 50 }));
  try {
    const sc = await Promise.all(slaves.map((s) => s.waitConnected(5000)));
    const mc = await Promise.all([1, 2].map((id) => masters.get(id)!.waitConnected(5000)));
    for (const k of [0, 1]) {
      assert.is(mc[k]!.peerIfName, `pod-memif${k + 1}`);
      const pkts = [60, 1500, 64].map((len, j) => Uint8Array.from({ length: len }, (_, i) => (i + j + k * 3) & 0xff));
      const up = await pump(sc[k]!, mc[k]!, pkts);
      assert.equal(up, pkts, `pod → VPP on memif id ${k + 1}`);
      const down = await pump(mc[k]!, sc[k]!, pkts);
      assert.equal(down, pkts, `VPP → pod on memif id ${k + 1}`);
    }
    // A slave with a wrong secret is refused.
    const bad = new MemifInterface({ socket: hostSocket, role: 'slave', id: 1, secret: 'wrong', ifName: 'intruder', reconnectMs: 5000 });
    const refused = await new Promise<string>((res) => {
      bad.once('connect-failed', (x: { reason: string }) => res(x.reason));
      bad.once('disconnected', (x: { reason: string }) => res(x.reason));
      bad.once('connected', () => res('connected'));
    });
    bad.close();
    assert.is.not(refused, 'connected');
  } finally { slaves.forEach((s) => s.close()); }

  // etcd: the ligato pod-side config per memif: the interface, the gateway's ARP entry, the route.
  const P = '/vnf-agent/vnf1/config/vpp/v2/', gw = nodeGateway();
  assert.equal(await etcdKeys(), memifKeys(gw));
  const v = JSON.parse((await etcdRaw.get(`${P}interfaces/memif2`).string())!);
  assert.equal(v.memif, { mode: 'ETHERNET', master: false, id: 2, socket_filename: '/run/vpp/memif.sock', secret: env['MEMIF_SECRET'] });
  assert.is(v.type, 'MEMIF');
  assert.is(v.enabled, true);
  assert.match(v.phys_address, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  assert.is(parseInt(v.phys_address.slice(0, 2), 16) & 3, 2, 'a locally administered unicast MAC');
  assert.is(v.ip_addresses.length, 1);
  const addr2 = add.out.ips.find((x: any) => x.interface === 2).address;
  assert.is(v.ip_addresses[0], addr2);
  const vppMemif2 = podMemifsInEmu().find((i) => i.memif!.id === 2)!;
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
  assert.equal(JSON.parse((await etcdRaw.get(`${P}arp/memif2/${gw}`).string())!), { interface: 'memif2', ip_address: gw, phys_address: hex(vppMemif2.mac), static: true });
  assert.equal(JSON.parse((await etcdRaw.get(`${P}route/if/memif2/vrf/0/dst/10.1.0.0/16/gw/${gw}`).string())!), { dst_network: '10.1.0.0/16', next_hop_addr: gw, outgoing_interface: 'memif2' });
  // VPP's side: the static neighbour of the pod end's address, with the MAC the key gives it.
  const n = [...emu.state.neighbors.values()].find((x) => x.swIfIndex === vppMemif2.swIfIndex);
  assert.ok(n, 'a neighbour on the VPP memif');
  assert.equal([[...n!.ipAddress.un.ip4!].join('.'), hex(n!.mac), n!.flags & 1], [addr2.split('/')[0], v.phys_address, 1]);

  const del = await cni('DEL', 'vnf-pod', 'm1');
  assert.is(del.code, 0, JSON.stringify(del.out) + del.stderr);
  assert.equal(podMemifsInEmu(), []);
  assert.equal([...emu.state.memifSockets.keys()].filter((k) => k !== 0), []);
  assert.not.ok(existsSync(mount.host_path), 'socket dir removed');
  assert.equal(await allEtcdKeys(), [], 'the config keys and the label owner record are gone');
  assert.equal(masters.size, 0);
  assert.equal(readdirSync(join(config.stateDir, 'pods')), []);
  kubelet.forget('default', 'vnf-pod');
});

test('memif in custom-if but kubelet allocated no memif device: ADD fails saying so, nothing left', async () => {
  const add = await cni('ADD', 'unadmitted-pod', 'm2');
  assert.is.not(add.code, 0);
  assert.is(add.out.code, 101);
  assert.match(add.out.details, /memif interface\(s\) memif1, but kubelet allocated no "contivpp\.io\/memif" device to pod default\/unadmitted-pod/);
  assert.equal(podMemifsInEmu(), []);
  assert.equal(readdirSync(join(config.stateDir, 'pods')), []);
});

test('memif in custom-if without the resource in limits: ADD fails with an annotation error', async () => {
  const add = await cni('ADD', 'nolimit-pod', 'm3');
  assert.is(add.out.code, 100);
  assert.match(add.out.details, /memif interface\(s\) \(memif1\) but the pod requests 0 "contivpp\.io\/memif"/);
});

test('etcd unreachable at ADD: a clear CNI error and nothing left behind (VPP, socket dir, pod record, keys)', async () => {
  const [alloc] = await kubelet.admit('default', 'vnf-pod', [{ name: 'vnf', count: 2 }]);
  const live = kv.target;
  const dead = new EtcdKeyValueStore({ endpoints: [`http://127.0.0.1:${await freePort()}`], timeoutMs: 1000 });
  try {
    // Unreachable from the start: the label claim, the first thing ADD does, fails; nothing was made.
    kv.target = dead;
    const early = await cni('ADD', 'vnf-pod', 'm4');
    assert.is(early.out.code, 103, JSON.stringify(early.out));
    assert.match(early.out.msg, /etcd auto-configuration failed/);
    assert.match(early.out.details, /contivpp\.io\/microservice-label vnf1: etcd http:\/\/127\.0\.0\.1:\d+: update \/tsvpp\/microservice-label\/vnf1/);
    assert.equal(podMemifsInEmu(), []);
    assert.ok(existsSync(alloc!.mounts[0]!.host_path), "the device plugin's socket dir is as it was");
    assert.equal(readdirSync(join(config.stateDir, 'pods')), []);
    // Gone after the claim: the config write fails once the VPP memifs exist. Everything but etcd's
    // part is rolled back; the record keeps the claim (etcd did not answer) for the runtime's DEL.
    kv.target = dead;
    kv.update = (k, f) => live.update(k, f);
    const add = await cni('ADD', 'vnf-pod', 'm4');
    assert.is.not(add.code, 0);
    assert.is(add.out.code, 103);
    assert.match(add.out.msg, /etcd auto-configuration failed/);
    assert.match(add.out.details, /contivpp\.io\/microservice-label vnf1: etcd http:\/\/127\.0\.0\.1:\d+: create \/vnf-agent\/vnf1\/config\/vpp\/v2\/interfaces\/memif1/);
    assert.match(add.out.details, /rollback left label-claim: not tried: etcd http/);
    assert.equal(podMemifsInEmu(), []);
    assert.equal(masters.size, 0);
    assert.not.ok(existsSync(alloc!.mounts[0]!.host_path), 'socket dir removed by the rollback');
    assert.equal((await agent!.store.loadPod('m4'))?.resources.map((r) => r.kind), ['label-claim']);
  } finally { await dead.close(); kv.target = live; kv.update = (k, f) => kv.target.update(k, f); }
  // etcd back: the runtime's DEL releases the claim; nothing is left.
  assert.is((await cni('DEL', 'vnf-pod', 'm4')).code, 0);
  assert.equal(readdirSync(join(config.stateDir, 'pods')), []);
  assert.equal(await allEtcdKeys(), []);
  // With etcd back, the same pod's ADD succeeds (the dir is created again) and DEL cleans up.
  const add = await cni('ADD', 'vnf-pod', 'm5');
  assert.is(add.code, 0, JSON.stringify(add.out) + add.stderr);
  assert.ok(existsSync(alloc!.mounts[0]!.host_path));
  assert.is((await etcdKeys()).length, 6);
  assert.is((await cni('DEL', 'vnf-pod', 'm5')).code, 0);
  assert.equal(await allEtcdKeys(), []);
  kubelet.forget('default', 'vnf-pod');
});

test("a key someone else owns is not overwritten: ADD fails, their key stays", async () => {
  await kubelet.admit('default', 'vnf-pod', [{ name: 'vnf', count: 2 }]);
  const key = '/vnf-agent/vnf1/config/vpp/v2/interfaces/memif2';
  await etcdRaw.put(key).value('{"name":"memif2","owner":"someone else"}');
  const add = await cni('ADD', 'vnf-pod', 'm6');
  assert.is(add.out.code, 103);
  assert.match(add.out.details, /exists already with another value/);
  assert.is(await etcdRaw.get(key).string(), '{"name":"memif2","owner":"someone else"}');
  assert.equal(await allEtcdKeys(), [key], 'memif1 (written first) and the label claim were rolled back');
  assert.equal(podMemifsInEmu(), []);
  await etcdRaw.delete().key(key);
  kubelet.forget('default', 'vnf-pod');
});

test('a microservice label held by a pod of one namespace: a pod of another namespace gets error 100 naming it; free once the holder is gone', async () => {
  await kubelet.admit('default', 'vnf-pod', [{ name: 'vnf', count: 2 }]);
  assert.is((await cni('ADD', 'vnf-pod', 'm7')).code, 0);
  const refused = await cni('ADD', 'other-team-pod', 'o1', 'team-b');
  assert.is(refused.out.code, 100, JSON.stringify(refused.out));
  assert.is(refused.out.details, 'contivpp.io/microservice-label: microservice label vnf1 belongs to namespace default (the namespace of the first pod that used it, while any pod there holds it)');
  assert.equal(await etcdKeys(), memifKeys(nodeGateway()), "default's keys untouched");
  assert.equal(readdirSync(join(config.stateDir, 'pods')), ['m7.json']);
  assert.is((await cni('DEL', 'vnf-pod', 'm7')).code, 0);
  kubelet.forget('default', 'vnf-pod');
  assert.equal(await allEtcdKeys(), []);
  const taken = await cni('ADD', 'other-team-pod', 'o1', 'team-b');
  assert.is(taken.code, 0, JSON.stringify(taken.out) + taken.stderr);
  assert.equal(JSON.parse((await etcdRaw.get('/tsvpp/microservice-label/vnf1').string())!), { namespace: 'team-b', holders: ['o1'] });
  assert.is((await cni('DEL', 'other-team-pod', 'o1', 'team-b')).code, 0);
  assert.equal(await allEtcdKeys(), []);
});

test.run();
