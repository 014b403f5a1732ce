import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubePodSource } from '../../src/cni/pods/kube.js';
import { PodSourceError } from '../../src/cni/pods/types.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-kube-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// --- Kubernetes API through the real client library, against a minimal API server stand-in ---

let api: Server;
let kubeconfig: string;
const requests: string[] = [];

test.before(async () => {
  api = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/api/v1/namespaces/default/pods/vnf-pod') {
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'vnf-pod', namespace: 'default', uid: 'uid-42', annotations: { 'contivpp.io/custom-if': 'memif1/memif' } },
        spec: { containers: [{ name: 'c', image: 'i', resources: { limits: { 'contivpp.io/memif': '1' } } }] } }));
    } else if (url.pathname === '/apis/contivpp.io/v1/customnetworks') {
      const name = (url.searchParams.get('fieldSelector') ?? '').replace('metadata.name=', '');
      const all = [
        { apiVersion: 'contivpp.io/v1', kind: 'CustomNetwork', metadata: { name: 'l3net', namespace: 'default' }, spec: { type: 'L3', subnetCIDR: '10.99.0.0/16', subnetOneNodePrefixLen: 24 } },
        { apiVersion: 'contivpp.io/v1', kind: 'CustomNetwork', metadata: { name: 'twice', namespace: 'a' }, spec: { type: 'L2' } },
        { apiVersion: 'contivpp.io/v1', kind: 'CustomNetwork', metadata: { name: 'twice', namespace: 'b' }, spec: { type: 'L2' } },
      ];
      res.end(JSON.stringify({ apiVersion: 'contivpp.io/v1', kind: 'CustomNetworkList', metadata: {}, items: all.filter((o) => o.metadata.name === name) }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' }));
    }
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const port = (api.address() as { port: number }).port;
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
});
test.after(() => { api.close(); });

test('kube source: reads a pod and CustomNetworks through the API', async () => {
  const s = await KubePodSource.create({ kubeconfig });
  const p = await s.getPod('default', 'vnf-pod');
  assert.is(p.uid, 'uid-42');
  assert.equal(p.containerLimits, [{ 'contivpp.io/memif': '1' }]);
  assert.ok(requests.includes('/api/v1/namespaces/default/pods/vnf-pod'));
  assert.equal(await s.getCustomNetwork('l3net'), { name: 'l3net', type: 'L3', subnetCIDR: '10.99.0.0/16', subnetOneNodePrefixLen: 24 });
  assert.is(await s.getCustomNetwork('none'), undefined);
  try { await s.getCustomNetwork('twice'); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /several namespaces \(a, b\)/); }
  try { await s.getPod('default', 'gone'); assert.unreachable(); } catch (e) {
    assert.instance(e, PodSourceError); assert.ok((e as PodSourceError).notFound, (e as Error).message);
  }
});

test.run();
