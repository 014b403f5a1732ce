// The health check node ports of LoadBalancer Services with externalTrafficPolicy Local: real HTTP
// on loopback, answered as kube-proxy answers; kept equal to the list; a port someone else holds
// is logged once and taken when it is free.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { HealthCheckServers } from '../../src/cni/services/health-check.js';

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address() as AddressInfo; s.close(() => resolve(port)); });
});

function fetch(port: number): Promise<{ status: number; weight?: string; body: unknown } | { error: string }> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, weight: res.headers['x-load-balancing-endpoint-weight'] as string | undefined, body: JSON.parse(body) }));
    }).on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

test('200 with the count while the Service has endpoints here, 503 with none; the list followed; a port held by another is logged once and taken once free', async () => {
  const logs: string[] = [];
  const h = new HealthCheckServers((m) => logs.push(m), '127.0.0.1');
  const [p1, p2] = [await freePort(), await freePort()];
  const web = (port: number, localEndpoints: number) => ({ namespace: 'default', name: 'web', port, localEndpoints });
  await h.update([web(p1, 2)]);
  assert.equal(await fetch(p1), { status: 200, weight: '2', body: { service: { namespace: 'default', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true } });
  await h.update([web(p1, 0)]);
  assert.equal(await fetch(p1), { status: 503, weight: '0', body: { service: { namespace: 'default', name: 'web' }, localEndpoints: 0, serviceProxyHealthy: true } });
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(p2, '127.0.0.1', r));
  const both = [web(p1, 1), { namespace: 'ns2', name: 'api', port: p2, localEndpoints: 1 }];
  await h.update(both);
  await h.update(both);
  assert.equal(h.ports(), [p1]);
  assert.is(logs.length, 1, logs.join('\n'));
  assert.match(logs[0]!, new RegExp(`health check of ns2/api on port ${p2} not served: .*EADDRINUSE`));
  await new Promise<void>((r) => blocker.close(() => r()));
  await h.update(both);
  assert.equal(h.ports(), [p1, p2].sort((a, b) => a - b));
  assert.is((await fetch(p2) as { status: number }).status, 200);
  await h.update([web(p2, 1)]);
  assert.equal(h.ports(), [p2]);
  assert.equal(await fetch(p2), { status: 200, weight: '1', body: { service: { namespace: 'default', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: true } }, 'the port now answers for the Service that has it');
  h.proxyHealthy(false);
  assert.equal(await fetch(p2), { status: 503, weight: '1', body: { service: { namespace: 'default', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: false } });
  h.proxyHealthy(true);
  assert.equal(await fetch(p1), { error: 'ECONNREFUSED' });
  await h.close();
  assert.equal(h.ports(), []);
  assert.equal(await fetch(p2), { error: 'ECONNREFUSED' });
});

test.run();
