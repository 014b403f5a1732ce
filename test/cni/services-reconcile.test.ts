// The service proxy's reconciler against an in-memory VPP: it makes VPP's translations and reject
// routes equal to the plan, changes only the difference, re-creates a translation whose affinity
// changed (VPP sets the load-balancing type only at creation), deletes what is not its plan's, and puts everything back after VPP restarted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { removeServices, Services } from '../../src/cni/services/services.js';
import { planServices } from '../../src/cni/services/plan.js';
import { endpointSliceFromObject, serviceFromObject } from '../../src/cni/services/objects.js';
import type { ServiceSnapshot, ServiceSource } from '../../src/cni/services/types.js';
import { StateStore, type PodRecord } from '../../src/cni/agent/state.js';
import { FakeVswitch } from './fakes.js';

const dirs: string[] = [];
const freePort = () => new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address() as AddressInfo; s.close(() => resolve(port)); });
});
/** GET http://127.0.0.1:port/: status, the local endpoint count and serviceProxyHealthy, or the error's code. */
const health = (port: number) => new Promise<{ status: number; local: number; healthy: boolean } | { error: string }>((resolve) => {
  get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
    let b = '';
    res.on('data', (d) => { b += d; });
    res.on('end', () => { const j = JSON.parse(b) as { localEndpoints: number; serviceProxyHealthy: boolean }; resolve({ status: res.statusCode!, local: j.localEndpoints, healthy: j.serviceProxyHealthy }); });
  }).on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
});
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

class Source implements ServiceSource {
  snap: ServiceSnapshot = { services: [], slices: [] };
  cbs: Array<() => void> = [];
  snapshot(): ServiceSnapshot { return this.snap; }
  onChange(cb: () => void): void { this.cbs.push(cb); }
  async close(): Promise<void> {}
}

const service = (name: string, vip: string, o: { affinity?: boolean; port?: number } = {}) => serviceFromObject({
  metadata: { name }, spec: { clusterIP: vip, ports: [{ port: o.port ?? 80, targetPort: 8080 }], ...(o.affinity ? { sessionAffinity: 'ClientIP' } : {}) },
}, 'test');
const slice = (svc: string, ips: Array<string | [string, boolean]>) => endpointSliceFromObject({
  metadata: { name: `${svc}-1`, labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4', ports: [{ port: 8080 }],
  endpoints: ips.map((x) => (typeof x === 'string' ? { addresses: [x] } : { addresses: [x[0]], conditions: { ready: x[1] } })),
}, 'test');

async function world(extra: { nodePortVip?: () => string | undefined; hostChanged?: () => void; healthCheckHost?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-services-'));
  dirs.push(dir);
  const store = new StateStore(dir);
  await store.init();
  const vswitch = new FakeVswitch(), source = new Source(), log: string[] = [];
  const services = new Services({ vswitch, source, store, snatIp: '10.1.1.1', nodeName: 'node-1', podSubnet: '10.1.0.0/16', log: (m) => log.push(m), ...extra });
  const vpp = () => [...vswitch.translations.values()].map((t) => `${t.vip}:${t.port}/${t.proto}${t.affinity ? '~' : ''} -> ${t.backends.map((b) => `${b.ip}:${b.port}`).join(',')}`).sort();
  return { store, vswitch, source, services, log, vpp };
}

test('a Service with two backends, one leaving, affinity switched on, the Service deleted: VPP follows, and only what changed is touched', async () => {
  const w = await world();
  w.source.snap = { services: [service('web', '10.96.0.10')], slices: [slice('web', ['10.1.1.2', '10.1.1.3'])] };
  let r = await w.services.reconcile();
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.2:8080,10.1.1.3:8080']);
  assert.equal([...w.vswitch.rejects], ['10.96.0.10']);
  assert.is(w.vswitch.snat, '10.1.1.1');
  assert.equal(r.put, ['10.96.0.10:80/TCP']);
  w.vswitch.calls = [];
  r = await w.services.reconcile();
  assert.equal(w.vswitch.calls, [], 'nothing changed, nothing sent');
  // An endpoint stops being ready: it gets no new connections.
  w.source.snap = { ...w.source.snap, slices: [slice('web', ['10.1.1.2', ['10.1.1.3', false]])] };
  const id = [...w.vswitch.translations.keys()][0];
  r = await w.services.reconcile();
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.2:8080']);
  assert.equal([...w.vswitch.translations.keys()], [id], 'updated in place');
  // Affinity switched on: VPP keeps a translation's load-balancing type, so it is made anew.
  w.source.snap = { ...w.source.snap, services: [service('web', '10.96.0.10', { affinity: true })] };
  w.vswitch.calls = [];
  r = await w.services.reconcile();
  assert.equal(r.put, ['10.96.0.10:80/TCP']);
  assert.equal(w.vswitch.calls, ['deleteServiceTranslation', 'putServiceTranslation']);
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP~ -> 10.1.1.2:8080']);
  w.vswitch.calls = [];
  await w.services.reconcile();
  assert.equal(w.vswitch.calls, [], 'the affinity is read back from VPP: nothing to do');
  // The last endpoint goes: no translation, the reject route stays.
  w.source.snap = { ...w.source.snap, slices: [slice('web', [])] };
  r = await w.services.reconcile();
  assert.equal(w.vpp(), []);
  assert.equal(r.deleted, ['10.96.0.10:80/TCP']);
  assert.equal([...w.vswitch.rejects], ['10.96.0.10']);
  // The Service goes.
  w.source.snap = { services: [], slices: [] };
  r = await w.services.reconcile();
  assert.equal([...w.vswitch.rejects], []);
  assert.equal(r.rejectsDeleted, ['10.96.0.10']);
});

test('translations and reject routes the plan does not have are deleted; after a VPP restart everything is put back', async () => {
  const w = await world();
  w.source.snap = { services: [service('web', '10.96.0.10')], slices: [slice('web', ['10.1.1.2'])] };
  await w.vswitch.putServiceTranslation({ vip: '10.96.9.9', port: 53, proto: 'UDP', backends: [{ ip: '10.1.9.9', port: 53 }], affinity: false });
  await w.vswitch.addRejectRoute('10.96.9.9');
  const r = await w.services.reconcile();
  assert.equal(r.deleted, ['10.96.9.9:53/UDP']);
  assert.equal(r.rejectsDeleted, ['10.96.9.9']);
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.2:8080']);
  // VPP restarts: it has nothing.
  w.vswitch.translations.clear(); w.vswitch.rejects.clear(); w.vswitch.snat = undefined;
  w.services.vppRestarted();
  await w.services.reconcile();
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.2:8080']);
  assert.equal([...w.vswitch.rejects], ['10.96.0.10']);
  assert.is(w.vswitch.snat, '10.1.1.1', 'source NAT set again');
});

test('removeServices (agent teardown): every translation and reject route goes, whatever made it; a failing delete is named', async () => {
  const w = await world();
  w.source.snap = { services: [service('web', '10.96.0.10'), service('dns', '10.96.0.53', { port: 53 })], slices: [slice('web', ['10.1.1.2']), slice('dns', ['10.1.1.3'])] };
  await w.services.reconcile();
  await w.vswitch.putServiceTranslation({ vip: '10.96.9.9', port: 53, proto: 'UDP', backends: [{ ip: '10.1.9.9', port: 53 }], affinity: false });
  assert.is(w.vswitch.translations.size, 3);
  const r = await removeServices(w.vswitch);
  assert.equal(r.errors, []);
  assert.equal(r.removed.sort(), ['ClusterIP reject route 10.96.0.10', 'ClusterIP reject route 10.96.0.53', 'Service translation 10.96.0.10:80/TCP', 'Service translation 10.96.0.53:53/TCP', 'Service translation 10.96.9.9:53/UDP']);
  assert.is(w.vswitch.translations.size, 0);
  assert.is(w.vswitch.rejects.size, 0);
  assert.equal(await removeServices(w.vswitch), { removed: [], errors: [] }, 'nothing left to remove');
  await w.services.reconcile();
  w.vswitch.failAt = 0;
  const bad = await removeServices(w.vswitch);
  w.vswitch.failAt = undefined;
  assert.is(bad.errors.length, 1);
  assert.match(bad.errors[0]!, /^Service translation 10\.96\.0\.(10|53):\d+\/TCP: deleteServiceTranslation: injected failure/);
  assert.is(bad.removed.length, 3, 'the rest still removed');
});

test('a local pod\'s service endpoint makes it a backend at that interface\'s address; pod interfaces get service NAT after the policy', async () => {
  const w = await world();
  const rec: PodRecord = {
    containerId: 'c1', ifName: 'eth0', netns: 'ns1', phase: 'ready', resources: [], interfaces: [], createdAt: '',
    serviceEndpoint: { interface: 'tap1', ip: '10.1.1.3', podIp: '10.1.1.2' },
  };
  await w.store.savePod(rec);
  await w.store.savePod({ ...rec, containerId: 'c2', phase: 'adding', serviceEndpoint: { interface: 'tap1', ip: '10.1.1.5', podIp: '10.1.1.4' } });
  w.source.snap = { services: [service('web', '10.96.0.10')], slices: [slice('web', ['10.1.1.2', '10.1.1.4'])] };
  await w.services.reconcile();
  assert.equal(w.vpp(), ['10.1.1.2:8080/TCP -> 10.1.1.3:8080', '10.96.0.10:80/TCP -> 10.1.1.3:8080,10.1.1.4:8080'],
    'only ready pod records count; the pod IP at its target port goes to the interface too (clients on other nodes)');
  // The pod going away (DEL marks it deleting, then tells the service proxy): both translations follow.
  await w.store.savePod({ ...rec, phase: 'deleting' });
  await w.services.podsChanged();
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.2:8080,10.1.1.4:8080'], 'the pod-IP translation is gone with the pod');
  await w.store.savePod(rec);
  await w.services.podsChanged();
  // The endpoint turning not ready, then the Service deleted.
  w.source.snap = { services: [service('web', '10.96.0.10')], slices: [slice('web', [['10.1.1.2', false], '10.1.1.4'])] };
  await w.services.reconcile();
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.4:8080'], 'a not-ready endpoint: no pod-IP translation');
  w.source.snap = { services: [service('web', '10.96.0.10')], slices: [slice('web', ['10.1.1.2'])] };
  await w.services.reconcile();
  assert.equal(w.vpp(), ['10.1.1.2:8080/TCP -> 10.1.1.3:8080', '10.96.0.10:80/TCP -> 10.1.1.3:8080']);
  w.source.snap = { services: [], slices: [] };
  await w.services.reconcile();
  assert.equal(w.vpp(), [], 'the Service deleted: nothing left');
  const i = await w.vswitch.createLoopback({ tag: 'x' });
  const fresh = await world();
  await fresh.vswitch.createLoopback({ tag: 'x' });
  await fresh.services.podInterface(i.swIfIndex);
  assert.equal(fresh.vswitch.calls, ['createLoopback', 'setServiceSnat', 'enableServiceNat'], 'the policy exists before the interface joins it');
  assert.equal([...fresh.vswitch.serviceNat], [[i.swIfIndex, 'pod']]);
});

test('a failing VPP call is reported and the rest still done; the next run finishes it', async () => {
  const w = await world();
  w.source.snap = { services: [service('a', '10.96.0.1'), service('b', '10.96.0.2')], slices: [slice('a', ['10.1.1.2']), slice('b', ['10.1.1.3'])] };
  await w.services.reconcile(); // the source NAT is set
  w.vswitch.translations.clear();
  w.vswitch.failAt = 0;
  const r = await w.services.reconcile();
  assert.is(r.errors.length, 1);
  assert.match(r.errors[0]!, /^translation 10\.96\.0\.1:80\/TCP: putServiceTranslation: injected failure/);
  assert.equal(w.vpp(), ['10.96.0.2:80/TCP -> 10.1.1.3:8080']);
  w.vswitch.failAt = undefined;
  await w.services.reconcile();
  assert.equal(w.vpp(), ['10.96.0.1:80/TCP -> 10.1.1.2:8080', '10.96.0.2:80/TCP -> 10.1.1.3:8080']);
});

test('source changes are followed in the background, coalesced', async () => {
  const w = await world();
  w.services.start();
  try {
    w.source.snap = { services: [service('web', '10.96.0.10')], slices: [slice('web', ['10.1.1.2'])] };
    for (const cb of w.source.cbs) { cb(); cb(); cb(); }
    await w.services.reconcile();
    assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.2:8080']);
    assert.is(w.vswitch.calls.filter((c) => c === 'putServiceTranslation').length, 1, 'three kicks, one put');
  } finally { await w.services.close(); }
});

test('reconcile (property): from any VPP state and any Service set, one run leaves VPP exactly at the plan; a second run sends nothing', async () => {
  const ip = fc.integer({ min: 2, max: 6 }).map((n) => `10.1.1.${n}`);
  const spec = fc.record({ svcs: fc.uniqueArray(fc.record({ n: fc.integer({ min: 1, max: 4 }), aff: fc.boolean() }), { selector: (x) => x.n, maxLength: 4 }), eps: fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), ip, fc.boolean()), { maxLength: 8 }) });
  await fc.assert(fc.asyncProperty(spec, spec, async (before, after) => {
    const w = await world();
    const apply = async (s: typeof before) => {
      w.source.snap = {
        services: s.svcs.map((x) => service(`s${x.n}`, `10.96.0.${x.n}`, { affinity: x.aff })),
        slices: s.svcs.map((x) => slice(`s${x.n}`, s.eps.filter((e) => e[0] === x.n).map((e) => [e[1], e[2]] as [string, boolean]))),
      };
      await w.services.reconcile();
    };
    await apply(before);
    await apply(after);
    const p = planServices({ ...w.source.snap, endpointRewrites: new Map(), nodeName: 'node-1', podSubnet: '10.1.0.0/16' });
    assert.equal(w.vpp(), p.translations.map((t) => `${t.vip}:${t.port}/${t.proto}${t.affinity ? '~' : ''} -> ${t.backends.map((b) => `${b.ip}:${b.port}`).join(',')}`).sort());
    assert.equal([...w.vswitch.rejects].sort(), p.rejects);
    w.vswitch.calls = [];
    await w.services.reconcile();
    assert.equal(w.vswitch.calls, []);
  }), { numRuns: 60 });
});

test('NodePorts with a host link: a translation on the link\'s address per nodePort with ready endpoints; the host hears of the change after VPP has it; the host link gets service NAT as an uplink', async () => {
  const events: string[] = [];
  const w = await world({ nodePortVip: () => '169.254.100.1', hostChanged: () => events.push(`host changed (VPP: ${w.vpp().length} translations)`) });
  const np = serviceFromObject({ metadata: { name: 'np' }, spec: { type: 'NodePort', clusterIP: '10.96.0.20', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] } }, 'test');
  w.source.snap = { services: [np, service('web', '10.96.0.10')], slices: [slice('np', ['10.1.1.2']), slice('web', ['10.1.1.3'])] };
  assert.equal(w.services.hostServices(), { nodePorts: [], clusterIps: [], externals: [] }, 'nothing before the first run');
  await w.services.reconcile();
  assert.equal(w.vpp(), ['10.96.0.10:80/TCP -> 10.1.1.3:8080', '10.96.0.20:80/TCP -> 10.1.1.2:8080', '169.254.100.1:30080/TCP -> 10.1.1.2:8080']);
  assert.equal(w.services.hostServices(), { nodePorts: [{ proto: 'TCP', port: 30080 }], clusterIps: ['10.96.0.10', '10.96.0.20'], externals: [] });
  assert.equal(events, ['host changed (VPP: 3 translations)'], 'called once, after the translations are in VPP');
  await w.services.reconcile();
  assert.is(events.length, 1, 'not again while the host\'s part is the same');
  // The NodePort's endpoint goes: its translation and the host's DNAT with it.
  w.source.snap = { ...w.source.snap, slices: [slice('np', []), slice('web', ['10.1.1.3'])] };
  await w.services.reconcile();
  assert.equal(w.services.hostServices().nodePorts, []);
  assert.equal(events, ['host changed (VPP: 3 translations)', 'host changed (VPP: 1 translations)']);
  const link = await w.vswitch.createAfPacket({ hostIfName: 'tsvpp-vpp', tag: 'tsvpp-node:host-link' });
  await w.services.enableOnHostLink(link.swIfIndex);
  assert.is(w.vswitch.serviceNat.get(link.swIfIndex), 'uplink');
});

test('health check node ports: opened by the run that plans them, 200 while VPP holds the plan, 503 after a VPP restart or a failed run until a run succeeds; closed with the Services, and nothing reopens them after', async () => {
  const w = await world({ nodePortVip: () => '169.254.100.1', healthCheckHost: '127.0.0.1' });
  const hc = await freePort();
  const lb = serviceFromObject({ metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.30', externalTrafficPolicy: 'Local', healthCheckNodePort: hc, ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }] } }, 'test');
  const lbSlice = endpointSliceFromObject({ metadata: { name: 'lb-1', labels: { 'kubernetes.io/service-name': 'lb' } }, addressType: 'IPv4', ports: [{ port: 8080 }], endpoints: [{ addresses: ['10.1.1.2'], nodeName: 'node-1' }, { addresses: ['10.1.2.2'], nodeName: 'node-2' }] }, 'test');
  w.source.snap = { services: [lb], slices: [lbSlice] };
  await w.services.reconcile();
  assert.equal(w.services.healthCheckPorts(), [hc]);
  assert.ok(w.vpp().includes('169.254.100.1:30081/TCP -> 10.1.1.2:8080'), w.vpp().join('\n'));
  assert.equal(await health(hc), { status: 200, local: 1, healthy: true });
  w.services.vppRestarted();
  assert.equal(await health(hc), { status: 503, local: 1, healthy: false });
  await w.services.reconcile();
  assert.equal(await health(hc), { status: 200, local: 1, healthy: true });
  w.vswitch.dumpServiceTranslations = async () => { throw new Error('VPP went away'); };
  await w.services.reconcile().catch(() => undefined);
  assert.equal(await health(hc), { status: 503, local: 1, healthy: false });
  await w.services.close();
  assert.equal(w.services.healthCheckPorts(), []);
  assert.equal(await health(hc), { error: 'ECONNREFUSED' });
  w.services.kick('a source change after close');
  for (const cb of w.source.cbs) cb();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(w.services.healthCheckPorts(), [], 'nothing reopened');
});

test('NodePorts without a host link (nodePortVip absent): ClusterIPs only', async () => {
  const w = await world();
  const np = serviceFromObject({ metadata: { name: 'np' }, spec: { type: 'NodePort', clusterIP: '10.96.0.20', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] } }, 'test');
  w.source.snap = { services: [np], slices: [slice('np', ['10.1.1.2'])] };
  await w.services.reconcile();
  assert.equal(w.vpp(), ['10.96.0.20:80/TCP -> 10.1.1.2:8080']);
  assert.equal(w.services.hostServices().nodePorts, []);
});

test.run();
