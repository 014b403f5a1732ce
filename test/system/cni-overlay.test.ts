// nodeInterconnect vxlan on real Linux (root): two nodes (network namespaces) on two subnets with
// a router namespace between them, as nodes in two racks or zones are. Each node's cluster
// reconciler (the real host side, linuxHost in its namespace; VPP an in-memory double, the
// overlay being the host's alone) makes the overlay device; checked with iproute2 (device
// settings, neighbour and forwarding entries, routes) and with real packets: the hosts reach each
// other's overlay address, encapsulated in UDP 4789 through the router (its counters), where
// host-gw cannot even route (the same topology, an error naming host-gw). Then: a second round
// changes nothing (what the kernel lists is read back as written), drift repaired (an entry
// deleted, the device made with another port, a stray entry), a node leaving takes its entries and
// route, back to host-gw the device goes, teardown leaves nothing. Pods across the overlay through
// real VPP: test/vpp/cluster-overlay.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addNetns, deleteNetns } from '../../src/cni/linux/ip.js';
import { linuxHost } from '../../src/cni/cluster/host.js';
import { Cluster } from '../../src/cni/cluster/cluster.js';
import { StaticNodeSource, type ClusterNode } from '../../src/cni/cluster/nodes.js';
import { OVERLAY_IFNAME, type NodeInterconnect } from '../../src/cni/cluster/plan.js';
import { StateStore } from '../../src/cni/agent/state.js';
import { FakeVswitch } from '../cni/fakes.js';

const rnd = randomBytes(3).toString('hex');
const top = mkdtempSync(join(tmpdir(), 'tsvpp-overlay-'));
const R = `tsvo-${rnd}-r`;
const made: string[] = [];
const sh = (file: string, args: string[], ns?: string) => execFileSync(ns ? 'ip' : file, ns ? ['netns', 'exec', ns, file, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const ipj = (ns: string, args: string[]) => JSON.parse(sh('ip', ['-j', ...args], ns) || '[]');

const entry = (k: number): ClusterNode => ({ name: `n${k}`, internalIp: `192.168.6${k}.1`, podSubnet: `10.1.${k}.0/24` });
const nodes = new StaticNodeSource([entry(1), entry(2)]);

class Node {
  readonly ns: string;
  cluster!: Cluster;
  constructor(readonly k: number) { this.ns = `tsvo-${rnd}-n${k}`; }
  async boot(): Promise<void> {
    await addNetns(this.ns);
    made.push(this.ns);
    // eth0 into the router, on this node's own subnet; the router is the default gateway.
    sh('ip', ['link', 'add', 'name', `r${this.k}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns], R);
    sh('ip', ['addr', 'add', `192.168.6${this.k}.254/24`, 'dev', `r${this.k}`], R);
    sh('ip', ['link', 'set', `r${this.k}`, 'up'], R);
    for (const c of [['addr', 'add', `192.168.6${this.k}.1/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['link', 'set', 'lo', 'up'], ['route', 'add', 'default', 'via', `192.168.6${this.k}.254`]]) sh('ip', c, this.ns);
    this.cluster = await this.make('vxlan');
  }
  async make(interconnect: NodeInterconnect): Promise<Cluster> {
    const store = new StateStore(join(top, `n${this.k}-${interconnect}`));
    await store.init();
    return new Cluster({
      config: { nodeName: `n${this.k}`, podSubnet: `10.1.${this.k}.0/24`, clusterPodSubnet: '10.1.0.0/16', nodePrefixLen: 24, hostLinkSubnet: '169.254.100.0/30', hostLink: 'veth-afpacket', interconnect },
      vswitch: new FakeVswitch(), host: linuxHost(this.ns), store, nodes, log: () => {},
    });
  }
  device() { return ipj(this.ns, ['-d', 'link', 'show', 'dev', OVERLAY_IFNAME])[0]; }
  neighbors(): string[] { return ipj(this.ns, ['neigh', 'show', 'dev', OVERLAY_IFNAME]).map((n: any) => `${n.dst} ${n.lladdr} ${n.state.join(',')}`).sort(); }
  fdb(): string[] { return JSON.parse(sh('bridge', ['-j', 'fdb', 'show', 'dev', OVERLAY_IFNAME], this.ns) || '[]').map((f: any) => `${f.mac} ${f.dst} ${f.state}`).sort(); }
  routes(): string[] { return sh('ip', ['route', 'show', 'proto', '116'], this.ns).trim().split('\n').filter(Boolean).map((l) => l.trim()).sort(); }
  hasDevice(): boolean { return ipj(this.ns, ['link', 'show']).some((l: any) => l.ifname === OVERLAY_IFNAME); }
  /** Echo replies from `target` (3 sent). */
  ping(target: string): number {
    try { sh('ping', ['-n', '-q', '-c', '3', '-i', '0.2', '-w', '5', target], this.ns); return 3; } catch (e) {
      const m = /(\d+) received/.exec(String((e as { stdout?: Buffer }).stdout ?? ''));
      return m ? Number(m[1]) : 0;
    }
  }
}

const A = new Node(1), B = new Node(2);

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the overlay test needs root (network namespaces, VXLAN devices)');
  await addNetns(R);
  made.push(R);
  sh('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'], R);
  // What crosses the router: the overlay's UDP and anything else, counted.
  execFileSync('ip', ['netns', 'exec', R, 'nft', '-f', '-'], {
    input: 'table ip tsvotest {\n counter overlay {}\n counter rest {}\n chain crossing { type filter hook forward priority 0; policy accept;\n  udp dport 4789 counter name overlay accept\n  counter name rest\n }\n}\n',
  });
});

test.after(async () => {
  for (const ns of made.reverse()) await deleteNetns(ns).catch(() => undefined);
  rmSync(top, { recursive: true, force: true });
});

function routerCounters(): { vxlan: number; other: number } {
  const out = sh('nft', ['list', 'table', 'ip', 'tsvotest'], R);
  const n = (name: string) => Number(new RegExp(`counter ${name} \\{\\s*packets (\\d+)`).exec(out)?.[1] ?? NaN);
  return { vxlan: n('overlay'), other: n('rest') };
}

test('host-gw across a router: the other node\'s slice cannot be routed, and the error names host-gw', async () => {
  await A.boot();
  await B.boot();
  const hostGw = await A.make('host-gw');
  const r = await hostGw.reconcile();
  assert.is(r.errors.length, 1, r.errors.join('\n'));
  assert.match(r.errors[0]!, /host route 10.1.2.0\/24 via 192.168.62.1 \(host-gw: the node must be on this node's link; nodeInterconnect vxlan crosses routers\)/);
  assert.not.ok(A.hasDevice());
  await hostGw.teardown();
});

test('vxlan: the device as planned, one neighbour and one forwarding entry per other node, on-link routes; the hosts reach each other through the router in UDP 4789', async () => {
  for (const n of [A, B]) {
    const r = await n.cluster.reconcile();
    assert.equal(r.errors, [], `node ${n.k}`);
    assert.is(r.overlay, 'created');
  }
  const d = A.device();
  assert.equal(
    { kind: d.linkinfo.info_kind, id: d.linkinfo.info_data.id, port: d.linkinfo.info_data.port, local: d.linkinfo.info_data.local, learning: d.linkinfo.info_data.learning, link: d.linkinfo.info_data.link, mtu: d.mtu, mac: d.address, up: d.flags.includes('UP') },
    { kind: 'vxlan', id: 1, port: 4789, local: '192.168.61.1', learning: false, link: 'eth0', mtu: 1450, mac: '02:01:0a:01:01:00', up: true },
  );
  assert.equal(ipj(A.ns, ['-4', 'addr', 'show', 'dev', OVERLAY_IFNAME])[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`), ['10.1.1.0/32']);
  assert.equal(A.neighbors(), ['10.1.2.0 02:01:0a:01:02:00 PERMANENT']);
  assert.equal(A.fdb(), ['02:01:0a:01:02:00 192.168.62.1 permanent']);
  assert.ok(A.routes().includes('10.1.2.0/24 via 10.1.2.0 dev tsvpp-vxlan onlink'), A.routes().join('\n'));
  assert.ok(B.routes().includes('10.1.1.0/24 via 10.1.1.0 dev tsvpp-vxlan onlink'), B.routes().join('\n'));

  const before = routerCounters();
  assert.is(A.ping('10.1.2.0'), 3, 'node 1 reaches node 2\'s overlay address');
  const after = routerCounters();
  assert.ok(after.vxlan - before.vxlan >= 6, `echoes and replies crossed the router in UDP 4789 (${after.vxlan - before.vxlan})`);
  assert.is(after.other - before.other, 0, 'and nothing else');

  // Read back as written: a second round changes nothing on either node.
  for (const n of [A, B]) {
    const r = await n.cluster.reconcile();
    assert.equal({ overlay: r.overlay, peers: r.overlayPeers, routes: r.hostRoutes, nft: r.nft, errors: r.errors }, { overlay: 'ok', peers: { added: [], deleted: [] }, routes: { replaced: [], deleted: [] }, nft: 'ok', errors: [] }, `node ${n.k}`);
  }
  // The underlay's MTU changes: the device follows at the next round.
  sh('ip', ['link', 'set', 'eth0', 'mtu', '1400'], A.ns);
  assert.is((await A.cluster.reconcile()).overlay, 'ok');
  assert.is(A.device().mtu, 1350);
  sh('ip', ['link', 'set', 'eth0', 'mtu', '1500'], A.ns);
  await A.cluster.reconcile();
  assert.is(A.device().mtu, 1450);
});

/** Received packets of a node's overlay device: what it decapsulated. */
const decapsulated = (n: Node): number => ipj(n.ns, ['-s', 'link', 'show', 'dev', OVERLAY_IFNAME])[0].stats64.rx.packets;

test('a pod cannot use the overlay: VXLAN from the host link to the host\'s own address or another node\'s is dropped before the socket (and is decapsulated without the guard)', async () => {
  // Stand in for VPP's side of node 1's host link: its veth end in a namespace of its own, sending
  // as a pod's packets arrive there. The frame inside: to node 1's overlay MAC, from node 2's slice.
  const P = `tsvo-${rnd}-p`;
  await addNetns(P);
  made.push(P);
  sh('ip', ['link', 'set', 'tsvpp-vpp', 'netns', P], A.ns);
  for (const c of [['addr', 'add', '169.254.100.1/30', 'dev', 'tsvpp-vpp'], ['link', 'set', 'tsvpp-vpp', 'up'], ['route', 'add', 'default', 'via', '169.254.100.2']]) sh('ip', c, P);
  const send = (to: string) => sh(process.execPath, ['-e', `
    const vxlan = Buffer.from('0800000000000100', 'hex');
    const frame = Buffer.from('02010a010100' + '02010a010263' + '0800', 'hex');
    const ip = Buffer.from('4500001c0000400040010000' + '0a010263' + '0a010100' + '0800f7ff00000000', 'hex');
    const s = require('dgram').createSocket('udp4');
    let n = 0;
    const next = () => (n++ < 5 ? s.send(Buffer.concat([vxlan, frame, ip]), 4789, '${to}', next) : s.close());
    next();`], P);
  const [a0, b0] = [decapsulated(A), decapsulated(B)];
  send('192.168.61.1');
  send('192.168.62.1');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal([decapsulated(A) - a0, decapsulated(B) - b0], [0, 0], 'nothing decapsulated on either node');
  // The same packets without the guard reach the sockets: the check above can fail.
  sh('nft', ['flush', 'chain', 'ip', 'tsvpp', 'overlay'], A.ns);
  send('192.168.61.1');
  send('192.168.62.1');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal([decapsulated(A) - a0, decapsulated(B) - b0], [5, 5], 'decapsulated without the guard');
  // Back as it was: the link's VPP end gone with the namespace, the next round makes it anew.
  await deleteNetns(P);
  made.splice(made.indexOf(P), 1);
  const r = await A.cluster.reconcile();
  assert.equal(r.errors, []);
  assert.equal([r.hostLink, r.nft], ['created', 'replaced']);
  assert.is(A.ping('10.1.2.0'), 3);
});

test('drift: a deleted forwarding entry, a stray neighbour, a device made with another port: repaired, and packets flow again', async () => {
  sh('bridge', ['fdb', 'del', '02:01:0a:01:02:00', 'dev', OVERLAY_IFNAME, 'dst', '192.168.62.1', 'self'], A.ns);
  sh('ip', ['neigh', 'replace', '10.1.9.0', 'lladdr', '02:01:0a:01:09:00', 'dev', OVERLAY_IFNAME, 'nud', 'permanent'], A.ns);
  sh('bridge', ['fdb', 'append', '02:01:0a:01:09:00', 'dev', OVERLAY_IFNAME, 'dst', '192.168.69.1', 'self', 'permanent'], A.ns);
  let r = await A.cluster.reconcile();
  assert.equal(r.errors, []);
  assert.equal(r.overlayPeers.deleted.sort(), ['fdb 02:01:0a:01:09:00 192.168.69.1', 'neighbour 10.1.9.0']);
  assert.equal(r.overlayPeers.added, ['10.1.2.0 02:01:0a:01:02:00 192.168.62.1']);
  assert.equal(A.neighbors(), ['10.1.2.0 02:01:0a:01:02:00 PERMANENT']);
  assert.equal(A.fdb(), ['02:01:0a:01:02:00 192.168.62.1 permanent']);

  sh('ip', ['link', 'del', OVERLAY_IFNAME], B.ns);
  sh('ip', ['link', 'add', OVERLAY_IFNAME, 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', '192.168.62.1'], B.ns);
  r = await B.cluster.reconcile();
  assert.equal(r.errors, []);
  assert.is(r.overlay, 'replaced');
  assert.is(B.device().linkinfo.info_data.port, 4789);
  assert.is(A.ping('10.1.2.0'), 3);
});

test('three nodes, then two leave: their entries and routes go; back to host-gw the device goes; teardown leaves nothing', async () => {
  nodes.set([entry(1), entry(2), entry(3)]);
  assert.equal((await A.cluster.reconcile()).errors, []);
  assert.is((await A.cluster.reconcile()).nft, 'ok', 'the guard\'s set of two read back as written');
  assert.match(sh('nft', ['list', 'chain', 'ip', 'tsvpp', 'overlay'], A.ns), /ip daddr \{ 192.168.62.1, 192.168.63.1 \} udp dport 4789 drop/);
  nodes.set([entry(1)]);
  const r = await A.cluster.reconcile();
  assert.equal(r.errors, []);
  assert.equal(r.overlayPeers.deleted.sort(), ['fdb 02:01:0a:01:02:00 192.168.62.1', 'fdb 02:01:0a:01:03:00 192.168.63.1', 'neighbour 10.1.2.0', 'neighbour 10.1.3.0']);
  assert.equal(r.hostRoutes.deleted.sort(), ['10.1.2.0/24', '10.1.3.0/24']);
  assert.equal([A.neighbors(), A.fdb()], [[], []]);
  assert.ok(A.hasDevice(), 'a lone node keeps its device (the next node needs no restart)');
  nodes.set([entry(1), entry(2)]);
  const hostGw = await B.make('host-gw');
  assert.is((await hostGw.reconcile()).overlay, 'deleted');
  assert.not.ok(B.hasDevice());
  assert.equal((await hostGw.teardown()).errors, []);
  const t = await A.cluster.teardown();
  assert.equal(t.errors, []);
  assert.ok(t.removed.includes(`link ${OVERLAY_IFNAME}`), t.removed.join());
  for (const n of [A, B]) {
    assert.not.ok(n.hasDevice());
    assert.equal(n.routes(), []);
    assert.equal(ipj(n.ns, ['link', 'show']).map((l: any) => l.ifname).sort(), ['eth0', 'lo']);
  }
});

test.run();
