import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listedPoolNames, REFILL_QUIET_MS, VethPool } from '../../src/cni/agent/veth-pool.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { poolTag, VswitchError } from '../../src/cni/agent/vswitch.js';
import { Pipeline, type PipelineDeps } from '../../src/cni/agent/pipeline.js';
import { StateStore } from '../../src/cni/agent/state.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { CniError } from '../../src/cni/spec.cjs';
import type { AgentRequest } from '../../src/cni/agent-protocol.cjs';
import type { CustomNetwork, PodInfo, PodSource } from '../../src/cni/pods/types.js';
import { PodSourceError } from '../../src/cni/pods/types.js';
import { FakeIpam, FakeKeyValueStore, FakeLinux, FakeVswitch } from './fakes.js';

class MapPods implements PodSource {
  readonly kind = 'api-server';
  pods = new Map<string, PodInfo>();
  nets = new Map<string, CustomNetwork>();
  async getPod(ns: string, name: string): Promise<PodInfo> {
    const p = this.pods.get(`${ns}/${name}`);
    if (!p) throw new PodSourceError(`pod ${ns}/${name} not found`, true);
    return p;
  }
  async getCustomNetwork(name: string): Promise<CustomNetwork | undefined> { return this.nets.get(name); }
  put(name: string, annotations: Record<string, string>, memif = 0, namespace = 'default'): void {
    this.pods.set(`${namespace}/${name}`, { namespace, name, annotations, containerLimits: [memif ? { 'contivpp.io/memif': String(memif) } : undefined] });
  }
}

const tmpDirs: string[] = [];
test.after(() => { for (const d of tmpDirs) rmSync(d, { recursive: true, force: true }); });

function world(cfg: Partial<AgentConfig> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-pipeline-'));
  tmpDirs.push(dir);
  const config: AgentConfig = { ...DEFAULT_CONFIG, eth0Kind: 'tap', stateDir: dir, memifSocketDir: join(dir, 'memif'), maxCustomInterfaces: 5, ...cfg };
  const linux = new FakeLinux();
  const vswitch = new FakeVswitch(linux);
  const ipam = new FakeIpam();
  const pods = new MapPods();
  pods.nets.set('l2net', { name: 'l2net', type: 'L2' });
  pods.nets.set('l3net', { name: 'l3net', type: 'L3', subnetCIDR: '10.99.0.0/16', subnetOneNodePrefixLen: 24 });
  const store = new StateStore(dir);
  const etcd = new FakeKeyValueStore();
  const mk = (bootId?: string) => new Pipeline({ config, node: { podSubnet: '10.1.1.0/24', sliceIndex: 1 }, vswitch, linux, ipam, pods, store, vnfConfig: etcd, ...(bootId ? { bootId } : {}) });
  return { dir, config, linux, vswitch, ipam, pods, store, etcd, mk, p: mk() };
}

/**
 * A pipeline with a veth pool of `size` members, filled (as the agent wires them; `extra`: more of
 * the pipeline's deps; `idleMs`: the pool's, else the config's).
 */
async function withPool(w: ReturnType<typeof world>, size: number, extra: Partial<PipelineDeps> = {}, idleMs = w.config.vethPoolIdleSeconds * 1000): Promise<{ p: Pipeline; pool: VethPool }> {
  let p: Pipeline | undefined;
  const pool = new VethPool({ size, idleMs, stateDir: w.dir, vswitch: w.vswitch, linux: w.linux, mtu: 0, log: () => {}, turn: (fn) => p!.exclusive(fn), busy: () => p!.serving, servedAt: () => p!.servedAt, eager: true });
  p = new Pipeline({ ...w.p.d, pool, ...extra });
  await p.reconcile();
  pool.refill('reconcile');
  await pool.settled();
  return { p, pool };
}

function req(command: 'ADD' | 'DEL' | 'CHECK', id: string, pod: string | undefined, netns = 'ns1', extra: Partial<AgentRequest> = {}): AgentRequest {
  return {
    v: 1, command, containerId: id, ifName: 'eth0', netns,
    args: pod ? { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod, K8S_POD_INFRA_CONTAINER_ID: id, K8S_POD_UID: `uid-${pod}` } : {},
    config: { cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni' }, ...extra,
  };
}

async function cniErr(p: Promise<unknown>): Promise<CniError> {
  try { await p; } catch (e) { assert.instance(e, CniError); return e as CniError; }
  assert.unreachable('expected a CniError');
  throw new Error('unreachable');
}

test.before.each(() => undefined);

test('seed example: eth0 + tap1 + veth1, result lists everything, DEL removes everything', async () => {
  const w = world();
  await w.store.init();
  w.linux.addNs('ns1');
  w.pods.put('multi-if-pod', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth' });
  const r = await w.p.handle(req('ADD', 'c1', 'multi-if-pod'));
  assert.equal([...w.linux.ns.get('ns1')!.keys()].sort(), ['eth0', 'lo', 'tap1', 'veth1']);
  const names = r!.interfaces!.map((i) => i.name);
  assert.equal(names.slice(0, 3), ['eth0', 'tap1', 'veth1']);
  assert.ok(names[3]!.startsWith('tsv'), 'veth host end listed');
  assert.equal(r!.interfaces!.slice(0, 3).map((i) => i.sandbox), ['ns1', 'ns1', 'ns1']);
  assert.is(r!.interfaces![3]!.sandbox, undefined);
  assert.equal(r!.ips, [
    { address: '10.1.1.2/32', gateway: '10.1.1.1', interface: 0 },
    { address: '10.1.1.3/32', gateway: '10.1.1.1', interface: 1 },
    { address: '10.1.1.4/32', gateway: '10.1.1.1', interface: 2 },
  ]);
  assert.equal(r!.routes, [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }]);
  // creation order = annotation order, eth0 first
  assert.equal(w.vswitch.calls.filter((c) => c === 'createTap' || c === 'createAfPacket'), ['createTap', 'createTap', 'createAfPacket']);
  const eth0 = w.linux.ns.get('ns1')!.get('eth0')!;
  assert.ok(eth0.up);
  assert.equal(eth0.addrs, ['10.1.1.2/32']);
  assert.ok(eth0.routes.some((x) => x.dst === 'default' && x.via === '10.1.1.1'));
  assert.equal(w.linux.ns.get('ns1')!.get('tap1')!.routes, [], 'no extra default route on custom interfaces');
  await w.p.handle(req('CHECK', 'c1', 'multi-if-pod', 'ns1', { config: { cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', prevResult: r! } }));
  await w.p.handle(req('DEL', 'c1', 'multi-if-pod'));
  assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo']);
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.is(w.ipam.leases.size, 0);
  assert.equal([...w.linux.ns.get('')!.keys()], []);
  assert.equal(await w.store.listPods(), []);
  // DEL is idempotent; with nothing recorded and no lease held, host-local is not started.
  const released = () => w.ipam.calls.filter((c) => c.startsWith('release')).length;
  const before = released();
  await w.p.handle(req('DEL', 'c1', 'multi-if-pod'));
  await w.p.handle(req('DEL', 'never-added', undefined, ''));
  assert.is(released(), before, 'no release without a lease');
  // A stray eth0 lease with no record (the record lost) is still released.
  await w.ipam.allocate({ network: 'default', subnet: '10.1.1.0/24', rangeStart: '10.1.1.2', rangeEnd: '10.1.1.254' }, { containerId: 'stray', ifName: 'eth0' });
  await w.p.handle(req('DEL', 'stray', undefined, ''));
  assert.is(released(), before + 1);
  assert.is(w.ipam.leases.size, 0);
});

/** A request as containerd sends it with the io.kubernetes.cri.pod-annotations capability. */
function withRuntimeAnnotations(r: AgentRequest, annotations: unknown): AgentRequest {
  return { ...r, config: { ...r.config, runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } } };
}

test('annotations from the runtime: a pod the pod source does not know gets its interfaces; the record and the log say where they came from', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  const log: string[] = [];
  const p = new Pipeline({ ...w.p.d, log: (m) => log.push(m) });
  const r = await p.handle(withRuntimeAnnotations(req('ADD', 'c1', 'not-in-source'), { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth/l2net', 'other.io/x': 'y' }));
  assert.equal(r!.interfaces!.slice(0, 3).map((i) => i.name), ['eth0', 'tap1', 'veth1']);
  const rec = (await w.store.loadPod('c1'))!;
  assert.equal(rec.metadataSources, { annotations: 'runtime' });
  assert.equal(rec.pod, { namespace: 'default', name: 'not-in-source', uid: 'uid-not-in-source' });
  assert.ok(log.some((l) => l.startsWith('ADD c1 default/not-in-source (annotations from the runtime): eth0/tap/default')), log.join('\n'));
  // Without the runtime's annotations the same pod is unknown.
  const e = await cniErr(p.handle(req('ADD', 'c2', 'not-in-source')));
  assert.is(e.code, 101);
  assert.match(e.details!, 'pod default/not-in-source not found');
});

test('annotations from the runtime win over the pod source; memif limits (not annotations) come from the pod source, only when needed', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1'); w.linux.addNs('ns2'); w.linux.addNs('ns3');
  w.pods.put('p', { 'contivpp.io/custom-if': 'stale1/tap' }, 1);
  await w.p.handle(withRuntimeAnnotations(req('ADD', 'c1', 'p'), { 'contivpp.io/custom-if': 'm1/memif, v1/veth' }));
  const rec = (await w.store.loadPod('c1'))!;
  assert.equal(rec.interfaces.map((i) => i.name), ['eth0', 'm1', 'v1']);
  assert.equal(rec.metadataSources, { annotations: 'runtime', resourceLimits: 'api-server' });
  // A memif for a pod the source does not know: the error says why the source was asked.
  const e = await cniErr(w.p.handle(withRuntimeAnnotations(req('ADD', 'c2', 'unknown', 'ns2'), { 'contivpp.io/custom-if': 'm1/memif' })));
  assert.is(e.code, 101);
  assert.match(e.details!, 'contivpp.io/custom-if asks for 1 memif interface(s); their "contivpp.io/memif" resource limits are not in the annotations the runtime passed and come from the API server: pod default/unknown not found');
  // More memifs than the source's limits allow: the annotation error.
  const e2 = await cniErr(w.p.handle(withRuntimeAnnotations(req('ADD', 'c3', 'p', 'ns3'), { 'contivpp.io/custom-if': 'm1/memif, m2/memif' })));
  assert.is(e2.code, 100);
  assert.match(e2.details!, 'but the pod requests 1 "contivpp.io/memif"');
  assert.equal((await w.store.listPods()).map((x) => x.containerId), ['c1']);
});

test('runtime annotations that are not a map of strings fail ADD with code 7 naming the key', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  for (const [bad, why] of [[['a'], 'is an array'], ['x', 'is string, not an object'], [{ a: 1 }, 'annotation "a" is number, not a string']] as const) {
    const e = await cniErr(w.p.handle(withRuntimeAnnotations(req('ADD', 'c1', 'p'), bad)));
    assert.is(e.code, 7);
    assert.match(e.details!, `runtimeConfig["io.kubernetes.cri.pod-annotations"] ${why}`);
  }
  assert.equal(await w.store.listPods(), []);
});

test('a DEL that fails partway is finished by reconcile, never re-wired as a ready pod', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth' });
  await w.p.handle(req('ADD', 'c1', 'p'));
  w.vswitch.failAt = 0;
  const e = await cniErr(w.p.handle(req('DEL', 'c1', 'p')));
  assert.match(e.msg, 'DEL could not remove everything');
  assert.is((await w.store.loadPod('c1'))!.phase, 'deleting');
  w.vswitch.failAt = undefined;
  const calls = w.vswitch.calls.length;
  const rec = await w.p.reconcile();
  assert.equal(rec.rolledBack, ['c1']);
  assert.equal(rec.rewired, []);
  assert.not.ok(w.vswitch.calls.slice(calls).some((c) => c.startsWith('create')), 'nothing re-created');
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, sockets: 0, neighbors: 0 });
});

test('chained after another CNI: eth0 left alone, custom interfaces added, prevResult extended (indexes shifted); CHECK and DEL only ours', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  // What a primary (bridge + host-local) left: its eth0 in the pod with its address and default route.
  w.linux.ns.get('ns1')!.set('eth0', { name: 'eth0', up: true, addrs: ['10.222.0.5/24'], routes: [{ dst: 'default', via: '10.222.0.1', dev: 'eth0' } as never], mac: '0a:58:0a:de:00:05' });
  const prevResult = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'cni0', mac: '0a:58:0a:de:00:01' }, { name: 'veth1234', mac: '0a:58:0a:de:00:02' }, { name: 'eth0', mac: '0a:58:0a:de:00:05', sandbox: 'ns1' }],
    ips: [{ address: '10.222.0.5/24', gateway: '10.222.0.1', interface: 2 }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.222.0.1' }],
    dns: { nameservers: ['10.96.0.10'] },
  };
  const conf = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tsvpp-cni', prevResult };
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth/l3net, tap2/tap' });
  const r = (await w.p.handle(req('ADD', 'c1', 'p', 'ns1', { config: conf })))!;
  assert.equal(w.linux.ns.get('ns1')!.get('eth0')!.addrs, ['10.222.0.5/24'], 'eth0 untouched');
  assert.equal(w.vswitch.calls.filter((c) => c === 'createTap' || c === 'createAfPacket'), ['createTap', 'createAfPacket', 'createTap'], 'nothing for eth0');
  assert.equal(r.interfaces!.map((i) => i.name).slice(0, 5), ['cni0', 'veth1234', 'eth0', 'tap1', 'veth1']);
  assert.ok(r.interfaces![5]!.name.startsWith('tsv'), 'veth1\'s host end');
  assert.equal(r.ips, [
    { address: '10.222.0.5/24', gateway: '10.222.0.1', interface: 2 },
    { address: '10.1.1.2/32', gateway: '10.1.1.1', interface: 3 },
    { address: '10.99.1.2/32', gateway: '10.99.1.1', interface: 4 },
    { address: '10.1.1.3/32', gateway: '10.1.1.1', interface: 6 },
  ]);
  assert.is(r.interfaces![6]!.name, 'tap2');
  // tsvpp's pod network through the first default-network interface; the default route stays the primary's.
  assert.equal(r.routes, [{ dst: '0.0.0.0/0', gw: '10.222.0.1' }, { dst: '10.1.0.0/16', gw: '10.1.1.1' }, { dst: '10.99.0.0/16', gw: '10.99.1.1' }]);
  assert.equal(r.dns, prevResult.dns);
  const tap1 = w.linux.ns.get('ns1')!.get('tap1')!;
  assert.ok(tap1.routes.some((x) => x.dst === '10.1.0.0/16' && x.via === '10.1.1.1'), JSON.stringify(tap1.routes));
  assert.not.ok(tap1.routes.some((x) => x.dst === 'default'));
  assert.equal(w.linux.ns.get('ns1')!.get('tap2')!.routes, [], 'a second default-network interface: address only');
  assert.ok((await w.store.loadPod('c1'))!.chained);
  // CHECK with the final result as prevResult (what the runtime passes): ours checked, eth0 is the primary's.
  await w.p.handle(req('CHECK', 'c1', 'p', 'ns1', { config: { ...conf, prevResult: r } }));
  w.linux.ns.get('ns1')!.delete('eth0');
  await w.p.handle(req('CHECK', 'c1', 'p', 'ns1', { config: { ...conf, prevResult: r } }));
  w.linux.ns.get('ns1')!.delete('tap2');
  const e = await cniErr(w.p.handle(req('CHECK', 'c1', 'p', 'ns1', { config: { ...conf, prevResult: r } })));
  assert.match(e.details!, /interface tap2 is missing in ns1/);
  await w.p.handle(req('DEL', 'c1', 'p', 'ns1', { config: { ...conf, prevResult: r } }));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.is(w.ipam.leases.size, 0);
  assert.equal(await w.store.listPods(), []);
});

test('chained: a custom interface may not take a name the primary used; service-endpoint-if is refused (Services are the primary CNI\'s); a primary address inside tsvpp\'s podSubnet is refused', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: 'ns1' }, { name: 'net1', sandbox: 'ns1' }], ips: [] };
  const conf = { cniVersion: '1.0.0', name: 'n', type: 'tsvpp-cni', prevResult };
  w.pods.put('p', { 'contivpp.io/custom-if': 'net1/tap' });
  const a = await cniErr(w.p.handle(req('ADD', 'c1', 'p', 'ns1', { config: conf })));
  assert.is(a.code, 100);
  assert.match(a.details!, /net1/);
  w.pods.put('q', { 'contivpp.io/custom-if': 'tap1/tap', 'contivpp.io/service-endpoint-if': 'tap1' });
  const b = await cniErr(w.p.handle(req('ADD', 'c2', 'q', 'ns1', { config: conf })));
  assert.is(b.code, 100);
  assert.match(b.details!, /contivpp\.io\/service-endpoint-if: not available in chained mode: Services are the primary CNI's/);
  // The primary's pod network inside tsvpp's podSubnet: the pod's route to it would capture it.
  const overlap = { ...conf, prevResult: { ...prevResult, ips: [{ address: '10.1.200.7/24', interface: 0 }] } };
  const o = await cniErr(w.p.handle(req('ADD', 'c3', 'p', 'ns1', { config: overlap })));
  assert.is(o.code, 7);
  assert.is(o.details, 'prevResult address 10.1.200.7/24 (the primary CNI\'s) is inside tsvpp\'s podSubnet 10.1.0.0/16: give tsvpp a podSubnet apart from the primary CNI\'s pod network');
  assert.equal(w.vswitch.calls.filter((c) => c.startsWith('create')), [], 'nothing created');
  assert.equal(await w.store.listPods(), []);
});

test('eth0 as veth + af_packet', async () => {
  const w = world({ eth0Kind: 'veth-afpacket' });
  await w.store.init(); w.linux.addNs('ns1');
  const r = await w.p.handle(req('ADD', 'c1', undefined));
  assert.is(r!.interfaces![0]!.name, 'eth0');
  assert.equal(w.vswitch.calls.filter((c) => c.startsWith('create') && c !== 'createLoopback'), ['createAfPacket']);
  assert.ok(w.linux.ns.get('ns1')!.has('eth0'));
  await w.p.handle(req('DEL', 'c1', undefined));
  assert.equal([...w.linux.ns.get('')!.keys()], []);
});

test('veth pool: an ADD cut short after taking a member (the re-tag fails) undoes the pod and hands the member back, its af_packet still tagged for the pool; nothing else left', async () => {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 1 });
  await w.store.init(); w.linux.addNs('ns1');
  const { p, pool } = await withPool(w, 1);
  const m = pool.members()[0]!;
  assert.ok(m, 'a member was made');
  assert.is(w.vswitch.ifs.get(m.swIfIndex)!.tag, poolTag(m.hostName));
  const tag = w.vswitch.tagInterface.bind(w.vswitch);
  w.vswitch.tagInterface = async (i, t) => { if (t.startsWith('tsvpp:')) throw new VswitchError('tag interface', 'injected failure', false, -1); return tag(i, t); };
  const e = await cniErr(p.handle(req('ADD', 'c1', undefined)));
  assert.is(e.code, 103);
  assert.match(e.details!, /injected failure/);
  assert.is(w.vswitch.ifs.get(m.swIfIndex)?.tag, poolTag(m.hostName), 'the member\'s af_packet is kept, with the pool\'s tag');
  assert.equal([...w.linux.ns.get('')!.keys()].sort(), [m.hostName, m.peerName].sort(), 'the pod\'s veth is gone, the member\'s pair is kept');
  assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo']);
  assert.equal(await w.store.listPods(), []);
  assert.equal(pool.members().map((x) => x.hostName), [m.hostName], 'back in the pool');
});

test('veth pool: a pod\'s members are checked at once before any moves (one link listing); a broken one is deleted, the rest handed out in order; with the pool empty a member is made for the pod, and DEL hands every one back', async () => {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 3 });
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'veth1/veth, veth2/veth' }, 0);
  const create = w.vswitch.createAfPacket.bind(w.vswitch);
  w.vswitch.createAfPacket = async (o) => { await new Promise((r) => setTimeout(r, 30)); return create(o); }; // as slow as VPP's
  const { p, pool } = await withPool(w, 3); // the refill ran to the end
  w.vswitch.createAfPacket = create;
  const [m1, m2, m3] = pool.members();
  assert.ok(m1 && m2 && m3, 'three members were made');
  await w.linux.deleteLinkIfExists(m2.peerName); // the middle one breaks
  const list = w.linux.listLinks.bind(w.linux);
  let listings = 0;
  w.linux.listLinks = async (netns?: string) => { if (netns === undefined) listings++; return list(netns); };
  await p.handle(req('ADD', 'c1', 'p'));
  assert.is(listings, 1, 'one listing of the agent\'s links for the pod\'s members');
  const rec = (await w.store.loadPod('c1'))!;
  const afOf = (n: string) => rec.resources.find((r) => r.kind === 'afpacket' && r.ifName === n) as { hostIfName: string; swIfIndex: number; pool?: { peerName: string } } | undefined;
  assert.is(afOf('eth0')!.hostIfName, m1.hostName);
  assert.is(afOf('veth1')!.hostIfName, m3.hostName);
  const made = afOf('veth2')!;
  assert.ok(made.hostIfName.startsWith(pool.prefixes.host) && ![m1, m2, m3].some((m) => m.hostName === made.hostIfName), `the pool ran out: a member is made for the third veth (${made.hostIfName})`);
  const m4 = { hostName: made.hostIfName, peerName: made.pool!.peerName };
  assert.is(w.vswitch.ifs.get(made.swIfIndex)!.tag.startsWith('tsvpp:'), true, 'tagged for the pod');
  assert.not.ok((await listedPoolNames(w.dir)).has(m4.hostName), 'lent, so not in the pool file');
  // Each lent member's peer and the pod veth's host end redirect to each other.
  for (const [n, m] of [['eth0', m1], ['veth1', m3], ['veth2', m4]] as const) {
    assert.is(w.linux.redirectOf(vethHostName('c1', n)), m.peerName, n);
    assert.is(w.linux.redirectOf(m.peerName), vethHostName('c1', n), n);
  }
  assert.not.ok(w.vswitch.ifs.has(m2.swIfIndex), 'the broken member\'s af_packet is deleted');
  assert.not.ok(w.linux.ns.get('')!.has(m2.hostName), 'and its host end');
  assert.equal([...w.linux.ns.get('ns1')!.keys()].sort(), ['eth0', 'lo', 'veth1', 'veth2']);
  await p.handle(req('DEL', 'c1', 'p'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.equal(pool.members().map((m) => m.hostName).sort(), [m1, m3, m4].map((m) => m.hostName).sort(), 'the lent members are back in the pool, the one made for the pod too');
  const file = await listedPoolNames(w.dir);
  assert.ok([m1, m3, m4].every((m) => file.has(m.hostName) && file.has(m.peerName)), 'and in the pool file (handed back side by side, written one after the other)');
  assert.is(w.vswitch.calls.filter((c) => c === 'deleteAfPacket').length, 1, 'only the broken member\'s af_packet is deleted');
  assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo'], 'the pod\'s veths are gone');
});

test('veth pool: DEL hands a lent member back with nothing of the pod left on it in VPP, and the next pod gets it; a member with something left is deleted instead', async () => {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 1 });
  await w.store.init(); w.linux.addNs('ns1'); w.linux.addNs('ns2');
  w.vswitch.snat = '10.1.1.1';
  const { p, pool } = await withPool(w, 1, { services: { podInterface: (sw) => w.vswitch.enableServiceNat(sw, 'pod'), podsChanged: () => {} } }, 100);
  const [m] = pool.members();
  assert.ok(m, 'a member was made');
  await p.handle(req('ADD', 'c1', undefined, 'ns1'));
  const i = w.vswitch.ifs.get(m.swIfIndex)!;
  assert.ok(i.tag.startsWith('tsvpp:') && i.unnumberedFrom !== undefined && w.vswitch.serviceNat.get(m.swIfIndex) === 'pod', 'the pod is attached through the member');
  w.vswitch.neighbors.set(`${m.swIfIndex}:10.1.1.77`, { swIfIndex: m.swIfIndex, ip: '10.1.1.77', mac: '02:00:00:00:00:77', static: false }); // learned by ARP
  pool.refill('request'); // as the agent does after each answer
  await pool.settled();
  assert.is(pool.members().length, 1, 'refilled behind the ADD');
  // A quiet spell longer than the idle time, then the DEL: the DEL is a request too, so the member
  // it hands back (one over `size`) waits the idle time from there, not from the ADD.
  await new Promise((r) => setTimeout(r, 150));
  const from = w.vswitch.calls.length;
  await p.handle(req('DEL', 'c1', undefined, 'ns1'));
  await new Promise((r) => setTimeout(r, 20));
  assert.not.ok(w.vswitch.calls.slice(from).includes('deleteAfPacket'), 'no af_packet deleted');
  assert.is(i.tag, poolTag(m.hostName));
  assert.is(i.unnumberedFrom, undefined);
  assert.not.ok(w.vswitch.serviceNat.has(m.swIfIndex), 'service NAT off');
  assert.equal(await w.vswitch.dumpNeighbors(m.swIfIndex), [], 'the learned neighbour is gone');
  assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo']);
  assert.ok(w.linux.ns.get('')!.has(m.hostName) && w.linux.ns.get('')!.has(m.peerName), 'its pair is kept');
  assert.ok(pool.members().some((x) => x.hostName === m.hostName), 'back in the pool');
  pool.refill('request');
  // One over `size`: the oldest is trimmed once no request came for the idle time (100 ms here).
  for (let i = 0; i < 100 && pool.members().length > 1; i++) await new Promise((r) => setTimeout(r, 10));
  await pool.settled();
  assert.equal(pool.members().map((x) => x.hostName), [m.hostName]);
  assert.is(w.vswitch.calls.slice(from).filter((c) => c === 'deleteAfPacket').length, 1, 'the trimmed member');

  await p.handle(req('ADD', 'c2', undefined, 'ns2'));
  const rec = (await w.store.loadPod('c2'))!;
  assert.ok(rec.resources.some((r) => r.kind === 'afpacket' && r.hostIfName === m.hostName), 'the next pod gets it');
  w.vswitch.routes.set('0:10.9.9.9/32', { prefix: '10.9.9.9/32', vrfId: 0, swIfIndex: m.swIfIndex }); // not the pod's: nothing undoes it
  await p.handle(req('DEL', 'c2', undefined, 'ns2'));
  assert.not.ok(w.vswitch.ifs.has(m.swIfIndex), 'a member with a route through it is deleted');
  assert.not.ok(w.linux.ns.get('')!.has(m.hostName) || w.linux.ns.get('')!.has(m.peerName), 'with its pair');
  assert.not.ok(pool.members().some((x) => x.hostName === m.hostName));
  assert.equal(w.vswitch.podObjects().ifs, []);
});

test('veth pool: filled at once before any request; after requests, members are made only once none came for REFILL_QUIET_MS (the end of a burst), also when one ends while a member is being made', async () => {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 3 });
  await w.store.init();
  const t00 = Date.now();
  const { pool } = await withPool(w, 3);
  assert.is(pool.members().length, 3);
  assert.ok(Date.now() - t00 < REFILL_QUIET_MS, 'the start fill does not wait');
  const starts: number[] = [];
  const create = w.vswitch.createAfPacket.bind(w.vswitch);
  w.vswitch.createAfPacket = async (o) => { starts.push(Date.now()); await new Promise((r) => setTimeout(r, 60)); return create(o); }; // VPP takes its time
  await pool.take(); await pool.take(); await pool.take();
  pool.refill('request');
  await new Promise((r) => setTimeout(r, 100));
  pool.refill('request'); // the next request of the burst, a few ms to 100 ms later
  const t1 = Date.now();
  for (let i = 0; i < 100 && starts.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(starts[0]! - t1 >= REFILL_QUIET_MS - 5, `none made within the burst (the first came ${starts[0]! - t1} ms after the last request)`);
  await new Promise((r) => setTimeout(r, 20)); // that member is being made ...
  pool.refill('request'); // ... when another request ends: it is finished, the next waits again
  const t2 = Date.now();
  await pool.settled();
  assert.is(pool.members().length, 3);
  assert.is(starts.length, 3);
  assert.ok(starts[1]! - t2 >= REFILL_QUIET_MS - 5, `the second only after ${REFILL_QUIET_MS} ms without a request (it came ${starts[1]! - t2} ms after the last one)`);
});

test('veth pool: members beyond its size are kept until no request came for the idle time, then trimmed; ADDs that take it below its size meanwhile get it refilled at the end of their burst, not after the idle time', async () => {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 1 });
  await w.store.init();
  for (const ns of ['ns1', 'ns2', 'ns3']) w.linux.addNs(ns);
  w.pods.put('p', { 'contivpp.io/custom-if': 'veth1/veth, veth2/veth' }, 0);
  const idleMs = 3 * REFILL_QUIET_MS; // a trim after REFILL_QUIET_MS (as before) shows
  const { p, pool } = await withPool(w, 1, {}, idleMs);
  const answered = async (r: AgentRequest) => { await p.handle(r); pool.refill('request'); return Date.now(); }; // as the agent does
  const deletes = () => w.vswitch.calls.filter((c) => c === 'deleteAfPacket').length;
  await answered(req('ADD', 'c1', 'p', 'ns1')); // one member taken, two made for the pod
  await pool.settled();
  assert.is(pool.members().length, 1, 'refilled');
  let last = await answered(req('DEL', 'c1', 'p', 'ns1'));
  await pool.settled(); // does not wait for the trim
  assert.is(pool.members().length, 4, 'all three back, kept beyond the pool\'s size');
  assert.is(deletes(), 0);
  await new Promise((r) => setTimeout(r, 2 * REFILL_QUIET_MS));
  assert.is(pool.members().length, 4, `still kept ${2 * REFILL_QUIET_MS} ms after the last request`);
  await answered(req('ADD', 'c2', 'p', 'ns2')); // takes three of the four
  const t = await answered(req('ADD', 'c3', 'p', 'ns3')); // takes the last, makes two
  const creates = w.vswitch.calls.filter((c) => c === 'createAfPacket').length;
  await pool.settled();
  assert.is(pool.members().length, 1, 'refilled with a trim pending');
  assert.is(w.vswitch.calls.filter((c) => c === 'createAfPacket').length, creates + 1);
  assert.ok(Date.now() - t < idleMs, 'without waiting for the idle time');
  const trims: number[] = [];
  const del = w.vswitch.deleteAfPacket.bind(w.vswitch);
  w.vswitch.deleteAfPacket = async (o) => { trims.push(Date.now()); return del(o); };
  await answered(req('DEL', 'c2', 'p', 'ns2'));
  last = await answered(req('DEL', 'c3', 'p', 'ns3'));
  assert.is(pool.members().length, 7);
  for (let i = 0; i < 200 && pool.members().length > 1; i++) await new Promise((r) => setTimeout(r, 10));
  await pool.settled(); // the last trim's file write
  assert.is(pool.members().length, 1, 'trimmed back to its size');
  assert.is(deletes(), 6);
  assert.ok(trims[0]! - last >= idleMs - 5, `the first trim ${trims[0]! - last} ms after the last request`);
  assert.is((await listedPoolNames(w.dir)).size, 2, 'the pool file lists the one member left');
  assert.equal(w.vswitch.podObjects().ifs, []);
});

test('veth pool: members beyond its size that an agent restart finds are kept for the idle time after the start, then trimmed', async () => {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 3 });
  await w.store.init();
  const { pool: before } = await withPool(w, 3); // three members listed in the pool file
  const idleMs = 3 * REFILL_QUIET_MS;
  const t0 = Date.now();
  const { pool } = await withPool(w, 1, {}, idleMs); // the restarted agent's pool is smaller
  assert.equal(pool.members().map((m) => m.hostName).sort(), before.members().map((m) => m.hostName).sort(), 'all three kept at start');
  await new Promise((r) => setTimeout(r, 2 * REFILL_QUIET_MS));
  assert.is(pool.members().length, 3, `still kept ${Date.now() - t0} ms after the start`);
  for (let i = 0; i < 200 && pool.members().length > 1; i++) await new Promise((r) => setTimeout(r, 10));
  await pool.settled();
  assert.is(pool.members().length, 1, 'trimmed to its size');
  assert.ok(Date.now() - t0 >= idleMs - 5);
  assert.is((await listedPoolNames(w.dir)).size, 2);
});

test('veth pool: an ADD that finds the pool empty and cannot make a member fails naming it, and leaves nothing of it', async () => {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 1 });
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'veth1/veth' }, 0);
  const { p, pool } = await withPool(w, 1);
  const [m] = pool.members();
  w.vswitch.createAfPacket = async () => { throw new VswitchError('af_packet_create_v3', 'injected failure', false, -1); };
  const e = await cniErr(p.handle(req('ADD', 'c1', 'p')));
  assert.match(e.details!, new RegExp(`making veth pool member ${pool.prefixes.host}[0-9a-f]{7} failed: .*injected failure`));
  assert.equal([...w.linux.ns.get('')!.keys()].sort(), [m!.hostName, m!.peerName].sort(), 'only the member the pool had');
  assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo']);
  assert.equal(await w.store.listPods(), []);
  assert.equal(pool.members(), [m], 'that member is back');
  assert.equal([...await listedPoolNames(w.dir)].sort(), [m!.hostName, m!.peerName].sort());
});

/**
 * A pod on a lent member (pool of one) whose veth cannot be deleted (the group deletion and its
 * host end's deletion fail), nor, with `stuckRedirects`, its redirects; `restore` undoes that.
 */
async function lentWithStuckVeth(stuckRedirects: boolean) {
  const w = world({ eth0Kind: 'veth-afpacket', vethPoolSize: 1 });
  await w.store.init(); w.linux.addNs('ns1');
  const { p, pool } = await withPool(w, 1);
  const m = pool.members()[0]!;
  await p.handle(req('ADD', 'c1', undefined));
  const host = vethHostName('c1', 'eth0');
  assert.is(w.linux.redirectOf(host), m.peerName);
  const saved = { deleteLinkGroup: w.linux.deleteLinkGroup.bind(w.linux), deleteLinkIfExists: w.linux.deleteLinkIfExists.bind(w.linux), clearIngress: w.linux.clearIngress.bind(w.linux) };
  w.linux.deleteLinkGroup = async () => { throw new Error('injected: group'); };
  w.linux.deleteLinkIfExists = async (n, ns) => { if (n === host) throw new Error(`injected: ${n}`); return saved.deleteLinkIfExists(n, ns); };
  if (stuckRedirects) w.linux.clearIngress = async () => { throw new Error('injected: tc'); };
  return { w, p, pool, m, host, restore: () => Object.assign(w.linux, saved) };
}

test('veth pool: a member is handed back once the redirects joining it to the pod\'s veth are gone, beside the veth\'s deletion; a veth that cannot be deleted fails DEL, a retry finishes', async () => {
  const { w, p, pool, m, host, restore } = await lentWithStuckVeth(false);
  const e = await cniErr(p.handle(req('DEL', 'c1', undefined)));
  assert.match(e.details!, /veth: .*injected/);
  assert.not.match(e.details!, /afpacket/, 'the member is not what failed');
  assert.ok(w.linux.ns.get('')!.has(host), 'the pod\'s veth is still there');
  assert.is(w.linux.redirectOf(host), undefined, 'but no longer redirects into the member');
  assert.is(w.linux.redirectOf(m.peerName), undefined, 'nor the member into it');
  assert.ok(pool.members().some((x) => x.hostName === m.hostName), 'so the member is back in the pool');
  assert.is(w.vswitch.ifs.get(m.swIfIndex)!.tag, poolTag(m.hostName));
  restore();
  await p.handle(req('DEL', 'c1', undefined));
  assert.not.ok(w.linux.ns.get('')!.has(host), 'the retry deletes the veth');
  assert.is(pool.members().filter((x) => x.hostName === m.hostName).length, 1, 'and does not hand the member back twice');
  assert.equal(await w.store.listPods(), []);
});

test('veth pool: when the redirects cannot be deleted, the member waits for the pod\'s veth to go; while it cannot be deleted the member stays the pod\'s', async () => {
  const { w, p, pool, m, host, restore } = await lentWithStuckVeth(true);
  const e = await cniErr(p.handle(req('DEL', 'c1', undefined)));
  assert.match(e.details!, /afpacket: .*injected/);
  assert.not.ok(pool.members().includes(m), 'not handed back while the pod\'s veth is there');
  assert.ok(w.vswitch.ifs.get(m.swIfIndex)!.tag.startsWith('tsvpp:'), 'still the pod\'s');
  assert.is(w.linux.redirectOf(host), m.peerName, 'the pod\'s veth still redirects into it');
  restore();
  await p.handle(req('DEL', 'c1', undefined));
  assert.ok(pool.members().some((x) => x.hostName === m.hostName), 'handed back by the retry');
  assert.not.ok(w.linux.ns.get('')!.has(host));
  assert.equal(await w.store.listPods(), []);
});

test('networks: stub = no IP, L2 = bridge domain, L3 = VRF + node slice + subnet route; memif on a per-pod socket', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 's1/veth/stub, b1/tap/l2net, m1/memif/l3net, t3/tap/l3net, m2/memif' }, 2);
  const r = await w.p.handle(req('ADD', 'c1', 'p'));
  const rec = (await w.store.loadPod('c1'))!;
  const byName = new Map(rec.interfaces.map((i) => [i.name, i]));
  assert.is(byName.get('s1')!.address, undefined);
  assert.is(byName.get('b1')!.address, undefined);
  const b1 = w.vswitch.ifs.get(byName.get('b1')!.swIfIndex!)!;
  assert.ok(b1.bd !== undefined && w.vswitch.bds.has(b1.bd));
  assert.is(byName.get('m1')!.address, '10.99.1.2/32');
  assert.is(byName.get('t3')!.address, '10.99.1.3/32');
  const t3 = w.vswitch.ifs.get(byName.get('t3')!.swIfIndex!)!;
  assert.ok(t3.vrf > 0 && t3.unnumberedFrom !== undefined);
  assert.ok(w.linux.ns.get('ns1')!.get('t3')!.routes.some((x) => x.dst === '10.99.0.0/16' && x.via === '10.99.1.1'));
  assert.equal(r!.routes, [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }, { dst: '10.99.0.0/16', gw: '10.99.1.1' }]);
  assert.equal([byName.get('m1')!.memif!.id, byName.get('m2')!.memif!.id], [1, 2]);
  assert.is(byName.get('m1')!.memif!.socket, join(w.config.memifSocketDir, 'c1', 'memif.sock'));
  assert.is(byName.get('m1')!.memif!.secret.length, 20);
  assert.is.not(byName.get('m1')!.memif!.secret, byName.get('m2')!.memif!.secret);
  assert.ok(existsSync(join(w.config.memifSocketDir, 'c1')));
  assert.is(r!.interfaces!.find((i) => i.name === 'm1')!.sandbox, undefined);
  await w.p.handle(req('DEL', 'c1', 'p'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.not.ok(existsSync(join(w.config.memifSocketDir, 'c1')));
});

test('a memif socket path longer than a unix socket address holds: a clear error naming memifSocketDir, nothing left', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'm1/memif' }, 1);
  // A 64-character sandbox id (containerd's), under a memifSocketDir long enough to overflow.
  const id = 'c'.repeat(64);
  const long = 106 - join(w.config.memifSocketDir, id, 'memif.sock').length;
  const e = await cniErr(w.p.handle(req('ADD', id, 'p')));
  if (long >= 0) assert.unreachable(`the test's memifSocketDir is too short to overflow (${long} bytes to spare)`);
  assert.match(e.msg, /memif socket path is too long/);
  assert.match(e.details ?? '', new RegExp(`set the agent's memifSocketDir \\(${w.config.memifSocketDir}\\)`));
  assert.is(await w.store.loadPod(id), undefined);
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.ok(!existsSync(join(w.config.memifSocketDir, id)), 'socket dir left');
});

test('service-endpoint-if: the pod is a service backend at tap1\'s address; replies from it are routed out of tap1; service NAT on default-network interfaces only', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  const hooks = { nat: [] as number[], changed: 0, seen: [] as string[] };
  // What the service proxy would see when it reconciles: the record's phase, and whether the pod is still wired.
  const podsChanged = async () => { hooks.changed++; hooks.seen.push(`${(await w.store.loadPod('c1'))?.phase} ifs=${w.vswitch.podObjects().ifs.length}`); };
  const p = new Pipeline({ ...w.p.d, services: { podInterface: async (i) => { hooks.nat.push(i); }, podsChanged } });
  w.pods.put('svc', { 'contivpp.io/custom-if': 'tap1/tap, v3/veth/l3net', 'contivpp.io/service-endpoint-if': 'tap1' });
  await p.handle(req('ADD', 'c1', 'svc'));
  const rec = (await w.store.loadPod('c1'))!;
  assert.equal(rec.serviceEndpoint, { interface: 'tap1', ip: '10.1.1.3', podIp: '10.1.1.2' });
  const sw = (n: string) => rec.interfaces.find((i) => i.name === n)!.swIfIndex!;
  assert.equal(hooks.nat, [sw('eth0'), sw('tap1')], 'service NAT on eth0 and tap1 (default network), not on the L3 network\'s v3');
  assert.is(hooks.changed, 1, 'the service proxy hears of the new backend address');
  assert.equal(w.linux.rules.get('ns1'), [{ from: '10.1.1.3', table: 100, priority: 100 }]);
  assert.equal(await w.linux.listRoutes('ns1', 100), [
    { dst: '10.1.1.1', dev: 'tap1', scope: 'link' }, { dst: 'default', dev: 'tap1', gateway: '10.1.1.1' },
  ]);
  assert.not.ok((await w.linux.listRoutes('ns1')).some((r) => r.dev === 'tap1' && r.dst === 'default'), 'the main table keeps eth0 as the way out');
  await p.handle(req('CHECK', 'c1', 'svc'));
  // CHECK sees a lost rule.
  w.linux.rules.set('ns1', []);
  const e = await cniErr(p.handle(req('CHECK', 'c1', 'svc')));
  assert.match(e.details ?? '', /rule from 10\.1\.1\.3 lookup 100 \(service endpoint tap1\) is missing/);
  await p.handle(req('DEL', 'c1', 'svc'));
  assert.is(hooks.changed, 2);
  assert.equal(hooks.seen, ['ready ifs=3', 'deleting ifs=3'], 'ADD tells it once ready; DEL once the pod is no endpoint, before its interfaces and addresses go');
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
});

test('a pod record of an agent before the cnat Services (a NAT44-ED static mapping for its service-endpoint-if): DEL deletes the mapping; one VPP no longer has (restarted, plugin off) is no error', async () => {
  const w = world();
  await w.store.init();
  for (const [id, ns, inVpp] of [['old1', 'ns1', true], ['old2', 'ns2', false]] as const) {
    w.linux.addNs(ns);
    w.pods.put(id, { 'contivpp.io/custom-if': 'tap1/tap', 'contivpp.io/service-endpoint-if': 'tap1' });
    await w.p.handle(req('ADD', id, id, ns));
    // What the older agent recorded (and made) for the service endpoint, after the tap.
    const rec = (await w.store.loadPod(id))!;
    const m = { localIp: rec.serviceEndpoint!.ip, externalIp: rec.serviceEndpoint!.podIp, vrfId: 0 };
    rec.resources.push({ kind: 'nat', ...m });
    await w.store.savePod(rec);
    if (inVpp) w.vswitch.legacyNat.add(`${m.localIp}>${m.externalIp}@0`);
    await w.p.handle(req('CHECK', id, id, ns));
    w.vswitch.calls = [];
    await w.p.handle(req('DEL', id, id, ns));
    assert.ok(w.vswitch.calls.includes('deleteLegacyNatMapping'), `${id}: DEL asked VPP to delete the mapping`);
    assert.is(await w.store.loadPod(id), undefined, `${id}: record gone`);
  }
  assert.is(w.vswitch.legacyNat.size, 0);
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
});

test('chained: no service NAT on the pod\'s interfaces (Services are the primary CNI\'s)', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.linux.ns.get('ns1')!.set('eth0', { name: 'eth0', up: true, addrs: ['10.222.0.5/24'], routes: [], mac: '0a:58:0a:de:00:05' });
  const hooks: number[] = [];
  const p = new Pipeline({ ...w.p.d, services: { podInterface: async (i) => { hooks.push(i); }, podsChanged: () => {} } });
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap' });
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: 'ns1' }], ips: [{ address: '10.222.0.5/24', interface: 0 }] };
  await p.handle(req('ADD', 'c1', 'p', 'ns1', { config: { cniVersion: '1.0.0', name: 'n', type: 'tsvpp-cni', prevResult } }));
  assert.ok((await w.store.loadPod('c1'))!.chained);
  assert.equal(hooks, []);
  await p.handle(req('DEL', 'c1', 'p'));
});

test('annotation errors fail ADD with code 100 naming the item, and leave nothing behind', async () => {
  const cases: Array<[string, Record<string, string>, number, RegExp]> = [
    ['missing type', { 'contivpp.io/custom-if': 'tap1' }, 0, /item 1 "tap1": missing interface type/],
    ['unknown type', { 'contivpp.io/custom-if': 'x/vhost' }, 0, /unknown interface type "vhost"/],
    ['duplicate', { 'contivpp.io/custom-if': 'a/tap, a/veth' }, 0, /duplicate interface name "a"/],
    ['invalid name', { 'contivpp.io/custom-if': 'a:b/tap' }, 0, /contains ":"/],
    ['too long', { 'contivpp.io/custom-if': 'abcdefghijklmnop/tap' }, 0, /16 bytes long/],
    ['eth0', { 'contivpp.io/custom-if': 'eth0/tap' }, 0, /"eth0" is reserved/],
    ['lo', { 'contivpp.io/custom-if': 'lo/tap' }, 0, /"lo" is reserved/],
    ['unknown network', { 'contivpp.io/custom-if': 'a/tap/nonet' }, 0, /unknown network "nonet"/],
    ['too many', { 'contivpp.io/custom-if': 'a/tap,b/tap,c/tap,d/tap,e/tap,f/tap' }, 0, /6 custom interfaces requested, at most 5/],
    ['memif without resource', { 'contivpp.io/custom-if': 'm1/memif' }, 0, /1 memif interface\(s\) \(m1\) but the pod requests 0 "contivpp.io\/memif"/],
    ['service endpoint names nothing', { 'contivpp.io/custom-if': 'a/tap', 'contivpp.io/service-endpoint-if': 'b' }, 0, /names no custom interface: "b"/],
    ['extra parts', { 'contivpp.io/custom-if': 'a/tap/stub/x' }, 0, /extra parts/],
    ['empty item', { 'contivpp.io/custom-if': 'a/tap,,b/tap' }, 0, /item 2 "": empty item/],
  ];
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  for (const [what, ann, memif, re] of cases) {
    w.pods.put('bad', ann, memif);
    const e = await cniErr(w.p.handle(req('ADD', 'c-bad', 'bad')));
    assert.is(e.code, 100, what);
    assert.match(e.details!, re, what);
    assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 }, what);
    assert.is(w.ipam.leases.size, 0, what);
    assert.equal(await w.store.listPods(), [], what);
  }
});

test('pod metadata errors: pod not found is code 101', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  const e = await cniErr(w.p.handle(req('ADD', 'c1', 'ghost')));
  assert.is(e.code, 101);
  assert.match(e.details!, /pod default\/ghost not found/);
});

test('ADD twice without DEL is an error; CHECK reports what is missing', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth' });
  await w.p.handle(req('ADD', 'c1', 'p'));
  assert.is((await cniErr(w.p.handle(req('ADD', 'c1', 'p')))).code, 105);
  // Break things behind the agent's back.
  w.linux.ns.get('ns1')!.delete('tap1');
  w.linux.ns.get('ns1')!.get('eth0')!.addrs = [];
  const rec = (await w.store.loadPod('c1'))!;
  const veth = rec.resources.find((r) => r.kind === 'afpacket')!;
  if (veth.kind === 'afpacket') w.vswitch.vanish(veth.swIfIndex);
  w.ipam.leases.delete('default/c1/veth1');
  const e = await cniErr(w.p.handle(req('CHECK', 'c1', 'p')));
  assert.is(e.code, 104);
  assert.match(e.details!, /interface tap1 is missing in ns1/);
  assert.match(e.details!, /address 10\.1\.1\.2\/32 is missing on eth0/);
  assert.match(e.details!, /VPP afpacket interface for veth1 \(sw_if_index \d+\) is gone/);
  assert.match(e.details!, /IP reservation 10\.1\.1\.4\/24 for veth1/);
  assert.is((await cniErr(w.p.handle(req('CHECK', 'c-unknown', 'p')))).code, 104);
  await w.p.handle(req('DEL', 'c1', 'p'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
});

test('a failure at every vswitch, Linux, IPAM and etcd step, one at a time, rolls back everything', async () => {
  const ann = {
    'contivpp.io/custom-if': 'tap1/tap, veth1/veth, m1/memif/l3net, b1/veth/l2net, s1/tap/stub', 'contivpp.io/service-endpoint-if': 'tap1',
    'contivpp.io/microservice-label': 'vnf1',
  };
  // Count the failure points of one successful ADD first, then fail at each of them in turn.
  const ref = world();
  await ref.store.init(); ref.linux.addNs('ns1'); ref.pods.put('p', ann, 1);
  await ref.p.handle(req('ADD', 'c0', 'p'));
  const steps = { vswitch: ref.vswitch.calls.length, linux: ref.linux.calls.length, ipam: ref.ipam.calls.length, etcd: ref.etcd.calls.length };
  assert.ok(steps.vswitch > 20 && steps.linux > 10 && steps.ipam >= 3 && steps.etcd >= 1, JSON.stringify(steps));
  console.log(`    failure points: ${steps.vswitch} vswitch, ${steps.linux} Linux, ${steps.ipam} IPAM, ${steps.etcd} etcd`);
  let injected = 0;
  for (const where of ['vswitch', 'linux', 'ipam', 'etcd'] as const) {
    for (let n = 0; n < steps[where]; n++) {
      const at = `${where} step ${n} (${ref[where].calls[n]})`;
      const w = world();
      await w.store.init(); w.linux.addNs('ns1'); w.pods.put('p', ann, 1);
      w[where].failAt = n;
      const e = await cniErr(w.p.handle(req('ADD', 'c1', 'p')));
      assert.ok(e.code === 103 || e.code === 102, `${at}: ${e.code} ${e.message}`);
      assert.match(`${e.message} ${e.details}`, /injected failure|no IP addresses available/, at);
      w[where].failAt = undefined;
      assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 }, at);
      assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo'], at);
      assert.equal([...w.linux.ns.get('')!.keys()], [], at);
      assert.is(w.ipam.leases.size, 0, at);
      assert.equal([...w.etcd.kv.keys()], [], at);
      assert.equal(await w.store.listPods(), [], at);
      assert.ok(!existsSync(w.config.memifSocketDir) || readdirSync(w.config.memifSocketDir).length === 0, `${at}: memif socket dir left`);
      // And the pod can be added afterwards.
      await w.p.handle(req('ADD', 'c1', 'p'));
      injected++;
    }
  }
  assert.is(injected, steps.vswitch + steps.linux + steps.ipam + steps.etcd);
});

test('agent restart between ADD and DEL: a new pipeline over the same state deletes the pod', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth, m1/memif' }, 1);
  await w.p.handle(req('ADD', 'c1', 'p'));
  const restarted = w.mk();
  const rec = await restarted.reconcile();
  assert.equal(rec, { rolledBack: [], leasesReleased: [], orphansDeleted: [], networksForgotten: [], rewired: [], rewireFailed: [], poolDeleted: [] });
  await restarted.handle(req('CHECK', 'c1', 'p'));
  await restarted.handle(req('DEL', 'c1', 'p'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo']);
});

test('VPP restart: reconcile re-creates the pod in VPP (same tags, memif id and secret, routes, NAT) and CHECK passes', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.nets.set('l2net', { name: 'l2net', type: 'L2' });
  w.pods.nets.set('l3net', { name: 'l3net', type: 'L3', subnetCIDR: '10.100.0.0/16', subnetOneNodePrefixLen: 24 });
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth/l3net, m1/memif, m2/memif/l2net', 'contivpp.io/service-endpoint-if': 'tap1' }, 2);
  await w.p.handle(req('ADD', 'c1', 'p'));
  const before = await w.store.loadPod('c1');
  const tags = [...w.vswitch.ifs.values()].map((i) => i.tag).sort();
  const memifSecrets = before!.interfaces.filter((i) => i.memif).map((i) => i.memif!.secret);
  // VPP restarts: it forgets everything; the taps it owned disappear from the pod.
  for (const i of w.vswitch.ifs.values()) if (i.kind === 'tap') await w.linux.deleteTap(i.tapDevice);
  w.vswitch.ifs.clear(); w.vswitch.routes.clear(); w.vswitch.neighbors.clear(); w.vswitch.bds.clear(); w.vswitch.memifSockets.clear();
  w.vswitch.vrfs = new Set([0]);
  const rec = await w.p.reconcile();
  assert.equal(rec.rewired, ['c1']);
  assert.equal(rec.rewireFailed, []);
  assert.equal([...w.vswitch.ifs.values()].map((i) => i.tag).sort(), tags, 'the same tagged interfaces, network loopbacks included');
  assert.equal(await w.linux.listRoutes('ns1', 100), [
    { dst: '10.1.1.1', dev: 'tap1', scope: 'link' }, { dst: 'default', dev: 'tap1', gateway: '10.1.1.1' },
  ], 'the re-made tap1 carries the service endpoint\'s replies again');
  assert.is(w.linux.rules.get('ns1')!.length, 1, 'the rule (it outlives the tap) is not added twice');
  assert.is(w.vswitch.memifSockets.size, 1);
  const after = (await w.store.loadPod('c1'))!;
  assert.equal(after.interfaces.filter((i) => i.memif).map((i) => i.memif!.secret), memifSecrets);
  assert.equal(after.interfaces.map((i) => i.address), before!.interfaces.map((i) => i.address), 'addresses kept');
  await w.p.handle(req('CHECK', 'c1', 'p'));
  // Nothing more to do the second time.
  assert.equal((await w.p.reconcile()).rewired, []);
  await w.p.handle(req('DEL', 'c1', 'p'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
});

test('static neighbours: one per pod address on a Linux interface with its MAC (none for memif, L2, stub); deleted at DEL; restored after a VPP restart', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, v3/veth/l3net, m1/memif, b1/veth/l2net, s1/veth/stub' }, 1);
  await w.p.handle(req('ADD', 'c1', 'p'));
  const podLinks = w.linux.ns.get('ns1')!;
  const want = async () => {
    const rec = (await w.store.loadPod('c1'))!;
    return ['eth0', 'tap1', 'v3'].map((n) => {
      const st = rec.interfaces.find((i) => i.name === n)!;
      return { swIfIndex: st.swIfIndex!, ip: st.address!.split('/')[0]!, mac: podLinks.get(n)!.mac! };
    });
  };
  const have = () => [...w.vswitch.neighbors.values()].sort((a, b) => a.swIfIndex - b.swIfIndex);
  assert.equal(have(), await want());
  // VPP restarts: neighbours go with its interfaces; the tap is made again (a new MAC in the pod).
  for (const i of w.vswitch.ifs.values()) if (i.kind === 'tap') await w.linux.deleteTap(i.tapDevice);
  for (const k of [...w.vswitch.ifs.keys()]) w.vswitch.vanish(k);
  w.vswitch.bds.clear(); w.vswitch.memifSockets.clear(); w.vswitch.vrfs = new Set([0]);
  assert.equal((await w.p.reconcile()).rewired, ['c1']);
  assert.equal(have(), await want());
  w.vswitch.calls = [];
  await w.p.handle(req('DEL', 'c1', 'p'));
  assert.is(w.vswitch.calls.filter((c) => c === 'deleteNeighbor').length, 3, 'removed explicitly, before their interfaces');
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
});

test('veth pod ends get a MAC the agent chose: VPP has their static neighbour before the pod side is configured, one record each; a pod end with another MAC gets it replaced', async () => {
  const w = world({ eth0Kind: 'veth-afpacket' });
  await w.store.init(); w.linux.addNs('ns1'); w.linux.addNs('ns2');
  w.pods.put('p', { 'contivpp.io/custom-if': 'v1/veth' }, 0);
  const seen = new Map<string, string | undefined>(); // pod link → VPP's neighbour MAC for it when its pod side was configured
  const conf = w.linux.configureLink.bind(w.linux);
  w.linux.configureLink = async (netns, c) => {
    const mac = w.linux.ns.get(netns ?? '')!.get(c.name)!.mac;
    seen.set(`${netns}/${c.name}`, [...w.vswitch.neighbors.values()].find((n) => n.mac === mac)?.mac);
    return conf(netns, c);
  };
  const check = async (id: string, ns: string, before: boolean) => {
    const rec = (await w.store.loadPod(id))!;
    for (const n of ['eth0', 'v1']) {
      const mac = w.linux.ns.get(ns)!.get(n)!.mac!;
      const st = rec.interfaces.find((i) => i.name === n)!;
      assert.is(w.vswitch.neighbors.get(`${st.swIfIndex}:${st.address!.split('/')[0]}`)?.mac, mac, `${id} ${n}: VPP's neighbour has the pod end's MAC`);
      assert.is(rec.resources.filter((r) => r.kind === 'neighbor' && r.ifName === n).length, 1, `${id} ${n}: one neighbour recorded`);
      if (before) assert.is(seen.get(`${ns}/${n}`), mac, `${id} ${n}: in VPP before the pod side was configured`);
    }
  };
  await w.p.handle(req('ADD', 'c1', 'p'));
  await check('c1', 'ns1', true);
  // A pod end the kernel gave another MAC than the one asked for.
  const mk = w.linux.createVethPair.bind(w.linux);
  w.linux.createVethPair = ({ podMac: _ignored, ...o }) => mk(o);
  await w.p.handle(req('ADD', 'c2', 'p', 'ns2'));
  await check('c2', 'ns2', false);
  await w.p.handle(req('DEL', 'c1', 'p'));
  await w.p.handle(req('DEL', 'c2', 'p', 'ns2'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
});

test('DEL deletes a veth beside the af_packet on it (the kernel\'s RCU waits of both overlap); both are gone when DEL answers', async () => {
  const w = world({ eth0Kind: 'veth-afpacket' });
  await w.store.init(); w.linux.addNs('ns1');
  await w.p.handle(req('ADD', 'c1', undefined));
  const host = (await w.store.loadPod('c1'))!.resources.find((r) => r.kind === 'veth') as { hostName: string };
  const events: string[] = [];
  let vethStarted!: () => void;
  const started = new Promise<void>((r) => { vethStarted = r; });
  const delAf = w.vswitch.deleteAfPacket.bind(w.vswitch);
  w.vswitch.deleteAfPacket = async (o) => {
    events.push('af_packet: start');
    // Held until the veth's deletion began (or 2 s: then the veth waited for it).
    await Promise.race([started, new Promise((r) => setTimeout(r, 2000))]);
    await delAf(o);
    events.push('af_packet: done');
  };
  const delLink = w.linux.deleteLinkIfExists.bind(w.linux);
  w.linux.deleteLinkIfExists = async (n) => {
    events.push(`veth ${n}: start`);
    vethStarted();
    const r = await delLink(n);
    events.push(`veth ${n}: done`);
    return r;
  };
  await w.p.handle(req('DEL', 'c1', undefined));
  assert.equal(events.slice(0, 2), ['af_packet: start', `veth ${host.hostName}: start`], events.join(', '));
  assert.ok(events.includes('af_packet: done') && events.includes(`veth ${host.hostName}: done`), 'both settled before DEL answered');
  assert.equal([...w.linux.ns.get('')!.keys()], []);
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.equal(await w.store.listPods(), []);
});

test('one pod interface lost behind the agent\'s back: reconcile re-creates just that one, the rest untouched', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth', 'contivpp.io/service-endpoint-if': 'tap1' });
  await w.p.handle(req('ADD', 'c1', 'p'));
  const rec = (await w.store.loadPod('c1'))!;
  const veth = rec.resources.find((r) => r.kind === 'afpacket')! as { swIfIndex: number };
  const eth0 = rec.resources.find((r) => r.kind === 'tap' && r.ifName === 'eth0')! as { swIfIndex: number };
  w.vswitch.vanish(veth.swIfIndex);
  const r = await w.p.reconcile();
  assert.equal(r.rewired, ['c1']);
  const after = (await w.store.loadPod('c1'))!;
  assert.is((after.resources.find((x) => x.kind === 'tap' && x.ifName === 'eth0') as { swIfIndex: number }).swIfIndex, eth0.swIfIndex, 'eth0 kept its interface');
  assert.ok((after.resources.find((x) => x.kind === 'afpacket') as { swIfIndex: number }).swIfIndex !== veth.swIfIndex, 'veth1 got a new one');
  assert.is(after.resources.filter((x) => x.kind === 'route').length, 3, 'one /32 route per routed interface, none stale');
  await w.p.handle(req('CHECK', 'c1', 'p'));
  await w.p.handle(req('DEL', 'c1', 'p'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
});

test('restart after a crash mid-ADD: reconcile rolls the half-added pod back and deletes orphans', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth' });
  await w.p.handle(req('ADD', 'c1', 'p'));
  // Simulate a crash: the record says "adding", and VPP holds an interface no record knows.
  const r = (await w.store.loadPod('c1'))!;
  r.phase = 'adding';
  await w.store.savePod(r);
  const orphan = await w.vswitch.createTap({ hostIfName: 'x1', tag: 'tsvpp:deadbeef:x1' });
  const out = await w.mk().reconcile();
  assert.equal(out.rolledBack, ['c1']);
  assert.equal(out.orphansDeleted, [orphan.swIfIndex]);
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo']);
  assert.is(w.ipam.leases.size, 0);
});

test('after a reboot: a record of an earlier boot is undone at start, even a ready one (its sandbox died with the node); one without a boot id is left; the runtime\'s DEL later succeeds', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1'); w.linux.addNs('ns2');
  w.pods.put('p', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth' });
  const boot1 = w.mk('boot-1');
  await boot1.handle(req('ADD', 'c1', 'p'));
  await boot1.handle(req('ADD', 'c2', 'p', 'ns2'));
  assert.is((await w.store.loadPod('c1'))!.bootId, 'boot-1');
  const old = (await w.store.loadPod('c2'))!; // written by an agent that recorded no boot id
  delete old.bootId;
  await w.store.savePod(old);
  const c2Objects = w.vswitch.podObjects().ifs.filter((i) => i.tag.includes('c2')).length;
  assert.equal((await w.mk('boot-1').reconcile()).rolledBack, [], 'the same boot: nothing undone');
  assert.equal((await w.store.listPods()).map((r) => r.phase), ['ready', 'ready']);

  const out = await w.mk('boot-2').reconcile();
  assert.equal(out.rolledBack, ['c1']);
  assert.equal(out.rewired, []);
  assert.equal((await w.store.listPods()).map((r) => r.containerId), ['c2']);
  assert.not.ok([...w.ipam.leases.keys()].some((k) => k.includes('/c1/')), 'c1\'s leases released');
  assert.ok([...w.ipam.leases.keys()].some((k) => k.includes('/c2/')), 'c2 keeps its leases');
  assert.is(w.vswitch.podObjects().ifs.filter((i) => i.tag.includes('c1')).length, 0);
  assert.is(w.vswitch.podObjects().ifs.length, c2Objects);
  const after = w.mk('boot-2');
  await after.handle(req('DEL', 'c1', 'p')); // the runtime stops the dead sandbox: nothing left to do
  await after.handle(req('DEL', 'c2', 'p', 'ns2'));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.is(w.ipam.leases.size, 0);
});

test('VPP restarted: node networks are forgotten and re-created on next ADD', async () => {
  const w = world();
  await w.store.init(); w.linux.addNs('ns1');
  await w.p.handle(req('ADD', 'c1', undefined));
  await w.p.handle(req('DEL', 'c1', undefined));
  w.vswitch.ifs.clear(); w.vswitch.neighbors.clear(); // VPP lost everything
  const out = await w.mk().reconcile();
  assert.equal(out.networksForgotten, ['default']);
  await w.p.handle(req('ADD', 'c2', undefined));
  assert.ok([...w.vswitch.ifs.values()].some((i) => i.tag === 'tsvpp-net:default'));
});

// --- microservice labels belong to a namespace ---

/** ADD/DEL for pod `pod` of namespace `ns` (its own netns, named after the container). */
function podReq(command: 'ADD' | 'DEL', id: string, ns: string, pod: string): AgentRequest {
  const r = req(command, id, pod, `ns-${id}`);
  return { ...r, args: { ...r.args, K8S_POD_NAMESPACE: ns } };
}

test('a microservice label belongs to the first namespace while a pod there holds it; another namespace gets error 100 naming it', async () => {
  const w = world();
  await w.store.init();
  const label = { 'contivpp.io/custom-if': 'tap1/tap', 'contivpp.io/microservice-label': 'vnf1' };
  for (const [id, ns, pod] of [['a1', 'team-a', 'p1'], ['a2', 'team-a', 'p2'], ['b1', 'team-b', 'q1']] as const) {
    w.linux.addNs(`ns-${id}`);
    w.pods.put(pod, label, 0, ns);
  }
  await w.p.handle(podReq('ADD', 'a1', 'team-a', 'p1'));
  await w.p.handle(podReq('ADD', 'a2', 'team-a', 'p2'));
  assert.equal(JSON.parse(w.etcd.kv.get('/tsvpp/microservice-label/vnf1')!), { namespace: 'team-a', holders: ['a1', 'a2'] });
  const before = w.vswitch.podObjects();
  const e = await cniErr(w.p.handle(podReq('ADD', 'b1', 'team-b', 'q1')));
  assert.is(e.code, 100);
  assert.is(e.details, 'contivpp.io/microservice-label: microservice label vnf1 belongs to namespace team-a (the namespace of the first pod that used it, while any pod there holds it)');
  assert.equal(w.vswitch.podObjects(), before, 'nothing made for the refused pod');
  assert.equal([...w.linux.ns.get('ns-b1')!.keys()], ['lo']);
  assert.is(await w.store.loadPod('b1'), undefined);
  // Still team-a's while one of its pods holds it; free once none does, and nothing is left in etcd.
  await w.p.handle(podReq('DEL', 'a1', 'team-a', 'p1'));
  assert.is((await cniErr(w.p.handle(podReq('ADD', 'b1', 'team-b', 'q1')))).code, 100);
  await w.p.handle(podReq('DEL', 'a2', 'team-a', 'p2'));
  assert.equal([...w.etcd.kv.keys()], []);
  await w.p.handle(podReq('ADD', 'b1', 'team-b', 'q1'));
  assert.equal(JSON.parse(w.etcd.kv.get('/tsvpp/microservice-label/vnf1')!), { namespace: 'team-b', holders: ['b1'] });
  await w.p.handle(podReq('DEL', 'b1', 'team-b', 'q1'));
  await w.p.handle(podReq('DEL', 'b1', 'team-b', 'q1')); // DEL stays idempotent
  assert.equal([...w.etcd.kv.keys()], []);
});

test('a failed ADD releases the label it claimed; etcd unreachable at the claim fails ADD with 103', async () => {
  const w = world();
  await w.store.init();
  w.linux.addNs('ns-a1');
  w.pods.put('p1', { 'contivpp.io/custom-if': 'tap1/tap', 'contivpp.io/microservice-label': 'vnf1' }, 0, 'team-a');
  w.vswitch.failAt = 3;
  assert.is((await cniErr(w.p.handle(podReq('ADD', 'a1', 'team-a', 'p1')))).code, 103);
  w.vswitch.failAt = undefined;
  assert.equal([...w.etcd.kv.keys()], []);
  w.etcd.failAt = 0;
  const e = await cniErr(w.p.handle(podReq('ADD', 'a1', 'team-a', 'p1')));
  assert.is(e.code, 103);
  assert.match(e.details!, /^contivpp\.io\/microservice-label vnf1: etcd http:\/\/127\.0\.0\.1:1: update \/tsvpp\/microservice-label\/vnf1: injected failure/);
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.is(await w.store.loadPod('a1'), undefined);
});


// --- STATUS and GC (CNI 1.1) ----------------------------------------------------------------------

function gcReq(network: string, valid: unknown, extra: Record<string, unknown> = {}): AgentRequest {
  return { v: 1, command: 'GC', containerId: '', ifName: '', args: {}, config: { cniVersion: '1.1.0', name: network, type: 'tsvpp-cni', 'cni.dev/valid-attachments': valid, ...extra } as AgentRequest['config'] };
}
const statusReq: AgentRequest = { v: 1, command: 'STATUS', containerId: '', ifName: '', args: {}, config: { cniVersion: '1.1.0', name: 'tsvpp', type: 'tsvpp-cni' } };
/** The containers that own pod interfaces in VPP. */
const vppOwners = (w: ReturnType<typeof world>) => [...new Set(w.vswitch.podObjects().ifs.map((i) => i.tag.split(':')[1]))].sort();
const leaseOwners = (w: ReturnType<typeof world>) => [...new Set([...w.ipam.leases.keys()].map((k) => k.split('/')[1]))].sort();

test('GC: attachments of its network the runtime no longer lists are removed as by DEL; listed ones, other networks\' and records from before GC stay; leases no record holds are released', async () => {
  const w = world();
  await w.store.init();
  for (const ns of ['ns1', 'ns2', 'ns3', 'ns4', 'ns5']) w.linux.addNs(ns);
  w.pods.put('a', { 'contivpp.io/custom-if': 'tap1/tap' });
  w.pods.put('b', { 'contivpp.io/custom-if': 'veth1/veth, m1/memif/l3net' }, 1);
  for (const n of ['c', 'd', 'e']) w.pods.put(n, {});
  await w.p.handle(req('ADD', 'ca', 'a', 'ns1'));
  await w.p.handle(req('ADD', 'cb', 'b', 'ns2'));
  await w.p.handle(req('ADD', 'cc', 'c', 'ns3', { config: { cniVersion: '1.1.0', name: 'other', type: 'tsvpp-cni' } }));
  await w.p.handle(req('ADD', 'cd', 'd', 'ns4'));
  await w.p.handle(req('ADD', 'ce', 'e', 'ns5'));
  assert.is((await w.store.loadPod('cb'))!.cniNetwork, 'tsvpp', 'ADD records its CNI network');
  // An older agent's record: no network name.
  const old = (await w.store.loadPod('cd'))!;
  delete old.cniNetwork;
  await w.store.savePod(old);
  // A lease no record holds (an agent that died between host-local and its record).
  await w.ipam.allocate({ network: 'default', subnet: '10.1.1.0/24', rangeStart: '10.1.1.2', rangeEnd: '10.1.1.254' }, { containerId: 'gone', ifName: 'eth0' });
  assert.equal(vppOwners(w), ['ca', 'cb', 'cc', 'cd', 'ce']);
  // ce is listed with another interface name: not the attachment ADD made.
  await w.p.handle(gcReq('tsvpp', [{ containerID: 'ca', ifname: 'eth0' }, { containerID: 'ce', ifname: 'net1' }, { containerID: 'unknown', ifname: 'eth0' }]));
  assert.equal((await w.store.listPods()).map((r) => r.containerId), ['ca', 'cc', 'cd']);
  assert.equal(vppOwners(w), ['ca', 'cc', 'cd']);
  assert.equal(leaseOwners(w), ['ca', 'cc', 'cd']);
  assert.equal([...w.linux.ns.get('ns2')!.keys()], ['lo']);
  assert.equal([...w.linux.ns.get('ns5')!.keys()], ['lo']);
  assert.equal([...w.linux.ns.get('ns1')!.keys()].sort(), ['eth0', 'lo', 'tap1']);
  assert.is(w.vswitch.memifSockets.size, 0, 'the memif socket of b went with it');
  // GC counts as a request (the veth pool's idle time starts again), STATUS does not.
  const served = w.p.servedAt;
  await new Promise((r) => setTimeout(r, 5));
  await w.p.handle(statusReq);
  assert.is(w.p.servedAt, served, 'STATUS is not a pod\'s request');
  // What is left goes with its DEL, as always.
  for (const [id, pod, ns] of [['ca', 'a', 'ns1'], ['cc', 'c', 'ns3'], ['cd', 'd', 'ns4']] as const) await w.p.handle(req('DEL', id, pod, ns));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.is(w.ipam.leases.size, 0);
});

test('GC goes on past an attachment it cannot remove, reports it (code 103) and leaves it recorded for the next GC; without the list of valid attachments it removes nothing (code 7)', async () => {
  const w = world();
  await w.store.init();
  for (const ns of ['ns1', 'ns2']) w.linux.addNs(ns);
  for (const n of ['a', 'b']) w.pods.put(n, {});
  await w.p.handle(req('ADD', 'c1', 'a', 'ns1'));
  await w.p.handle(req('ADD', 'c2', 'b', 'ns2'));
  for (const bad of [undefined, 'c1', [{ containerID: 'c1' }], [null]]) {
    const e = await cniErr(w.p.handle(gcReq('tsvpp', bad)));
    assert.is(e.code, 7, JSON.stringify(bad));
    assert.match(e.details!, /cni\.dev\/valid-attachments/);
  }
  assert.equal(vppOwners(w), ['c1', 'c2'], 'nothing removed by a GC without a valid list');
  // The first tap deletion fails (c1's: records are visited in order).
  const deleteTap = w.vswitch.deleteTap.bind(w.vswitch);
  let failed = 0;
  w.vswitch.deleteTap = async (sw) => { if (failed++ === 0) throw new VswitchError('sw_interface_tap_v2_delete', 'injected failure', false, -1); return deleteTap(sw); };
  const e = await cniErr(w.p.handle(gcReq('tsvpp', [])));
  assert.is(e.code, 103);
  assert.match(e.msg, /GC could not remove everything of 1 stale attachment/);
  assert.match(e.details!, /^c1: .*injected failure/);
  assert.equal(vppOwners(w), ['c1'], 'c2 removed all the same');
  assert.equal((await w.store.listPods()).map((r) => [r.containerId, r.phase]), [['c1', 'deleting']]);
  // null: none valid (a Go runtime's empty list: CRI-O's for a network without pods).
  await w.p.handle(gcReq('tsvpp', null));
  assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, neighbors: 0, sockets: 0 });
  assert.equal(await w.store.listPods(), []);
  assert.is(w.ipam.leases.size, 0);
});

test('STATUS: ready while VPP answers a ping; 51 when it fails or is silent, and while the pods are re-wired after a VPP restart; each change logged once; chained mode and a full pod range are not reported', async () => {
  const w = world();
  await w.store.init();
  const logs: string[] = [];
  const p = new Pipeline({ ...w.p.d, log: (m) => logs.push(m) });
  await p.handle(statusReq);
  assert.ok(w.vswitch.calls.includes('ping'));
  const ping = w.vswitch.ping.bind(w.vswitch);
  w.vswitch.ping = async () => { throw new VswitchError('control ping', 'not connected to VPP (/run/vpp/api.sock: ECONNREFUSED)', false, -1); };
  let e = await cniErr(p.handle(statusReq));
  assert.is(e.code, 51);
  assert.match(e.message, /^tsvpp is not available: VPP does not answer its API: .*ECONNREFUSED/);
  await cniErr(p.handle(statusReq));
  w.vswitch.ping = () => new Promise(() => undefined);
  const t0 = Date.now();
  e = await cniErr(p.handle(statusReq));
  assert.is(e.code, 51);
  assert.match(e.details!, /VPP does not answer its API: no answer within 3000 ms/);
  assert.ok(Date.now() - t0 >= 2900, 'waited for VPP');
  w.vswitch.ping = ping;
  let rewired!: () => void;
  p.rewiringUntil(new Promise<void>((r) => { rewired = r; }));
  e = await cniErr(p.handle(statusReq));
  assert.is(e.code, 51);
  assert.match(e.details!, /VPP restarted: the agent is re-wiring the node's pods/);
  rewired();
  await new Promise((r) => setImmediate(r));
  await p.handle(statusReq);
  const statusLog = logs.filter((l) => l.startsWith('STATUS'));
  const want = [
    /^STATUS: not available \(51\): VPP does not answer its API: .*ECONNREFUSED/,
    /^STATUS: not available \(51\): VPP does not answer its API: no answer within 3000 ms$/,
    /^STATUS: not available \(51\): VPP restarted: the agent is re-wiring the node's pods$/,
    /^STATUS: ready$/,
  ];
  assert.is(statusLog.length, want.length, statusLog.join('\n'));
  want.forEach((re, i) => assert.match(statusLog[i]!, re));
  // Every address of the node's range leased: ADDs fail naming it, the node stays ready.
  const range = { network: 'default', subnet: '10.1.1.0/24', rangeStart: '10.1.1.2', rangeEnd: '10.1.1.254' };
  for (let i = 0; i < 253; i++) await w.ipam.allocate(range, { containerId: `c${i}`, ifName: 'eth0' });
  await p.handle(statusReq);
  // Chained: the pods' network is the primary's; VPP away stops custom interfaces only.
  const chained = new Pipeline({ ...w.p.d, config: { ...w.config, chainedCniConfDir: join(w.dir, 'net.d') } });
  w.vswitch.ping = async () => { throw new VswitchError('control ping', 'not connected', false, -1); };
  await chained.handle(statusReq);
});

test.run();
