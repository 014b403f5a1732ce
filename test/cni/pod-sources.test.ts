import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestPodSource, readManifests } from '../../src/cni/pods/manifests.js';
import { PodSourceError } from '../../src/cni/pods/types.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-manifests-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const podYaml = `apiVersion: v1
kind: Pod
metadata:
  name: vnf-pod
  annotations:
    contivpp.io/custom-if: memif1/memif
    contivpp.io/microservice-label: vnf1
spec:
  containers:
    - name: vnf-memif
      image: ligato/vpp-agent:latest
      resources:
        limits:
          contivpp.io/memif: 1
`;

test('manifests dir: multi-document files, List, Pod and CustomNetwork kinds', async () => {
  writeFileSync(join(dir, 'a.yaml'), `apiVersion: v1
kind: ConfigMap
metadata:
  name: etcd-cfg
data:
  etcd.conf: |
    endpoints: []
---
${podYaml}`);
  writeFileSync(join(dir, 'nets.yml'), `---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata:
  name: l3net
spec:
  type: L3
  subnetCIDR: 10.99.0.0/16
  subnetOneNodePrefixLen: 24
---
apiVersion: v1
kind: List
items:
  - apiVersion: contivpp.io/v1
    kind: CustomNetwork
    metadata: { name: l2net }
    spec: { type: L2 }
  - apiVersion: v1
    kind: Pod
    metadata: { name: multi-if-pod, namespace: team, annotations: { "contivpp.io/custom-if": "tap1/tap, veth1/veth" } }
    spec: { containers: [ { name: nginx, image: nginx } ] }
`);
  writeFileSync(join(dir, 'notes.txt'), 'kind: Pod\nmetadata: {name: ignored}\n');
  const src = new ManifestPodSource(dir);
  const p = await src.getPod('default', 'vnf-pod');
  assert.is(p.annotations['contivpp.io/custom-if'], 'memif1/memif');
  assert.equal(p.containerLimits, [{ 'contivpp.io/memif': 1 }]);
  const q = await src.getPod('team', 'multi-if-pod');
  assert.is(q.annotations['contivpp.io/custom-if'], 'tap1/tap, veth1/veth');
  assert.equal(await src.getCustomNetwork('l3net'), { name: 'l3net', type: 'L3', subnetCIDR: '10.99.0.0/16', subnetOneNodePrefixLen: 24 });
  assert.equal(await src.getCustomNetwork('l2net'), { name: 'l2net', type: 'L2' });
  assert.is(await src.getCustomNetwork('nope'), undefined);
  try { await src.getPod('default', 'ignored'); assert.unreachable(); } catch (e) {
    assert.instance(e, PodSourceError); assert.ok((e as PodSourceError).notFound);
  }
});

test('manifests dir: malformed objects are named', async () => {
  const d = mkdtempSync(join(tmpdir(), 'tsvpp-manifests-bad-'));
  try {
    writeFileSync(join(d, 'bad.yaml'), `apiVersion: contivpp.io/v1\nkind: CustomNetwork\nmetadata: {name: l3bad}\nspec: {type: L3, subnetCIDR: 10.99.0.0/16, subnetOneNodePrefixLen: 8}\n`);
    try { await src(d).getCustomNetwork('l3bad'); assert.unreachable(); } catch (e) {
      assert.match((e as Error).message, /bad\.yaml document 1: CustomNetwork l3bad: spec\.subnetOneNodePrefixLen 8 must be an integer between 16/);
    }
    writeFileSync(join(d, 'bad.yaml'), `kind: Pod\nmetadata: {name: p, annotations: {contivpp.io/memif-count: 1}}\n`);
    try { await src(d).getPod('default', 'p'); assert.unreachable(); } catch (e) {
      assert.match((e as Error).message, /annotation contivpp.io\/memif-count is not a string/);
    }
    writeFileSync(join(d, 'bad.yaml'), `kind: Pod\nmetadata: [\n`);
    try { await src(d).getPod('default', 'p'); assert.unreachable(); } catch (e) { assert.instance(e, PodSourceError); }
  } finally { rmSync(d, { recursive: true, force: true }); }
});
function src(d: string) { return new ManifestPodSource(d); }


test('manifests dir: a settled file is parsed once; an edit (same size, same second) or a removal is seen at the next lookup', async () => {
  const d = mkdtempSync(join(tmpdir(), 'tsvpp-manifests-cache-'));
  try {
    const file = join(d, 'pods.yaml');
    writeFileSync(file, podYaml);
    await new Promise((r) => setTimeout(r, 1100)); // its change time over a second old
    const first = await readManifests(d), again = await readManifests(d);
    assert.ok(first[0]!.obj === again[0]!.obj, 'the settled file was not parsed again');
    const edited = podYaml.replace('memif1/memif', 'memif9/memif');
    assert.is(edited.length, podYaml.length);
    writeFileSync(file, edited);
    const src = new ManifestPodSource(d);
    assert.is((await src.getPod('default', 'vnf-pod')).annotations['contivpp.io/custom-if'], 'memif9/memif');
    writeFileSync(file, podYaml); // and back, within the same second
    assert.is((await src.getPod('default', 'vnf-pod')).annotations['contivpp.io/custom-if'], 'memif1/memif');
    rmSync(file);
    try { await src.getPod('default', 'vnf-pod'); assert.unreachable(); } catch (e) {
      assert.instance(e, PodSourceError); assert.ok((e as PodSourceError).notFound);
    }
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test.run();
