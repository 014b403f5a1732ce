// The cluster reconciler against in-memory VPP and host doubles: after any sequence of node set
// changes, drift (tunnels, routes or the table removed or added behind its back, VPP losing its
// state, VPP learning other nodes' gateways) and reconciles, VPP and the host hold exactly what
// plan() says; teardown leaves nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterConfig, type ClusterServices } from '../../src/cni/cluster/cluster.js';
import { StaticNodeSource, type ClusterNode } from '../../src/cni/cluster/nodes.js';
import { HOST_LINK_TAG, OVERLAY_IFNAME, networkVni, plan, tunnelTag, type HostServices, type NodeInterconnect } from '../../src/cni/cluster/plan.js';
import { StateStore } from '../../src/cni/agent/state.js';
import { FakeHost, FakeVswitch } from './fakes.js';

const top = mkdtempSync(join(tmpdir(), 'tsvpp-cluster-rec-'));
test.after(() => rmSync(top, { recursive: true, force: true }));
let runs = 0;

const entry = (k: number): ClusterNode => ({ name: `n${k}`, internalIp: `192.168.50.${k}`, podSubnet: `10.1.${k}.0/24` });
const config: ClusterConfig = { nodeName: 'n1', podSubnet: '10.1.1.0/24', clusterPodSubnet: '10.1.0.0/16', nodePrefixLen: 24, hostLinkSubnet: '169.254.100.0/30', hostLink: 'veth-afpacket', interconnect: 'host-gw' };

async function rig(services?: ClusterServices, interconnect: NodeInterconnect = 'host-gw') {
  const store = new StateStore(join(top, `r${runs++}`));
  await store.init();
  const vs = new FakeVswitch();
  const host = new FakeHost((via) => via.startsWith('192.168.50.'));
  // The node's networks, as the pipeline leaves them.
  const loop0 = await vs.createLoopback({ tag: 'tsvpp-net:default' });
  const loop1 = await vs.createLoopback({ tag: 'tsvpp-net:l3net' });
  vs.vrfs.add(1); vs.bds.add(1); vs.bds.add(2);
  const node = await store.loadNode();
  node.networks = {
    default: { name: 'default', kind: 'default', vrfId: 0, loopbackSwIfIndex: loop0.swIfIndex, gateway: '10.1.1.1/24', nodeSubnet: '10.1.1.0/24' },
    l2net: { name: 'l2net', kind: 'L2', vrfId: 0, bdId: 1, vni: networkVni('l2net') },
    l3net: { name: 'l3net', kind: 'L3', vrfId: 1, bdId: 2, vni: networkVni('l3net'), loopbackSwIfIndex: loop1.swIfIndex, gateway: '10.99.1.1/16', nodeSubnet: '10.99.1.0/24', subnetCIDR: '10.99.0.0/16' },
  };
  await store.saveNode(node);
  const nodes = new StaticNodeSource([entry(1)]);
  const log: string[] = [];
  const c = new Cluster({ config: { ...config, interconnect }, vswitch: vs, host, store, nodes, ...(services ? { services } : {}), log: (m) => log.push(m) });
  return { store, vs, host, nodes, c, log, interconnect };
}
type Rig = Awaited<ReturnType<typeof rig>>;

/** VPP and the host hold exactly the plan for the current node set. */
async function assertMatchesPlan(r: Rig): Promise<void> {
  const { vs, host, store, nodes } = r;
  const link = [...vs.ifs.values()].filter((i) => i.tag === HOST_LINK_TAG);
  assert.is(link.length, 1, 'one host link in VPP');
  assert.ok(link[0]!.up && link[0]!.addrs.includes('169.254.100.1/30'));
  assert.ok(host.links.get('tsvpp-host')?.up && host.links.get('tsvpp-host')!.addrs[0] === '169.254.100.2/30');
  assert.ok(host.forwarding);
  const p = plan({
    self: { name: 'n1', podSubnet: '10.1.1.0/24', internalIp: '192.168.50.1' }, nodes: await nodes.list(), podSubnet: '10.1.0.0/16', nodePrefixLen: 24,
    hostLinkSubnet: '169.254.100.0/30', hostLinkSwIfIndex: link[0]!.swIfIndex, networks: Object.values((await store.loadNode()).networks), interconnect: r.interconnect,
  });
  const dev = host.links.get(OVERLAY_IFNAME);
  assert.equal(dev && { device: dev.vxlan, up: dev.up, addrs: dev.addrs, entries: dev.entries },
    p.overlay && { device: p.overlay.device, up: true, addrs: [p.overlay.device.address], entries: p.overlay.peers.map(({ ip, mac, remote }) => ({ ip, mac, remote })) }, 'overlay device');
  const tunnels = [...vs.ifs.values()].filter((i) => i.vxlan);
  assert.equal(tunnels.map((t) => t.tag).sort(), p.tunnels.map((t) => t.tag).sort(), 'tunnels');
  for (const t of tunnels) {
    const w = p.tunnels.find((x) => x.tag === t.tag)!;
    assert.equal({ bd: t.bd, shg: t.shg, src: t.vxlan!.src }, { bd: w.bdId, shg: 1, src: '10.1.1.1' });
  }
  const key = (x: { prefix: string; vrfId: number; swIfIndex: number; nextHop?: string }) => `${x.vrfId} ${x.prefix} ${x.swIfIndex} ${x.nextHop}`;
  assert.equal([...vs.routes.values()].map(key).sort(), p.vppRoutes.map(key).sort(), 'VPP routes');
  assert.equal((await store.loadNode()).clusterRoutes.map(key).sort(), p.vppRoutes.map(key).sort(), 'recorded routes');
  assert.equal([...host.routes.values()].sort((a, b) => a.dst.localeCompare(b.dst)), [...p.hostRoutes].sort((a, b) => a.dst.localeCompare(b.dst)), 'host routes');
  assert.is(host.nft, p.nftTable);
  const gateways = new Set(p.vppRoutes.map((x) => x.nextHop));
  assert.equal([...vs.neighbors.values()].filter((n) => !gateways.has(n.ip)).map((n) => n.ip), [], 'no learned gateway of a node that left');
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('nodes' as const), set: fc.subarray([2, 3, 4, 5, 6, 7]) }),
  fc.record({ kind: fc.constant('drop-tunnel' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('stray-tunnel' as const), tagged: fc.boolean() }),
  fc.record({ kind: fc.constant('drop-host-route' as const), i: fc.nat() }),
  fc.constant({ kind: 'stray-host-route' as const }),
  fc.constant({ kind: 'flush-nft' as const }),
  fc.constant({ kind: 'vpp-lost-link' as const }),
  fc.constant({ kind: 'state-lost-routes' as const }),
  fc.record({ kind: fc.constant('learn' as const), k: fc.integer({ min: 2, max: 7 }) }),
  fc.constant({ kind: 'drop-overlay' as const }),
  fc.constant({ kind: 'stray-overlay-entry' as const }),
  fc.constant({ kind: 'overlay-in-wrong-mode' as const }),
);

test('property: any node set changes and drift end in exactly the plan (host-gw or vxlan); teardown leaves nothing', async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom<NodeInterconnect>('host-gw', 'vxlan'), fc.array(op, { maxLength: 12 }), async (mode, ops) => {
    const r = await rig(undefined, mode);
    const { vs, host, store, nodes, c } = r;
    assert.equal((await c.reconcile()).errors, []);
    await assertMatchesPlan(r);
    for (const o of ops) {
      switch (o.kind) {
        case 'nodes': nodes.set([entry(1), ...o.set.map(entry)]); break;
        case 'drop-tunnel': {
          const ts = [...vs.ifs.values()].filter((i) => i.vxlan);
          if (ts.length) vs.vanish(ts[o.i % ts.length]!.swIfIndex);
          break;
        }
        case 'stray-tunnel': {
          const t = await vs.createVxlanTunnel({ src: '10.1.1.1', dst: '10.1.200.1', vni: networkVni('l2net') });
          if (o.tagged) await vs.tagInterface(t.swIfIndex, tunnelTag(networkVni('l2net'), '10.1.200.1'));
          break;
        }
        case 'drop-host-route': {
          const ks = [...host.routes.keys()];
          if (ks.length) host.routes.delete(ks[o.i % ks.length]!);
          break;
        }
        case 'stray-host-route': host.routes.set('10.1.222.0/24', { dst: '10.1.222.0/24', via: '192.168.50.9' }); break;
        case 'flush-nft': host.nft = 'table ip tsvpp {\n}\n'; break;
        case 'vpp-lost-link': {
          // VPP restarted (as far as the cluster's objects go): the host link and every route on it are gone.
          const l = [...vs.ifs.values()].find((i) => i.tag === HOST_LINK_TAG);
          if (l) vs.vanish(l.swIfIndex);
          for (const t of [...vs.ifs.values()].filter((i) => i.vxlan)) vs.vanish(t.swIfIndex);
          vs.routes.clear();
          break;
        }
        case 'state-lost-routes': { const n = await store.loadNode(); n.clusterRoutes = []; await store.saveNode(n); vs.routes.clear(); break; }
        case 'learn': { // VPP learned (by ARP across the segment) node k's gateway on the L3 network's BVI
          const loop = (await store.loadNode()).networks.l3net!.loopbackSwIfIndex!;
          vs.neighbors.set(`${loop}:10.99.${o.k}.1`, { swIfIndex: loop, ip: `10.99.${o.k}.1`, mac: `02:00:0a:63:0${o.k}:01`, static: false });
          break;
        }
        case 'drop-overlay': await host.deleteLinkIfExists(OVERLAY_IFNAME); break; // its routes go with it
        case 'stray-overlay-entry': host.links.get(OVERLAY_IFNAME)?.entries?.push({ ip: '10.1.200.0', mac: '02:01:0a:01:c8:00', remote: '192.168.50.200' }); break;
        case 'overlay-in-wrong-mode': // a device of another mode's run, or of an older config
          if (!host.links.has(OVERLAY_IFNAME)) await host.ensureVxlan({ name: OVERLAY_IFNAME, vni: 1, port: 8472, local: '192.168.50.1', mac: '02:01:0a:01:01:00', address: '10.1.1.0/32' });
          break;
      }
      const rep = await c.reconcile();
      assert.equal(rep.errors, [], JSON.stringify(o));
      await assertMatchesPlan(r);
    }
    const t = await c.teardown();
    assert.equal(t.errors, []);
    assert.equal([...vs.ifs.values()].filter((i) => i.vxlan || i.tag === HOST_LINK_TAG), []);
    assert.is(vs.routes.size, 0);
    assert.is(vs.neighbors.size, 0, 'learned gateways');
    assert.equal((await store.loadNode()).clusterRoutes, []);
    assert.is(host.routes.size, 0);
    assert.is(host.links.size, 0);
    assert.is(host.nft, undefined);
  }), { numRuns: 60 });
});

test('a node that is not on this node\'s link: its host route is an error naming host-gw; the rest is made', async () => {
  const r = await rig();
  r.nodes.set([entry(1), entry(2), { name: 'far', internalIp: '10.200.0.5', podSubnet: '10.1.9.0/24' }]);
  const rep = await r.c.reconcile();
  assert.is(rep.errors.length, 1);
  assert.match(rep.errors[0]!, /host route 10.1.9.0\/24 via 10.200.0.5 \(host-gw: the node must be on this node's link; nodeInterconnect vxlan crosses routers\): .*Nexthop has invalid gateway/);
  assert.ok(r.host.routes.has('10.1.2.0/24'));
  assert.is([...r.vs.ifs.values()].filter((i) => i.vxlan).length, 4, 'tunnels to both (the far node\'s VTEP may be reachable otherwise)');
});

test('vxlan: the same far node is reached through the overlay (no error); a second round changes nothing; back to host-gw the device goes', async () => {
  const r = await rig(undefined, 'vxlan');
  r.nodes.set([entry(1), entry(2), { name: 'far', internalIp: '10.200.0.5', podSubnet: '10.1.9.0/24' }]);
  let rep = await r.c.reconcile();
  assert.equal(rep.errors, []);
  assert.is(rep.overlay, 'created');
  assert.equal(rep.overlayPeers.added.sort(), ['10.1.2.0 02:01:0a:01:02:00 192.168.50.2', '10.1.9.0 02:01:0a:01:09:00 10.200.0.5']);
  assert.equal(r.host.routes.get('10.1.9.0/24'), { dst: '10.1.9.0/24', via: '10.1.9.0', dev: 'tsvpp-vxlan', onlink: true });
  await assertMatchesPlan(r);
  rep = await r.c.reconcile();
  assert.is(rep.overlay, 'ok');
  assert.equal(rep.overlayPeers, { added: [], deleted: [] });
  assert.equal(rep.hostRoutes, { replaced: [], deleted: [] });
  r.nodes.set([entry(1), entry(2)]);
  rep = await r.c.reconcile();
  assert.equal(rep.overlayPeers.deleted, ['10.1.9.0 02:01:0a:01:09:00 10.200.0.5']);
  assert.equal(rep.hostRoutes.deleted, ['10.1.9.0/24']);
  // This node's own entry missing for a while: with the address the agent started with, nothing
  // toward the others is torn down (without it there is no overlay to keep, and a warning says so).
  const kept = new Cluster({ ...r.c.d, config: { ...r.c.d.config, internalIp: '192.168.50.1' } });
  r.nodes.set([entry(2)]);
  rep = await kept.reconcile();
  assert.equal({ overlay: rep.overlay, peers: rep.overlayPeers, routes: rep.hostRoutes, errors: rep.errors }, { overlay: 'ok', peers: { added: [], deleted: [] }, routes: { replaced: [], deleted: [] }, errors: [] });
  assert.match(rep.warnings.join(), /this node \(n1\) is not in the node list/);
  rep = await r.c.reconcile();
  assert.is(rep.overlay, 'deleted');
  assert.match(rep.warnings.join(), /nodeInterconnect vxlan: this node has no InternalIP in the node list/);
  r.nodes.set([entry(1), entry(2)]);
  const hostGw = new Cluster({ ...r.c.d, config: { ...r.c.d.config, interconnect: 'host-gw' } });
  assert.is((await r.c.reconcile()).overlay, 'created');
  rep = await hostGw.reconcile();
  assert.is(rep.overlay, 'deleted');
  assert.not.ok(r.host.links.has(OVERLAY_IFNAME));
  assert.equal(r.host.routes.get('10.1.2.0/24'), { dst: '10.1.2.0/24', via: '192.168.50.2' });
});

test('this node missing from the node list, or listed with another slice: warnings, logged once', async () => {
  const r = await rig();
  r.nodes.set([entry(2)]);
  assert.match((await r.c.reconcile()).warnings.join(), /this node \(n1\) is not in the node list/);
  await r.c.reconcile();
  assert.is(r.log.filter((l) => l.includes('not in the node list')).length, 1);
  r.nodes.set([{ ...entry(1), podSubnet: '10.1.5.0/24' }]);
  assert.match((await r.c.reconcile()).warnings.join(), /gives this node \(n1\) pod subnet 10.1.5.0\/24, but the agent's is 10.1.1.0\/24/);
});

test('nothing to do: a second round changes nothing', async () => {
  const r = await rig();
  r.nodes.set([entry(1), entry(2), entry(3)]);
  await r.c.reconcile();
  const calls = r.vs.calls.length;
  const rep = await r.c.reconcile();
  assert.equal(rep, { hostLink: 'ok', hostLinkServiceNat: false, vppRoutes: { added: [], deleted: [] }, tunnels: { added: [], deleted: [] }, neighbors: { deleted: [] }, hostRoutes: { replaced: [], deleted: [] }, overlay: 'none', overlayPeers: { added: [], deleted: [] }, nft: 'ok', warnings: [], errors: [] });
  assert.equal(r.vs.calls.slice(calls), ['setInterfaceUp'], 'only the idempotent admin-up of the link');
  assert.is([...r.vs.ifs.values()].find((i) => i.tag === HOST_LINK_TAG)!.mtu, 1500, 'VPP\'s MTU of the link is the Linux end\'s');
});

test('tap host link: VPP\'s tap is the host end (no veth); a tap whose host side went away is re-made; teardown deletes it', async () => {
  const store = new StateStore(join(top, `r${runs++}`));
  await store.init();
  const host = new FakeHost((via) => via.startsWith('192.168.50.'));
  // VPP's tap v2 makes its Linux side in VPP's namespace, the host's here.
  const vs = new FakeVswitch({
    createTap: async (name) => { host.links.set(name, { up: false, addrs: [] }); return name; },
    deleteTap: async (name) => { host.links.delete(name as string); },
    hostLinkExists: async (name) => host.links.has(name),
  });
  const c = new Cluster({ config: { ...config, hostLink: 'tap' }, vswitch: vs, host, store, nodes: new StaticNodeSource([entry(1), entry(2)]), log: () => {} });
  const taps = () => [...vs.ifs.values()].filter((i) => i.tag === HOST_LINK_TAG).map((i) => [i.kind, i.hostIfName, i.up, i.addrs]);
  let rep = await c.reconcile();
  assert.equal(rep.errors, []);
  assert.is(rep.hostLink, 'created');
  assert.equal(taps(), [['tap', 'tsvpp-host', true, ['169.254.100.1/30']]]);
  assert.equal([...host.links.keys()], ['tsvpp-host'], 'the tap\'s host side, no veth');
  assert.equal(host.links.get('tsvpp-host'), { up: true, addrs: ['169.254.100.2/30'] });
  assert.equal([...host.routes.keys()].sort(), ['10.1.1.0/24', '10.1.2.0/24']);
  assert.is((await c.reconcile()).hostLink, 'ok');
  host.links.delete('tsvpp-host');
  rep = await c.reconcile();
  assert.is(rep.hostLink, 'created');
  assert.equal(taps(), [['tap', 'tsvpp-host', true, ['169.254.100.1/30']]], 'one tap again');
  assert.ok(host.routes.has('10.1.1.0/24'), 'the route into VPP is back on the new link');
  assert.equal((await c.teardown()).errors, []);
  assert.equal(taps(), []);
  assert.is(host.links.size, 0);
  assert.is(host.routes.size, 0);
});

test('Services: service NAT on the host link once per link (again when it is made anew, once for a link that predates it), NodePorts DNATed to VPP, ClusterIPs routed into it', async () => {
  const enabled: number[] = [];
  let view: HostServices = { nodePorts: [{ proto: 'TCP', port: 30080 }, { proto: 'UDP', port: 30053 }], clusterIps: ['10.96.0.10', '10.96.0.1'], externals: [] };
  const r = await rig({ hostServices: () => view, enableOnHostLink: async (sw) => { enabled.push(sw); } });
  r.nodes.set([entry(1), entry(2)]);
  let rep = await r.c.reconcile();
  assert.equal(rep.errors, []);
  const link = () => [...r.vs.ifs.values()].find((i) => i.tag === HOST_LINK_TAG)!.swIfIndex;
  assert.equal(enabled, [link()]);
  assert.ok(rep.hostLinkServiceNat);
  assert.is((await r.store.loadNode()).hostLinkServiceNat, link(), 'recorded with the link\'s sw_if_index');
  assert.match(r.host.nft!, '\tchain nodeports {\n\t\tudp dport 30053 dnat to 169.254.100.1\n\t\ttcp dport 30080 dnat to 169.254.100.1\n\t}');
  assert.match(r.host.nft!, 'type nat hook prerouting priority dstnat; policy accept;\n\t\tip daddr != 127.0.0.0/8 fib daddr type local jump nodeports');
  assert.match(r.host.nft!, 'type nat hook output priority -100; policy accept;\n\t\tip daddr != 127.0.0.0/8 fib daddr type local jump nodeports');
  for (const ip of ['10.96.0.1', '10.96.0.10']) assert.equal(r.host.routes.get(`${ip}/32`), { dst: `${ip}/32`, via: '169.254.100.1', dev: 'tsvpp-host', src: '192.168.50.1' });
  rep = await r.c.reconcile();
  assert.not.ok(rep.hostLinkServiceNat);
  assert.equal(enabled.length, 1, 'not again on the same link: VPP would stack a second');
  // The Services change: the host follows.
  view = { nodePorts: [], clusterIps: ['10.96.0.1'], externals: [] };
  rep = await r.c.reconcile();
  assert.equal(rep.hostRoutes.deleted, ['10.96.0.10/32']);
  assert.is(rep.nft, 'replaced');
  assert.not.match(r.host.nft!, 'nodeports');
  // VPP restarted: the link is made anew and gets it again.
  r.vs.vanish(link());
  rep = await r.c.reconcile();
  assert.is(rep.hostLink, 'created');
  assert.equal(enabled, [enabled[0]!, link()]);
  // A link the agent made before it served Services (no record): once.
  const n = await r.store.loadNode();
  delete n.hostLinkServiceNat;
  await r.store.saveNode(n);
  await r.c.reconcile();
  await r.c.reconcile();
  assert.is(enabled.length, 3);
  assert.equal((await r.c.teardown()).errors, []);
  assert.is((await r.store.loadNode()).hostLinkServiceNat, undefined, 'gone with the link');
  assert.is(r.host.routes.size, 0);
});

test('Services: a failure to turn service NAT on is an error of the round, retried by the next', async () => {
  let fail = true;
  const r = await rig({ hostServices: () => ({ nodePorts: [], clusterIps: [], externals: [] }), enableOnHostLink: async () => { if (fail) throw new Error('cnat says no'); } });
  assert.equal((await r.c.reconcile()).errors, ['service NAT on the host link: cnat says no']);
  assert.is((await r.store.loadNode()).hostLinkServiceNat, undefined);
  fail = false;
  const rep = await r.c.reconcile();
  assert.equal(rep.errors, []);
  assert.ok(rep.hostLinkServiceNat);
});

test.run();
