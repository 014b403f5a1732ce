// Node identity without an API server: Node objects in a manifests dir, slice claims as files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFromObject, NodeObjectError } from '../../src/cni/nodes/node-object.js';
import { FileSliceClaims } from '../../src/cni/nodes/claims.js';
import { clusterNodes, establishIdentity, IdentityError, type NodeDirectory } from '../../src/cni/nodes/identity.js';
import { CLAIMS_SUBDIR, ManifestNodeDirectory } from '../../src/cni/nodes/manifest-nodes.js';
import { DirectoryNodeSource } from '../../src/cni/nodes/node-source.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-nodes-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const cluster = { podSubnet: '10.1.0.0/16', nodePrefixLen: 24 };
const quiet = () => {};

function world(): { d: string; dir: ManifestNodeDirectory; node(o: Parameters<typeof nodeManifest>[0]): void } {
  const d = mkdtempSync(join(dir, 'w-'));
  return { d, dir: new ManifestNodeDirectory(d, 50), node: (o) => writeFileSync(join(d, `${o.name}.yaml`), nodeManifest(o)) };
}
const identity = (dir: NodeDirectory, nodeName: string, extra: Partial<Parameters<typeof establishIdentity>[1]> = {}) =>
  establishIdentity(dir, { ...cluster, nodeName, log: quiet, ...extra });
async function identityErr(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { assert.instance(e, IdentityError); return (e as Error).message; }
  assert.unreachable('expected IdentityError'); return '';
}

test('Node objects: IPv4 podCIDR of a dual-stack node, first IPv4 InternalIP, the published address; errors name the field', () => {
  const n = nodeFromObject({ kind: 'Node', metadata: { name: 'w1', uid: 'u1', annotations: { 'tsvpp.io/node-ip': '192.0.2.9' } },
    spec: { podCIDR: 'fd00::/64', podCIDRs: ['fd00::/64', '10.1.5.0/24'] },
    status: { addresses: [{ type: 'Hostname', address: 'w1' }, { type: 'InternalIP', address: 'fd00::5' }, { type: 'InternalIP', address: '192.0.2.5' }] } }, 'x');
  assert.equal(n, { name: 'w1', uid: 'u1', podCIDR: '10.1.5.0/24', internalIp: '192.0.2.5', annotatedIp: '192.0.2.9' });
  assert.equal(nodeFromObject({ metadata: { name: 'bare' } }, 'x'), { name: 'bare' });
  const bad = (o: unknown) => { try { nodeFromObject(o, 'f.yaml'); } catch (e) { assert.instance(e, NodeObjectError); return (e as Error).message; } return ''; };
  assert.match(bad({ metadata: {} }), /f\.yaml: Node without metadata\.name/);
  assert.match(bad({ metadata: { name: 'a' }, spec: { podCIDR: '10.1.5.1/24' } }), /Node a: spec\.podCIDR 10\.1\.5\.1\/24 has host bits set/);
  assert.match(bad({ metadata: { name: 'a' }, status: { addresses: [{ type: 'InternalIP' }] } }), /Node a: status\.addresses entry .* needs type and address/);
  assert.match(bad({ metadata: { name: 'a', annotations: { 'tsvpp.io/node-ip': 'x' } } }), /Node a: annotation tsvpp\.io\/node-ip "x" is not an IPv4 address/);
});

test('identity: spec.podCIDR when the cluster allocates it (any claim the node held is released); slice index for L3 networks', async () => {
  const w = world();
  w.node({ name: 'a', internalIp: '192.0.2.1' });
  const first = await identity(w.dir, 'a');
  assert.equal([first.podSubnet, first.sliceIndex, first.source, first.internalIp], ['10.1.0.0/24', 0, 'new claim', '192.0.2.1']);
  w.node({ name: 'a', internalIp: '192.0.2.1', podCIDR: '10.1.42.0/24' });
  const log: string[] = [];
  const n = await identity(w.dir, 'a', { log: (m) => log.push(m) });
  assert.equal([n.podSubnet, n.sliceIndex, n.source], ['10.1.42.0/24', 42, 'podCIDR']);
  assert.equal(await w.dir.claims.list(), [], 'the claim is released');
  assert.match(log.join('\n'), /released claim of 10\.1\.0\.0\/24: the cluster allocated spec\.podCIDR 10\.1\.42\.0\/24/);
  w.node({ name: 'a', internalIp: '192.0.2.1', podCIDR: '10.244.3.0/24' });
  assert.match(await identityErr(identity(w.dir, 'a')), /Node a has spec\.podCIDR 10\.244\.3\.0\/24, which is not a \/24 slice of the pod subnet 10\.1\.0\.0\/16: set podSubnet/);
});

test('identity: a claimed slice is found again after a restart; the preferred (remembered) slice is claimed first; claims skip allocated podCIDRs', async () => {
  const w = world();
  w.node({ name: 'b', internalIp: '192.0.2.2', podCIDR: '10.1.0.0/24' });
  w.node({ name: 'a', internalIp: '192.0.2.1' });
  w.node({ name: 'c', internalIp: '192.0.2.3' });
  const a = await identity(w.dir, 'a');
  assert.is(a.podSubnet, '10.1.1.0/24', 'slice 0 is b\'s spec.podCIDR');
  assert.equal((await identity(w.dir, 'a')).source, 'claim');
  assert.is((await identity(w.dir, 'a')).podSubnet, '10.1.1.0/24');
  const c = await identity(w.dir, 'c', { preferredSlice: '10.1.7.0/24' });
  assert.equal([c.podSubnet, c.sliceIndex], ['10.1.7.0/24', 7]);
  assert.equal(readdirSync(join(w.d, CLAIMS_SUBDIR)).sort(), ['10-1-1-0-24.json', '10-1-7-0-24.json']);
  const d = await identity(w.dir, 'c', { preferredSlice: '10.1.1.0/24' });
  assert.is(d.podSubnet, '10.1.7.0/24', 'a held claim wins over a preferred slice another node holds');
});

test('identity: errors name the node and what to do', async () => {
  const w = world();
  assert.match(await identityErr(identity(w.dir, 'ghost')), /Node ghost not found in manifests dir .*: the agent takes this node's pod slice and address from its Node object/);
  w.node({ name: 'noip' });
  assert.match(await identityErr(identity(w.dir, 'noip')), /Node noip in manifests dir .* has no InternalIP in status\.addresses: set nodeIp\/--node-ip/);
  w.node({ name: 'other', internalIp: '192.0.2.1' });
  assert.match(await identityErr(identity(w.dir, 'other', { nodeIp: '192.0.2.99' })),
    /gives other nodes the address 192\.0\.2\.1, but nodeIp is 192\.0\.2\.99: add the annotation tsvpp\.io\/node-ip: "192\.0\.2\.99" to that Node/);
  w.node({ name: 'pub', internalIp: '192.0.2.1', annotations: { 'tsvpp.io/node-ip': '192.0.2.99' } });
  assert.is((await identity(w.dir, 'pub', { nodeIp: '192.0.2.99' })).internalIp, '192.0.2.99');
  // A /30 pod subnet split in /30: one slice.
  const tiny = world();
  tiny.node({ name: 'x', internalIp: '192.0.2.1' });
  tiny.node({ name: 'y', internalIp: '192.0.2.2' });
  const small = { podSubnet: '10.9.0.0/30', nodePrefixLen: 30 };
  assert.is((await identity(tiny.dir, 'x', small)).podSubnet, '10.9.0.0/30');
  assert.match(await identityErr(identity(tiny.dir, 'y', small)), /no free \/30 slice left in the pod subnet 10\.9\.0\.0\/30 \(1 slices, all claimed or allocated; slice claims dir/);
});

test('claims: nodes claiming at once, in any mix of restarts and allocated podCIDRs, all get different slices and keep them', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 1, max: 7 }), fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 3 }), fc.integer({ min: 0, max: 6 }),
    async (count, allocated, restarts) => {
      const w = world();
      const names = Array.from({ length: count }, (_, i) => `n${i}`);
      // Some nodes have a podCIDR the "cluster" gave them.
      const given = new Map<string, string>();
      allocated.forEach((slice, i) => { if (i < count && ![...given.values()].includes(`10.1.${slice}.0/24`)) given.set(names[i]!, `10.1.${slice}.0/24`); });
      for (const [i, n] of names.entries()) w.node({ name: n, internalIp: `192.0.2.${i + 1}`, ...(given.has(n) ? { podCIDR: given.get(n)! } : {}) });
      // Each node its own directory object (another agent), all at once.
      const ids = await Promise.all(names.map((n) => identity(new ManifestNodeDirectory(w.d), n)));
      const slices = ids.map((x) => x.podSubnet);
      assert.is(new Set(slices).size, count, `distinct: ${slices}`);
      for (const [i, n] of names.entries()) if (given.has(n)) assert.is(slices[i], given.get(n));
      // Restarts find the same slices.
      for (let r = 0; r < restarts; r++) {
        const i = r % count;
        assert.is((await identity(new ManifestNodeDirectory(w.d), names[i]!)).podSubnet, slices[i]);
      }
      // The node set: every node, with its slice.
      const set = clusterNodes(await w.dir.listNodes(), await w.dir.claims.list(), cluster);
      assert.equal(set.skipped, []);
      assert.equal(new Map(set.nodes.map((n) => [n.name, n.podSubnet])), new Map(names.map((n, i) => [n, slices[i]!])));
      rmSync(w.d, { recursive: true, force: true });
    }), { numRuns: 25 });
});

test('claims files: create is atomic (one winner of many), release only by the holder, a bad claim file is named', async () => {
  const d = mkdtempSync(join(dir, 'claims-'));
  const c = new FileSliceClaims(d);
  const wins = await Promise.all(Array.from({ length: 12 }, (_, i) => c.create('10.1.3.0/24', { name: `n${i}` })));
  assert.is(wins.filter(Boolean).length, 1);
  const holder = `n${wins.indexOf(true)}`;
  assert.equal(await c.list(), [{ slice: '10.1.3.0/24', holder }]);
  assert.equal(readdirSync(d), ['10-1-3-0-24.json'], 'no temporary files left');
  await c.release('10.1.3.0/24', 'someone-else');
  assert.is((await c.list()).length, 1);
  await c.release('10.1.3.0/24', holder);
  assert.equal(await c.list(), []);
  writeFileSync(join(d, '10-1-4-0-24.json'), '{"slice": "10.1.4.0/24"}');
  try { await c.list(); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /slice claims dir .*10-1-4-0-24\.json: expected \{"slice", "holder"\}/); }
});

test('node set: nodes joining and leaving are seen without a restart; a broken manifest keeps the last good set; nodes not ready are left out', async () => {
  const w = world();
  w.node({ name: 'a', internalIp: '192.0.2.1', podCIDR: '10.1.1.0/24' });
  const log: string[] = [];
  const src = await DirectoryNodeSource.open(w.dir, cluster, (m) => log.push(m));
  let changes = 0;
  src.onChange(() => { changes++; });
  const until = async (what: string, ok: () => Promise<boolean>) => {
    const end = Date.now() + 10_000;
    while (!(await ok())) { if (Date.now() > end) assert.unreachable(`${what}; log: ${log.join(' | ')}`); await new Promise((r) => setTimeout(r, 20)); }
  };
  const names = async () => (await src.list()).map((n) => `${n.name} ${n.internalIp} ${n.podSubnet}`);
  try {
    assert.equal(await names(), ['a 192.0.2.1 10.1.1.0/24']);
    // b joins without a slice: left out until it claims one.
    w.node({ name: 'b', internalIp: '192.0.2.2' });
    await until('b is reported as not ready', async () => log.some((l) => /b: no pod slice yet/.test(l)));
    assert.is(changes, 0);
    await identity(w.dir, 'b');
    await until('b joins', async () => (await names()).length === 2);
    assert.equal(await names(), ['a 192.0.2.1 10.1.1.0/24', 'b 192.0.2.2 10.1.0.0/24']);
    assert.is(changes, 1);
    writeFileSync(join(w.d, 'broken.yaml'), 'kind: Node\nmetadata: [\n');
    await until('the broken file is reported', async () => log.some((l) => /reading the nodes from manifests dir .* failed, keeping the previous 2/.test(l)));
    assert.is((await names()).length, 2);
    unlinkSync(join(w.d, 'broken.yaml'));
    unlinkSync(join(w.d, 'a.yaml'));
    await until('a leaves', async () => (await names()).length === 1);
    assert.equal(await names(), ['b 192.0.2.2 10.1.0.0/24']);
    w.node({ name: 'a', internalIp: '192.0.2.1', podCIDR: '10.1.1.0/24' });
    await until('a comes back', async () => (await names()).length === 2);
    assert.is(changes, 3);
  } finally { await src.close(); }
  const set = clusterNodes([{ name: 'x', internalIp: '192.0.2.1', podCIDR: '10.1.1.0/24' }, { name: 'y', internalIp: '192.0.2.1', podCIDR: '10.1.2.0/24' }, { name: 'z', internalIp: '192.0.2.3', podCIDR: '10.1.1.0/24' }], [], cluster);
  assert.equal(set.nodes.map((n) => n.name), ['x']);
  assert.equal(set.skipped, ['y: address 192.0.2.1 is x\'s too', 'z: slice 10.1.1.0/24 is x\'s too']);
});

test.run();
