// Where Services and EndpointSlices come from: the Kubernetes API (list, then watch, through the real
// client library against an API server stand-in) and a manifests dir (polled; a file that stops
// parsing keeps the last good objects). Each source hands out parsed snapshots and calls back on
// change; malformed objects are left out with a log line naming them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeServiceSource } from '../../src/cni/services/kube.js';
import { ManifestServiceSource } from '../../src/cni/services/manifests.js';
import { ServiceSourceError, type ServiceSource } from '../../src/cni/services/types.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-svc-src-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const svc = (name: string, ip: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', resourceVersion: '1' }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } });
const slice = (svcName: string, ips: string[], rv = '1') => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${svcName}-abc`, namespace: 'default', resourceVersion: rv, labels: { 'kubernetes.io/service-name': svcName } },
  addressType: 'IPv4', ports: [{ name: '', port: 8080, protocol: 'TCP' }], endpoints: ips.map((a) => ({ addresses: [a], conditions: { ready: true } })),
});

/** Resolves when `src` has called back and `pred` holds on its snapshot. */
function changed(src: ServiceSource, pred: () => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no change seen')), ms);
    src.onChange(() => { if (pred()) { clearTimeout(t); resolve(); } });
  });
}

test('Kubernetes API: Services and EndpointSlices of all namespaces listed, then watched; a malformed one is left out and named', async () => {
  const watches = new Map<string, ServerResponse>();
  const paths: string[] = [];
  const api: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    paths.push(`${url.pathname}${url.searchParams.get('watch') ? '?watch' : ''}`);
    res.setHeader('content-type', 'application/json');
    if (url.searchParams.get('watch')) {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write('');
      watches.set(url.pathname, res);
      return;
    }
    if (url.pathname === '/api/v1/services') {
      res.end(JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [svc('web', '10.96.0.10'), { ...svc('bad', '10.96.0.11'), spec: { type: 'Weird' } }] }));
    } else if (url.pathname === '/apis/discovery.k8s.io/v1/endpointslices') {
      res.end(JSON.stringify({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: '1' }, items: [slice('web', ['10.1.1.2'])] }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
    }
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${(api.address() as { port: number }).port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  const log: string[] = [];
  const src = await KubeServiceSource.create({ kubeconfig, log: (m) => log.push(m) });
  try {
    let s = src.snapshot();
    assert.equal(s.services.map((x) => `${x.name} ${x.clusterIPs}`), ['web 10.96.0.10']);
    assert.equal(s.slices.map((x) => `${x.service} ${x.endpoints.map((e) => e.addresses).join()}`), ['web 10.1.1.2']);
    assert.ok(log.some((l) => /Service default\/bad: spec\.type "Weird"/.test(l) && /left out/.test(l)), log.join('\n'));
    // Both watches run; an EndpointSlice change arrives through its watch.
    for (let i = 0; i < 100 && watches.size < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal([...watches.keys()].sort(), ['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices'], paths.join(' '));
    const seen = changed(src, () => src.snapshot().slices[0]?.endpoints.length === 2);
    watches.get('/apis/discovery.k8s.io/v1/endpointslices')!.write(`${JSON.stringify({ type: 'MODIFIED', object: slice('web', ['10.1.1.2', '10.1.1.3'], '2') })}\n`);
    await seen;
    s = src.snapshot();
    assert.equal(s.slices[0]!.endpoints.map((e) => e.addresses[0]), ['10.1.1.2', '10.1.1.3']);
    const gone = changed(src, () => src.snapshot().services.length === 0);
    watches.get('/api/v1/services')!.write(`${JSON.stringify({ type: 'DELETED', object: svc('web', '10.96.0.10') })}\n`);
    await gone;
  } finally {
    await src.close();
    for (const w of watches.values()) w.end();
    api.closeAllConnections();
    await new Promise<void>((r) => api.close(() => r()));
  }
});

test('Kubernetes API unreachable: create fails naming what it listed', async () => {
  const kubeconfig = join(dir, 'kubeconfig-dead');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  const e = await KubeServiceSource.create({ kubeconfig, log: () => {} }).then(() => null, (x: Error) => x);
  assert.instance(e, ServiceSourceError);
  assert.match(e!.message, /listing Services from the Kubernetes API failed/);
});

test('manifests dir: Services and EndpointSlices beside the pods, followed as files change; a file that stops parsing keeps the last good objects', async () => {
  const m = join(dir, 'manifests');
  mkdirSync(m);
  const yaml = (ips: string[]) => `${JSON.stringify(svc('web', '10.96.0.10'))}\n---\n${JSON.stringify(slice('web', ips))}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n`;
  writeFileSync(join(m, 'web.yaml'), yaml(['10.1.1.2']));
  const log: string[] = [];
  const src = await ManifestServiceSource.open(m, { log: (x) => log.push(x), intervalMs: 50 });
  try {
    assert.equal(src.snapshot().services.map((s) => s.name), ['web']);
    assert.equal(src.snapshot().slices[0]!.endpoints.map((e) => e.addresses[0]), ['10.1.1.2']);
    const more = changed(src, () => src.snapshot().slices[0]?.endpoints.length === 2);
    writeFileSync(join(m, 'web.yaml'), yaml(['10.1.1.2', '10.1.1.3']));
    await more;
    writeFileSync(join(m, 'web.yaml'), 'kind: Service\n  bad: [indent');
    for (let i = 0; i < 100 && !log.length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(log[0] ?? '', /web\.yaml document 1: .*; keeping the previous 1 Service\(s\)/s);
    assert.is(src.snapshot().slices[0]!.endpoints.length, 2, 'the last good objects stay');
  } finally {
    await src.close();
  }
  const e = await ManifestServiceSource.open(join(dir, 'nope'), { log: () => {} }).then(() => null, (x: Error) => x);
  assert.instance(e, ServiceSourceError);
  assert.match(e!.message, /manifests dir .*nope/);
});

test.run();
