// contivpp.io/microservice-label memif pods pass IP traffic on real VPP, configured only from what the
// agent writes to etcd (a real etcd): for pod vnf-a the keys are applied to a second VPP, the pod's
// own, exactly as ligato vpp-agent would (interface, static ARP entry for the gateway, route to the
// pod network); for pod vnf-b, without VPP, `tsvpp memif-agent` (MemifAgent) reads them. Both ping
// the vswitch gateway and another pod over the memif with one echo each (no packet lost to ARP on
// either side: the static entries), and that pod pings them back. The vswitch has the static
// neighbour for each memif address with the MAC the interface key gives the pod end. DEL removes
// every key and the neighbour.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdServer } from '../../perf/peers/etcd.js';
import { vnfPod } from '../../perf/soak/cni-rig.js';
import { MemifAgent } from '../../src/cni/memif-agent/agent.js';
import { vnfVppPrefix } from '../../src/cni/etcd/vnf-config.js';
import type { VppClient } from '../../src/vppapi/client/index.js';
import { CniNode } from './support/cni-node.js';
import { GATEWAY, ipOf } from './support/cni-pods.js';
import { Vpp } from './support/vpp.js';
import { applyAsVppAgent } from './support/vpp-agent-apply.js';

const MANIFESTS = [vnfPod('vnf-a', 'vnf1'), vnfPod('vnf-b', 'vnf2'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: c\n      image: x\n'].join('---\n');

let etcd: EtcdServer;
let kv: Etcd3;
let node: CniNode;
let podVpp: Vpp | undefined;
let podApi: VppClient | undefined;
let agent: MemifAgent | undefined;
const root = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-label-'));
const pods: Record<string, { id: string; ns: string; add: any; hostSocket: (p: string) => string }> = {};

test.before(async () => {
  etcd = await startEtcd();
  kv = new Etcd3({ hosts: etcd.url });
  node = await CniNode.start(MANIFESTS, { etcdEndpoints: [etcd.url] });
  for (const name of ['web', 'vnf-a', 'vnf-b']) {
    let hostSocket = (p: string) => p;
    if (name !== 'web') {
      const [alloc] = await node.kubelet.admit('default', name, [{ name: 'vnf', count: 1 }]);
      const m = alloc!.mounts[0]!;
      hostSocket = (p: string) => p.replace(m.container_path, m.host_path);
    }
    const ns = await node.newNetns(), id = `l${name.replace('-', '')}${node.rnd}`;
    pods[name] = { id, ns, add: await node.add(name, id, ns), hostSocket };
  }
});

test.after(async () => {
  await agent?.close();
  await podApi?.close().catch(() => undefined);
  await podVpp?.stop();
  await node?.close();
  kv?.close();
  await etcd?.stop();
  rmSync(root, { recursive: true, force: true });
});

const keysOf = async (label: string) => kv.getAll().prefix(vnfVppPrefix(label)).strings();

test('the keys: interface (slave, phys_address, address), the gateway\'s static ARP entry (VPP\'s memif MAC), the route to the pod network; VPP\'s neighbour for the pod end', async () => {
  const a = pods['vnf-a']!;
  const addr = ipOf(a.add, 'memif1');
  const keys = await keysOf('vnf1');
  const p = vnfVppPrefix('vnf1');
  assert.equal(Object.keys(keys).sort(), [
    `${p}arp/memif1/${GATEWAY}`, `${p}interfaces/memif1`, `${p}route/if/memif1/vrf/0/dst/10.1.0.0/16/gw/${GATEWAY}`,
  ]);
  const ifc = JSON.parse(keys[`${p}interfaces/memif1`]!);
  assert.equal(ifc.ip_addresses, [`${addr}/32`]);
  assert.equal([ifc.type, ifc.memif.master, ifc.memif.id, ifc.memif.socket_filename], ['MEMIF', false, 1, '/run/vpp/memif.sock']);
  const arp = JSON.parse(keys[`${p}arp/memif1/${GATEWAY}`]!);
  const rec = (await node.agent!.store.loadPod(a.id))!;
  const sw = rec.interfaces.find((i) => i.name === 'memif1')!.swIfIndex!;
  assert.equal(arp, { interface: 'memif1', ip_address: GATEWAY, phys_address: (await node.vppInterfaces()).get(sw)!.mac, static: true });
  assert.equal(JSON.parse(keys[`${p}route/if/memif1/vrf/0/dst/10.1.0.0/16/gw/${GATEWAY}`]!), { dst_network: '10.1.0.0/16', next_hop_addr: GATEWAY, outgoing_interface: 'memif1' });
  const n = (await node.vppNeighbors()).find((x) => x.ip === addr);
  assert.ok(n?.static && n.swIfIndex === sw, `static neighbour for ${addr} on the memif: ${JSON.stringify(await node.vppNeighbors())}`);
  assert.is(n!.mac, ifc.phys_address);
});

test('a pod whose VPP is configured from the keys as vpp-agent would: one echo each to the gateway and to another pod, and back', async () => {
  const a = pods['vnf-a']!, web = ipOf(pods['web']!.add, 'eth0'), addr = ipOf(a.add, 'memif1');
  podVpp = await Vpp.start();
  podApi = await podVpp.connect();
  const applied = await applyAsVppAgent(podApi, 'vnf1', await keysOf('vnf1'), a.hostSocket);
  assert.equal([applied.interfaces.size, applied.arps, applied.routes], [1, 1, 1]);
  const sw = applied.interfaces.get('memif1')!;
  await node.waitFor('the pod VPP\'s memif connected', async () => {
    const d = await podApi!.dump<any>('sw_interface_dump', { sw_if_index: sw, name_filter_valid: false, name_filter: '' });
    return (d[0]?.flags & 2) ? true : undefined;
  });
  const ping = async (v: Vpp, target: string) => /1 sent, 1 received/.test(await v.cli(`ping ${target} repeat 1`));
  assert.ok(await ping(podVpp, GATEWAY), 'pod VPP -> gateway, the first echo');
  assert.ok(await ping(podVpp, web), 'pod VPP -> web pod, the first echo');
  const back = await node.ping(pods['web']!.ns, addr);
  assert.is(back.received, 1, `web -> the pod's memif address\n${back.output}`);
});

test('a pod without VPP: tsvpp memif-agent reads the keys, answers ARP and ping, pings the gateway and another pod', async () => {
  const b = pods['vnf-b']!, web = ipOf(pods['web']!.add, 'eth0'), addr = ipOf(b.add, 'memif1');
  // The pod's filesystem as the memif-agent sees it: /run/vpp is the device plugin's dir.
  const podRoot = join(root, 'vnf-b');
  mkdirSync(join(podRoot, 'run'), { recursive: true });
  symlinkSync(dirname(b.hostSocket('/run/vpp/memif.sock')), join(podRoot, 'run', 'vpp'));
  agent = new MemifAgent({ etcd: kv, label: 'vnf2', socketRoot: podRoot });
  await agent.start();
  const ai = [...agent.interfaces.values()][0]!;
  await ai.memif.waitConnected(20_000);
  const g = await agent.ping('memif1', GATEWAY);
  assert.equal([g.from, g.sent], [GATEWAY, 1], 'memif-agent -> gateway, the first echo');
  const w = await agent.ping('memif1', web);
  assert.equal([w.from, w.sent], [web, 1], 'memif-agent -> web pod through the gateway, the first echo');
  const back = await node.ping(pods['web']!.ns, addr);
  assert.is(back.received, 1, `web -> the memif-agent's address\n${back.output}`);
  assert.is(ai.host!.seen.badChecksums, 0);
});

test('DEL: every key of both labels and the label claims gone from etcd, the neighbours and everything else from VPP', async () => {
  await agent?.close();
  agent = undefined;
  const addrs = Object.values(pods).flatMap((p) => p.add.ips.map((x: any) => x.address));
  for (const [name, p] of Object.entries(pods)) {
    const d = await node.cni('DEL', name, p.id, p.ns);
    assert.is(d.code, 0, JSON.stringify(d.out));
    await node.dropNetns(p.ns);
    if (name !== 'web') node.kubelet.forget('default', name);
  }
  assert.equal(Object.keys(await kv.getAll().prefix('/vnf-agent/').strings()), []);
  assert.equal(Object.keys(await kv.getAll().prefix('/tsvpp/').strings()), []);
  const left = Object.fromEntries(Object.entries(await node.leftovers(addrs)).filter(([, v]) => v.length > 0));
  assert.equal(left, {});
});

test.run();
