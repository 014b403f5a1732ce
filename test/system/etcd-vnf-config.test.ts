// The conditional etcd writes (create-if-absent, compare-and-delete) and the ligato key/value form
// against a real etcd (Debian's etcd-server) on a loopback port.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Etcd3 } from 'etcd3';
import { startEtcd, freePort, type EtcdServer } from '../../perf/peers/etcd.js';
import { EtcdKeyValueStore, EtcdError } from '../../src/cni/etcd/store.js';
import {
  vnfArpKey, vnfInterfaceKey, vnfKeyKind, vnfMemifInterface, vnfRouteKey, parseVnfArpEntry, parseVnfMemifInterface, parseVnfRoute,
} from '../../src/cni/etcd/vnf-config.js';
import { claimLabel, labelOwnerKey, LabelOwnedError, releaseLabel } from '../../src/cni/etcd/label-owner.js';

let etcd: EtcdServer;
let kv: EtcdKeyValueStore;
let raw: Etcd3;

test.before(async () => {
  etcd = await startEtcd();
  kv = new EtcdKeyValueStore({ endpoints: [etcd.url] });
  raw = new Etcd3({ hosts: etcd.url });
});
test.after(async () => { raw?.close(); await kv?.close(); await etcd?.stop(); });

test('ligato key and JSON: snake_case proto field names, MEMIF, slave, pod-side socket', () => {
  const key = vnfInterfaceKey('vnf1', 'memif1');
  assert.is(key, '/vnf-agent/vnf1/config/vpp/v2/interfaces/memif1');
  const v = vnfMemifInterface({ name: 'memif1', id: 1, socketFilename: '/run/vpp/memif.sock', secret: 's3cr3t', ipAddresses: ['10.1.3.5/32'] });
  assert.equal(JSON.parse(JSON.stringify(v)), {
    name: 'memif1', type: 'MEMIF', enabled: true, ip_addresses: ['10.1.3.5/32'],
    memif: { mode: 'ETHERNET', master: false, id: 1, socket_filename: '/run/vpp/memif.sock', secret: 's3cr3t' },
  });
  assert.equal(parseVnfMemifInterface(key, JSON.stringify(v)), v);
  assert.throws(() => vnfInterfaceKey('a/b', 'x'), /microservice label "a\/b"/);
  assert.throws(() => parseVnfMemifInterface(key, '{"name":"x","type":"TAP"}'), /field type/);
  assert.throws(() => parseVnfMemifInterface(key, '{"name":"x","type":"MEMIF","phys_address":"zz","memif":{"socket_filename":"/s"}}'), /field phys_address: "zz" is not a MAC/);
});

test('ligato ARP entry and route: vpp-agent v3 key templates, proto field names, parsed back; bad values named', () => {
  const arp = { interface: 'memif1', ip_address: '10.1.3.1', phys_address: '02:00:0a:01:03:01', static: true };
  const ak = vnfArpKey('vnf1', arp);
  assert.is(ak, '/vnf-agent/vnf1/config/vpp/v2/arp/memif1/10.1.3.1');
  assert.equal(parseVnfArpEntry(ak, JSON.stringify(arp)), arp);
  const route = { dst_network: '10.1.0.0/16', next_hop_addr: '10.1.3.1', outgoing_interface: 'memif1' };
  const rk = vnfRouteKey('vnf1', route);
  assert.is(rk, '/vnf-agent/vnf1/config/vpp/v2/route/if/memif1/vrf/0/dst/10.1.0.0/16/gw/10.1.3.1');
  assert.equal(parseVnfRoute(rk, JSON.stringify(route)), route);
  assert.equal([ak, rk, vnfInterfaceKey('vnf1', 'memif1'), '/vnf-agent/vnf1/config/vpp/v2/vrf-table/id/1/protocol/IPV4'].map((k) => vnfKeyKind('vnf1', k)), ['arp', 'route', 'interface', 'other']);
  assert.throws(() => parseVnfArpEntry(ak, '{"interface":"memif1","ip_address":"10.1.3.300","phys_address":"02:00:0a:01:03:01"}'), /field ip_address: "10\.1\.3\.300" is not an IPv4 address/);
  assert.throws(() => parseVnfRoute(rk, JSON.stringify({ ...route, vrf_id: 2 })), /field vrf_id: 2 \(only VRF 0 is served\)/);
  assert.throws(() => parseVnfRoute(rk, '[]'), /not a JSON object/);
});

test('createIfAbsent creates, accepts the same value again, refuses another value without overwriting', async () => {
  const key = '/vnf-agent/t1/config/vpp/v2/interfaces/m';
  await kv.createIfAbsent(key, 'A');
  assert.is(await raw.get(key).string(), 'A');
  await kv.createIfAbsent(key, 'A');
  try { await kv.createIfAbsent(key, 'B'); assert.unreachable(); } catch (e) {
    assert.instance(e, EtcdError);
    assert.ok((e as EtcdError).conflict);
    assert.match((e as Error).message, /exists already with another value/);
  }
  assert.is(await raw.get(key).string(), 'A');
});

test('compareAndDelete deletes only our value', async () => {
  const key = '/vnf-agent/t2/config/vpp/v2/interfaces/m';
  await raw.put(key).value('theirs');
  assert.is(await kv.compareAndDelete(key, 'ours'), false);
  assert.is(await raw.get(key).string(), 'theirs');
  await raw.put(key).value('ours');
  assert.is(await kv.compareAndDelete(key, 'ours'), true);
  assert.is(await raw.get(key).string(), null);
  assert.is(await kv.compareAndDelete(key, 'ours'), false, 'absent: nothing deleted, no error');
});

test('update: read-modify-write that reruns on a concurrent change, deletes on undefined, passes change errors on', async () => {
  const key = '/tsvpp/test/counter';
  // 20 writers at once, each adding one: none is lost.
  await Promise.all(Array.from({ length: 20 }, () => kv.update(key, (v) => String(Number(v ?? '0') + 1))));
  assert.is(await raw.get(key).string(), '20');
  const refusal = new Error('not this one');
  try { await kv.update(key, () => { throw refusal; }); assert.unreachable(); } catch (e) { assert.is(e, refusal); }
  assert.is(await raw.get(key).string(), '20');
  await kv.update(key, () => undefined);
  assert.is(await raw.get(key).string(), null);
});

test('microservice label: pods of two namespaces racing for it; one namespace gets it, the other is told which; the last release leaves nothing', async () => {
  const label = 'race1';
  const claims = ['team-a', 'team-b'].flatMap((ns) => Array.from({ length: 6 }, (_, i) => ({ ns, holder: `${ns}-pod${i}` })));
  const results = await Promise.all(claims.map((c) => claimLabel(kv, label, c.ns, c.holder).then(() => null, (e: unknown) => e)));
  const owner = JSON.parse((await raw.get(labelOwnerKey(label)).string())!) as { namespace: string; holders: string[] };
  assert.ok(owner.namespace === 'team-a' || owner.namespace === 'team-b');
  assert.equal(owner.holders.sort(), claims.filter((c) => c.ns === owner.namespace).map((c) => c.holder).sort());
  claims.forEach((c, i) => {
    const r = results[i];
    if (c.ns === owner.namespace) assert.is(r, null);
    else {
      assert.instance(r, LabelOwnedError);
      assert.is((r as LabelOwnedError).owner, owner.namespace);
      assert.match((r as Error).message, `microservice label race1 belongs to namespace ${owner.namespace}`);
    }
  });
  for (const h of owner.holders) await releaseLabel(kv, label, h);
  await releaseLabel(kv, label, owner.holders[0]!); // idempotent
  assert.equal(await raw.getAll().prefix('/tsvpp/').keys(), []);
});

test('unreachable etcd: a clear error within the timeout', async () => {
  const port = await freePort();
  const dead = new EtcdKeyValueStore({ endpoints: [`http://127.0.0.1:${port}`], timeoutMs: 1500 });
  const t0 = Date.now();
  try { await dead.createIfAbsent('/x', 'y'); assert.unreachable(); } catch (e) {
    assert.instance(e, EtcdError);
    assert.match((e as Error).message, new RegExp(`etcd http://127.0.0.1:${port}: create /x`));
  } finally { await dead.close(); }
  assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
});

test.run();
