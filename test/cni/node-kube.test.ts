// Node identity through the Kubernetes API (the real client library against an API stand-in):
// slices from spec.podCIDR or Lease claims, the Node watch, the published node address.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiStandin } from '../../src/testing/kube-api-standin.js';
import { KubeNodeDirectory, LEASE_PREFIX, SLICE_ANNOTATION, SLICE_LABEL } from '../../src/cni/nodes/kube-nodes.js';
import { establishIdentity } from '../../src/cni/nodes/identity.js';
import { DirectoryNodeSource } from '../../src/cni/nodes/node-source.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-kube-nodes-'));
const api = new KubeApiStandin();
let kubeconfig = '';
const cluster = { podSubnet: '10.1.0.0/16', nodePrefixLen: 24 };
const NS = 'kube-system';
test.before(async () => { await api.start(); kubeconfig = join(dir, 'kubeconfig'); writeFileSync(kubeconfig, api.kubeconfig()); });
test.after(async () => { await api.stop(); rmSync(dir, { recursive: true, force: true }); });

const node = (name: string, ip?: string, podCIDR?: string) => ({
  metadata: { name }, spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
  status: { addresses: ip ? [{ type: 'InternalIP', address: ip }] : [] },
});
const directory = () => KubeNodeDirectory.create({ kubeconfig, namespace: NS });
const identity = async (name: string, extra: { nodeIp?: string; log?: (m: string) => void } = {}) =>
  establishIdentity(await directory(), { ...cluster, nodeName: name, log: () => {}, ...extra });

test('Lease claims: agents starting at once get different slices, each Lease held by and owned by its Node; a restart finds its own', async () => {
  const names = ['k1', 'k2', 'k3', 'k4', 'k5'];
  names.forEach((n, i) => api.putNode(node(n, `192.0.2.${i + 1}`)));
  api.putNode(node('given', '192.0.2.50', '10.1.0.0/24'));
  const ids = await Promise.all(names.map((n) => identity(n)));
  const slices = ids.map((x) => x.podSubnet);
  assert.is(new Set(slices).size, names.length, slices.join(' '));
  assert.not.ok(slices.includes('10.1.0.0/24'), 'a slice the cluster gave another node is never claimed');
  assert.ok(ids.every((x) => x.source === 'new claim'));
  const leases = api.leases(NS);
  assert.is(leases.length, names.length);
  for (const [i, n] of names.entries()) {
    const l = leases.find((x) => (x.spec as { holderIdentity?: string }).holderIdentity === n)!;
    assert.is(l.metadata.name, LEASE_PREFIX + slices[i]!.replace(/[./]/g, '-'));
    assert.is(l.metadata.annotations![SLICE_ANNOTATION], slices[i]);
    assert.ok(l.metadata.labels![SLICE_LABEL]);
    assert.equal(l.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: n, uid: api.node(n)!.metadata.uid }]);
  }
  const again = await identity('k3');
  assert.equal([again.podSubnet, again.source], [slices[2], 'claim']);
  assert.is(api.leases(NS).length, names.length, 'no second Lease');
  // The cluster allocates a podCIDR later: the node takes it and frees its Lease.
  api.putNode(node('k3', '192.0.2.3', '10.1.200.0/24'));
  const log: string[] = [];
  const k3 = await identity('k3', { log: (m) => log.push(m) });
  assert.equal([k3.podSubnet, k3.source, k3.sliceIndex], ['10.1.200.0/24', 'podCIDR', 200]);
  assert.is(api.leases(NS).length, names.length - 1);
  assert.match(log.join('\n'), /released claim of /);
  for (const n of [...names, 'given']) api.deleteNode(n);
  for (const l of api.leases(NS)) api.deleteLease(NS, l.metadata.name);
});

test('--node-ip is published on the Node (annotation, merge patch) and others read it', async () => {
  api.putNode(node('pub', '192.0.2.10', '10.1.10.0/24'));
  const log: string[] = [];
  const n = await identity('pub', { nodeIp: '198.51.100.10', log: (m) => log.push(m) });
  assert.is(n.internalIp, '198.51.100.10');
  assert.is(api.node('pub')!.metadata.annotations!['tsvpp.io/node-ip'], '198.51.100.10');
  assert.ok(api.requests.includes('PATCH /api/v1/nodes/pub'));
  assert.match(log.join('\n'), /published node address 198\.51\.100\.10 \(annotation tsvpp\.io\/node-ip on Node pub; its InternalIP is 192\.0\.2\.10\)/);
  const d = await directory();
  assert.equal((await d.listNodes()).find((x) => x.name === 'pub')?.annotatedIp, '198.51.100.10');
  api.deleteNode('pub');
});

test('Node watch: joins, leaves, slice claims of other nodes and address changes reach the node set without a restart', async () => {
  api.putNode(node('w1', '192.0.2.1', '10.1.1.0/24'));
  const d = await directory();
  const log: string[] = [];
  const src = await DirectoryNodeSource.open(d, cluster, (m) => log.push(m));
  let changes = 0;
  src.onChange(() => { changes++; });
  const set = async () => (await src.list()).map((n) => `${n.name} ${n.internalIp} ${n.podSubnet}`);
  const until = async (what: string, want: string[]) => {
    const end = Date.now() + 10_000;
    while (JSON.stringify(await set()) !== JSON.stringify(want)) {
      if (Date.now() > end) assert.unreachable(`${what}: ${JSON.stringify(await set())}; log: ${log.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    assert.equal(await set(), ['w1 192.0.2.1 10.1.1.0/24']);
    api.putNode(node('w2', '192.0.2.2', '10.1.2.0/24'));
    await until('w2 joins', ['w1 192.0.2.1 10.1.1.0/24', 'w2 192.0.2.2 10.1.2.0/24']);
    api.putNode(node('w3', '192.0.2.3'));
    await identity('w3'); // w3's agent claims a slice: a Lease, seen through the Lease watch
    await until('w3 claims a slice', ['w1 192.0.2.1 10.1.1.0/24', 'w2 192.0.2.2 10.1.2.0/24', 'w3 192.0.2.3 10.1.0.0/24']);
    api.putNode(node('w2', '192.0.2.22', '10.1.2.0/24'));
    await until('w2 changes address', ['w1 192.0.2.1 10.1.1.0/24', 'w2 192.0.2.22 10.1.2.0/24', 'w3 192.0.2.3 10.1.0.0/24']);
    api.deleteNode('w1');
    await until('w1 leaves', ['w2 192.0.2.22 10.1.2.0/24', 'w3 192.0.2.3 10.1.0.0/24']);
    assert.is(changes, 4);
  } finally { await src.close(); }
  assert.ok(api.requests.some((r) => r === 'GET /api/v1/nodes'), 'listed');
  for (const n of ['w2', 'w3']) api.deleteNode(n);
  for (const l of api.leases(NS)) api.deleteLease(NS, l.metadata.name);
});

test('API errors name what failed', async () => {
  const d = await KubeNodeDirectory.create({ kubeconfig, namespace: NS });
  await api.stop();
  try { await d.listNodes(); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /listing Nodes failed/); }
  await api.start();
  writeFileSync(kubeconfig, api.kubeconfig());
});

test.run();
