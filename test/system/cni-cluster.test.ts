// The agent's cluster decisions for 1, 2 and 3 nodes (root): each node is a network namespace of
// its own standing for the node's host (with an "underlay" address), a VPP emulator (test
// double) and an agent in this process whose host side (veth, routes, nftables, ip_forward) runs in
// that namespace. Checked: the host link on both sides, VPP's default route, the host routes and
// the masquerade table, VXLAN tunnels in the networks' bridge domains, L3 routes to the other
// nodes' slices; nodes leaving and joining without restarts; an agent restart that finds orphans
// and missing pieces; a VPP restart; teardown leaving nothing. Packets are the real-VPP suite's job
// (test/vpp/cluster.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { addNetns, deleteNetns } from '../../src/cni/linux/ip.js';
import { linuxHost } from '../../src/cni/cluster/host.js';
import { StaticNodeSource, type ClusterNode } from '../../src/cni/cluster/nodes.js';
import { networkVni, nftTable, tunnelTag } from '../../src/cni/cluster/plan.js';
import type { EmuInterface } from '../../src/testing/vpp-emulator/state.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';

const registry = ApiRegistry.fromDir(shippedApiDir());
/** iproute2 in a node's namespace: the test's own hands and eyes, apart from what the agent uses. */
const ipn = (ns: string, args: string[]) => execFileSync('ip', ['-n', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const rnd = randomBytes(3).toString('hex');
const top = mkdtempSync(join(tmpdir(), 'tsvpp-cluster-'));
const VNI_L2 = networkVni('l2net'), VNI_L3 = networkVni('l3net');

const MANIFESTS = `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    contivpp.io/custom-if: l2a/tap/l2net, l3a/tap/l3net
spec:
  containers: [{name: c, image: x}]
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata: {name: l2net}
spec: {type: L2}
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata: {name: l3net}
spec: {type: L3, subnetCIDR: 10.99.0.0/16, subnetOneNodePrefixLen: 24}
`;

const entry = (k: number): ClusterNode => ({ name: `n${k}`, internalIp: `192.168.50.${k}`, podSubnet: `10.1.${k}.0/24` });
const nodes = new StaticNodeSource([]);

class Node {
  readonly ns: string;
  readonly dir: string;
  readonly config: AgentConfig;
  emu!: VppEmulator;
  client!: VppClient;
  agent: Agent | undefined;
  readonly log: string[] = [];
  readonly pods: string[] = [];
  constructor(readonly k: number) {
    this.ns = `tsvc-${rnd}-n${k}`;
    this.dir = join(top, `n${k}`);
    this.config = {
      ...DEFAULT_CONFIG, stateDir: join(this.dir, 'state'), memifSocketDir: join(this.dir, 'memif'), cniSocket: join(this.dir, 'cni.sock'),
      vppApiSocket: join(this.dir, 'api.sock'), podManifests: join(this.dir, 'manifests'), nodeName: `n${this.k}`,
      hostLink: 'veth-afpacket', eth0Kind: 'tap',
    };
  }

  async boot(): Promise<void> {
    mkdirSync(this.config.podManifests!, { recursive: true });
    writeFileSync(join(this.config.podManifests!, 'm.yaml'), MANIFESTS);
    // The node's own Node object gives it its address and slice; the node set is the test's (nodes).
    const self = entry(this.k);
    writeFileSync(join(this.config.podManifests!, 'node.yaml'), nodeManifest({ name: self.name, internalIp: self.internalIp, podCIDR: self.podSubnet }));
    await addNetns(this.ns);
    // The "underlay": a veth with both ends in the node (no packets flow here; the routes need it).
    ipn(this.ns, ['link', 'add', 'name', 'underlay', 'type', 'veth', 'peer', 'name', 'underlay-p']);
    ipn(this.ns, ['addr', 'add', `192.168.50.${this.k}/24`, 'dev', 'underlay']);
    for (const l of ['underlay', 'underlay-p']) ipn(this.ns, ['link', 'set', l, 'up']);
    this.emu = await startVppEmulator({
      // The pods' taps are real ones (made with /dev/net/tun) in this process's namespace, where the
      // agent (in this process) moves them into the pods.
      socketPath: this.config.vppApiSocket, registry, runtimeDir: this.dir, vhostNet: true, kernelTaps: true,
      hooks: {
        // The host link's af_packet: VPP stands for the node's, in the node's namespace.
        onAfPacketCreate: async (r) => { ipn(this.ns, ['link', 'show', 'dev', r.hostIfName]); },
      },
    });
    this.client = await VppClient.connect({ socket: this.config.vppApiSocket, registry, name: `cluster-n${this.k}`, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    await this.start();
  }

  async start(): Promise<void> {
    this.agent = await startAgent(this.config, {
      vswitch: new VppVswitch(this.client), pods: new ManifestPodSource(this.config.podManifests!), host: linuxHost(this.ns), nodes,
      log: (m) => this.log.push(m), vhostNet: true,
    });
  }

  async stop(): Promise<void> { const a = this.agent; this.agent = undefined; await a?.close(); }

  async addPod(): Promise<void> {
    const cid = `c${rnd}n${this.k}x${this.pods.length}`;
    const podNs = `tsvc-${rnd}-p${this.k}x${this.pods.length}`;
    await addNetns(podNs);
    this.pods.push(podNs);
    await this.agent!.pipeline.handle({
      v: 1, command: 'ADD', containerId: cid, netns: podNs, ifName: 'eth0', args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p' },
      config: { cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni' },
    });
  }

  async delPods(): Promise<void> {
    for (const [i, podNs] of this.pods.entries()) {
      await this.agent!.pipeline.handle({ v: 1, command: 'DEL', containerId: `c${rnd}n${this.k}x${i}`, netns: podNs, ifName: 'eth0', args: {}, config: { cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni' } });
      await deleteNetns(podNs);
    }
    this.pods.length = 0;
  }

  ifs(): EmuInterface[] { return [...this.emu.state.interfaces.values()]; }
  tunnels(): Array<{ vni: number; dst: string; bd: number | undefined; shg: number | undefined; tag: string }> {
    return this.ifs().filter((i) => i.vxlan).map((i) => ({ vni: i.vxlan!.vni, dst: i.vxlan!.dst, bd: i.l2?.bdId, shg: i.l2?.shg, tag: i.tag }))
      .sort((a, b) => `${a.dst}/${a.vni}`.localeCompare(`${b.dst}/${b.vni}`));
  }
  /** Routes in VPP as "vrf prefix via nh". */
  routes(): string[] {
    return [...this.emu.state.routes.values()].map((r) => {
      const nh = (r.paths[0] as { nh: { address: { ip4: Uint8Array } } }).nh.address.ip4;
      return `${r.tableId} ${[...r.prefix.address.un.ip4!].join('.')}/${r.prefix.len} via ${[...nh].join('.')}`;
    }).sort();
  }
  hostRoutes(): string[] {
    return execFileSync('ip', ['-n', this.ns, 'route', 'show', 'proto', '116']).toString().trim().split('\n').filter(Boolean).map((l) => l.trim()).sort();
  }
  nft(): string { try { return execFileSync('ip', ['netns', 'exec', this.ns, 'nft', 'list', 'table', 'ip', 'tsvpp'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(); } catch { return ''; } }
  links(): string[] { return (JSON.parse(execFileSync('ip', ['-n', this.ns, '-j', 'link', 'show']).toString()) as Array<{ ifname: string }>).map((l) => l.ifname).sort(); }
  /** A neighbour on the l3net BVI as VPP learns one by ARP (not static). */
  async learn(ip4: string): Promise<void> {
    await this.client.request('ip_neighbor_add_del', {
      is_add: true, neighbor: { sw_if_index: this.network('l3net').loopbackSwIfIndex, flags: 0, mac_address: Uint8Array.from([2, 0, 0, 0, 0, 9]), ip_address: { af: 0, un: { ip4: Uint8Array.from(ip4.split('.').map(Number)) } } },
    });
  }
  /** Learned neighbours in VPP, as addresses. */
  learned(): string[] { return [...this.emu.state.neighbors.values()].filter((x) => (x.flags & 1) === 0).map((x) => [...x.ipAddress.un.ip4!].join('.')).sort(); }
  network(name: string) { return JSON.parse(execFileSync('cat', [join(this.config.stateDir, 'node.json')]).toString()).networks[name]; }
}

const all: Node[] = [];
const node = async (k: number): Promise<Node> => { const n = new Node(k); all.push(n); await n.boot(); return n; };
const want = (self: number, peers: number[]) => peers.filter((p) => p !== self).flatMap((p) => [VNI_L2, VNI_L3].map((vni) => ({ vni, dst: `10.1.${p}.1` })))
  .sort((a, b) => `${a.dst}/${a.vni}`.localeCompare(`${b.dst}/${b.vni}`));

test.after(async () => {
  for (const n of all) {
    try { await n.stop(); } catch { /* closed */ }
    try { await n.client?.close(); } catch { /* closed */ }
    try { await n.emu?.close(); } catch { /* closed */ }
    for (const p of n.pods) await deleteNetns(p).catch(() => undefined);
    await deleteNetns(n.ns).catch(() => undefined);
  }
  rmSync(top, { recursive: true, force: true });
});

test('one node: host link both sides, default route into the host, slice routed into VPP, masquerade, forwarding; no tunnels', async () => {
  nodes.set([entry(1)]);
  const n1 = await node(1);
  assert.ok(n1.links().includes('tsvpp-host') && n1.links().includes('tsvpp-vpp'), n1.links().join());
  const addr = JSON.parse(execFileSync('ip', ['-n', n1.ns, '-j', 'addr', 'show', 'dev', 'tsvpp-host']).toString())[0];
  assert.equal(addr.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`), ['169.254.100.2/30']);
  assert.is(execFileSync('ip', ['netns', 'exec', n1.ns, 'sysctl', '-n', 'net.ipv4.ip_forward']).toString().trim(), '1');
  assert.equal(n1.hostRoutes(), ['10.1.1.0/24 via 169.254.100.1 dev tsvpp-host src 192.168.50.1']);
  assert.is(n1.nft(), nftTable('10.1.1.0/24', '10.1.0.0/16'));
  const link = n1.ifs().find((i) => i.tag === 'tsvpp-node:host-link')!;
  assert.is(link.name, 'host-tsvpp-vpp');
  assert.ok(link.adminUp);
  assert.is(link.mtu, 1500, 'VPP sends no frame the veth would refuse');
  assert.equal(link.addresses.map((a) => `${[...a.address.un.ip4!].join('.')}/${a.len}`), ['169.254.100.1/30']);
  assert.equal(n1.routes(), ['0 0.0.0.0/0 via 169.254.100.2']);
  assert.is((n1.emu.state.routes.get([...n1.emu.state.routes.keys()][0]!)!.paths[0] as { sw_if_index: number }).sw_if_index, link.swIfIndex);

  await n1.addPod();
  assert.equal(n1.tunnels(), [], 'nobody to tunnel to');
  // The L3 network's gateway loopback is its segment's BVI, with the whole subnetCIDR.
  const l3 = n1.network('l3net');
  const loop = n1.emu.state.interfaces.get(l3.loopbackSwIfIndex)!;
  assert.equal(loop.l2, { bdId: l3.bdId, portType: 1, shg: 0 });
  assert.equal(loop.addresses.map((a) => `${[...a.address.un.ip4!].join('.')}/${a.len}`), ['10.99.1.1/16']);
  assert.is(l3.vni, VNI_L3);
  assert.is(n1.network('l2net').vni, VNI_L2);
  // Nothing changes on a second look.
  const again = await n1.agent!.reconcileCluster();
  assert.equal({ ...again!, warnings: [] }, { hostLink: 'ok', hostLinkServiceNat: false, vppRoutes: { added: [], deleted: [] }, tunnels: { added: [], deleted: [] }, neighbors: { deleted: [] }, hostRoutes: { replaced: [], deleted: [] }, overlay: 'none', overlayPeers: { added: [], deleted: [] }, nft: 'ok', warnings: [], errors: [] });
});

test('two, then three nodes join without restarts: tunnels per network and node, L3 routes, host-gw routes', async () => {
  nodes.set([entry(1), entry(2)]);
  const n2 = await node(2);
  const [n1] = all;
  await n1!.agent!.reconcileCluster();
  await n2.addPod();
  assert.equal(n1!.tunnels().map(({ vni, dst }) => ({ vni, dst })), want(1, [2]));
  assert.equal(n2.tunnels().map(({ vni, dst }) => ({ vni, dst })), want(2, [1]));
  nodes.set([entry(1), entry(2), entry(3)]);
  const n3 = await node(3);
  await n3.addPod();
  for (const n of all) await n.agent!.reconcileCluster();
  for (const n of all) {
    const peers = [1, 2, 3].filter((p) => p !== n.k);
    assert.equal(n.tunnels().map(({ vni, dst }) => ({ vni, dst })), want(n.k, peers), `node ${n.k} tunnels`);
    const l2 = n.network('l2net'), l3 = n.network('l3net');
    for (const t of n.tunnels()) {
      assert.is(t.bd, t.vni === VNI_L2 ? l2.bdId : l3.bdId, `tunnel ${t.tag} in its network's bridge domain`);
      assert.is(t.shg, 1);
      assert.is(t.tag, tunnelTag(t.vni, t.dst));
    }
    assert.equal(n.routes().filter((r) => !r.includes('/32')), [
      '0 0.0.0.0/0 via 169.254.100.2',
      ...peers.map((p) => `${l3.vrfId} 10.99.${p}.0/24 via 10.99.${p}.1`),
    ].sort(), `node ${n.k} VPP routes`);
    assert.equal(n.hostRoutes(), [
      `10.1.${n.k}.0/24 via 169.254.100.1 dev tsvpp-host src 192.168.50.${n.k}`,
      ...peers.map((p) => `10.1.${p}.0/24 via 192.168.50.${p} dev underlay`),
    ].sort(), `node ${n.k} host routes`);
  }
});

test('a node leaves: the others drop its tunnels, routes and learned gateway; its teardown leaves nothing; it joins again', async () => {
  const [n1, n2, n3] = all as [Node, Node, Node];
  // What VPP learns by ARP across the L3 segment: the other nodes' gateways on the BVI.
  for (const n of [n1, n2]) for (const k of [1, 2, 3].filter((x) => x !== n.k)) await n.learn(`10.99.${k}.1`);
  nodes.set([entry(1), entry(2)]);
  for (const n of [n1, n2]) {
    await n.agent!.reconcileCluster();
    assert.equal(n.learned(), [`10.99.${3 - n.k}.1`], `node ${n.k} forgot node 3's gateway and kept the other`);
    const s = JSON.stringify([n.tunnels(), n.routes(), n.hostRoutes()]);
    assert.not.ok(s.includes('10.1.3.') || s.includes('10.99.3.'), `node ${n.k} still has something toward node 3: ${s}`);
    assert.equal(n.tunnels().map(({ vni, dst }) => ({ vni, dst })), want(n.k, [1, 2]));
  }
  await n3.delPods();
  const c = n3.agent!.cluster!;
  await n3.stop();
  const r = await c.teardown();
  assert.equal(r.errors, []);
  assert.equal(n3.hostRoutes(), []);
  assert.is(n3.nft(), '');
  assert.not.ok(n3.links().some((l) => l.startsWith('tsvpp')));
  assert.equal(n3.ifs().filter((i) => i.tag.startsWith('tsvpp-node') || i.tag.startsWith('tsvpp-vx') || i.vxlan), []);
  assert.equal(n3.routes().filter((r) => !r.includes('/32')), []);
  // Back again.
  nodes.set([entry(1), entry(2), entry(3)]);
  await n3.start();
  await n3.addPod();
  for (const n of all) await n.agent!.reconcileCluster();
  for (const n of all) assert.equal(n.tunnels().map(({ vni, dst }) => ({ vni, dst })), want(n.k, [1, 2, 3]), `node ${n.k} after the re-join`);
});

test('agent restart: orphans removed, half-made and missing pieces re-created, host drift repaired', async () => {
  const n1 = all[0]!;
  await n1.stop();
  const api = n1.client;
  // A tunnel of ours to a node that no longer exists (tagged), and a half-made one (untagged, from our VTEP).
  const addr = (s: string) => ({ af: 0, un: { ip4: Uint8Array.from(s.split('.').map(Number)) } });
  const mk = async (dst: string, vni: number) => (await api.request<{ sw_if_index: number }>('vxlan_add_del_tunnel_v3', {
    is_add: true, instance: 0xffffffff, src_address: addr('10.1.1.1'), dst_address: addr(dst), mcast_sw_if_index: 0xffffffff, encap_vrf_id: 0, decap_next_index: 0xffffffff, vni,
  })).sw_if_index;
  const stray = await mk('10.1.77.1', VNI_L2);
  await api.request('sw_interface_tag_add_del', { is_add: true, sw_if_index: stray, tag: tunnelTag(VNI_L2, '10.1.77.1') });
  await mk('10.1.78.1', VNI_L3);
  // Someone else's tunnel (another VTEP, no tag) stays.
  const foreign = (await api.request<{ sw_if_index: number }>('vxlan_add_del_tunnel_v3', {
    is_add: true, instance: 0xffffffff, src_address: addr('172.16.0.1'), dst_address: addr('172.16.0.2'), mcast_sw_if_index: 0xffffffff, encap_vrf_id: 0, decap_next_index: 0xffffffff, vni: 5,
  })).sw_if_index;
  // One of ours vanishes.
  const gone = n1.ifs().find((i) => i.vxlan?.dst === '10.1.2.1' && i.vxlan.vni === VNI_L2)!;
  await api.request('vxlan_add_del_tunnel_v3', { is_add: false, src_address: addr('10.1.1.1'), dst_address: addr('10.1.2.1'), vni: VNI_L2, mcast_sw_if_index: 0xffffffff, encap_vrf_id: 0 });
  assert.not.ok(n1.emu.state.interfaces.has(gone.swIfIndex) && n1.emu.state.interfaces.get(gone.swIfIndex)!.vxlan?.vni === VNI_L2);
  // Host drift: a route removed, a stray one of ours, the table emptied.
  ipn(n1.ns, ['route', 'del', '10.1.2.0/24', 'proto', '116']);
  ipn(n1.ns, ['route', 'add', '10.1.88.0/24', 'via', '192.168.50.2', 'proto', '116']);
  execFileSync('ip', ['netns', 'exec', n1.ns, 'nft', 'flush', 'chain', 'ip', 'tsvpp', 'postrouting']);

  await n1.start();
  assert.ok(n1.emu.state.interfaces.get(foreign)?.vxlan, 'a tunnel that is not ours is left alone');
  await api.request('vxlan_add_del_tunnel_v3', { is_add: false, src_address: addr('172.16.0.1'), dst_address: addr('172.16.0.2'), vni: 5, mcast_sw_if_index: 0xffffffff, encap_vrf_id: 0 });
  assert.equal(n1.tunnels().map(({ vni, dst }) => ({ vni, dst })), want(1, [2, 3]));
  assert.ok(n1.tunnels().every((t) => t.tag === tunnelTag(t.vni, t.dst) && t.shg === 1));
  assert.equal(n1.hostRoutes(), ['10.1.1.0/24 via 169.254.100.1 dev tsvpp-host src 192.168.50.1', '10.1.2.0/24 via 192.168.50.2 dev underlay', '10.1.3.0/24 via 192.168.50.3 dev underlay']);
  assert.is(n1.nft(), nftTable('10.1.1.0/24', '10.1.0.0/16'));
  assert.ok(n1.log.some((l) => l.includes('"deleted":["vni')), n1.log.join('\n'));
});

test('VPP restart: the host link, routes and tunnels come back', async () => {
  const n2 = all[1]!;
  const before = { tunnels: n2.tunnels().map(({ vni, dst }) => ({ vni, dst })), hostRoutes: n2.hostRoutes() };
  await n2.emu.restart({ downMs: 50 });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (n2.tunnels().length === before.tunnels.length && n2.ifs().some((i) => i.tag === 'tsvpp-node:host-link') && n2.routes().includes('0 0.0.0.0/0 via 169.254.100.2')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(n2.tunnels().map(({ vni, dst }) => ({ vni, dst })), before.tunnels, n2.log.slice(-5).join('\n'));
  const l3 = n2.network('l3net');
  assert.ok(n2.routes().includes(`${l3.vrfId} 10.99.1.0/24 via 10.99.1.1`), n2.routes().join('\n'));
  assert.equal(n2.hostRoutes(), before.hostRoutes);
});

/** Polls `cond` until it holds; fails naming `what` (and the node's last log lines) after 20 s. */
async function until(n: Node, what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (const end = Date.now() + 20_000; !(await cond());) {
    if (Date.now() > end) assert.unreachable(`${what}: not within 20 s\n${n.log.slice(-8).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('Services with a host link: the host DNATs a NodePort to VPP (the real table as nft lists it), VPP translates it on the link\'s address, the ClusterIP is routed into VPP, the link has service NAT (also after the VPP restart); all gone with the Service', async () => {
  const n1 = all[0]!;
  const vs = new VppVswitch(n1.client);
  const link = () => n1.ifs().find((i) => i.tag === 'tsvpp-node:host-link')!.swIfIndex;
  for (const n of all) assert.ok(n.emu.state.cnat.featureIfs.has(n.ifs().find((i) => i.tag === 'tsvpp-node:host-link')!.swIfIndex), `node ${n.k}: service NAT on its host link`);
  writeFileSync(join(n1.config.podManifests!, 'svc.yaml'), `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: [10.1.2.5]}]
`);
  const table = nftTable('10.1.1.0/24', '10.1.0.0/16', { vip: '169.254.100.1', nodePorts: [{ proto: 'TCP', port: 30080 }] });
  await until(n1, 'the NodePort in the host\'s table', () => n1.nft() === table);
  const tr = (await vs.dumpServiceTranslations()).map((t) => `${t.vip}:${t.port}/${t.proto} -> ${t.backends.map((b) => `${b.ip}:${b.port}`).join(',')}`).sort();
  assert.equal(tr, ['10.96.0.10:80/TCP -> 10.1.2.5:8080', '169.254.100.1:30080/TCP -> 10.1.2.5:8080']);
  assert.ok(n1.hostRoutes().includes('10.96.0.10 via 169.254.100.1 dev tsvpp-host src 192.168.50.1'), n1.hostRoutes().join('\n'));
  assert.is((await n1.agent!.reconcileCluster())!.hostLinkServiceNat, false, 'service NAT on the link once');
  // The endpoint goes: the translations and the DNAT go (the host refuses the port itself); the ClusterIP stays routed (VPP refuses it).
  writeFileSync(join(n1.config.podManifests!, 'svc.yaml'), readFileSync(join(n1.config.podManifests!, 'svc.yaml'), 'utf8').replace('endpoints: [{addresses: [10.1.2.5]}]', 'endpoints: []'));
  await until(n1, 'the NodePort out of the host\'s table', () => n1.nft() === nftTable('10.1.1.0/24', '10.1.0.0/16'));
  assert.equal(await vs.dumpServiceTranslations(), []);
  assert.ok(n1.hostRoutes().includes('10.96.0.10 via 169.254.100.1 dev tsvpp-host src 192.168.50.1'));
  rmSync(join(n1.config.podManifests!, 'svc.yaml'));
  await until(n1, 'the ClusterIP\'s host route and reject route gone', async () => !n1.hostRoutes().some((r) => r.startsWith('10.96.')) && (await vs.dumpRejectRoutes()).length === 0);
  assert.ok(n1.emu.state.cnat.featureIfs.has(link()));
});

test('teardown on every node leaves no VPP object, host route, link or table of the agent', async () => {
  for (const n of all) {
    await n.delPods();
    const c = n.agent!.cluster!;
    await n.stop();
    const r = await c.teardown();
    assert.equal(r.errors, [], `node ${n.k}`);
    assert.equal(n.hostRoutes(), []);
    assert.is(n.nft(), '');
    assert.equal(n.links().filter((l) => l.startsWith('tsvpp')), []);
    assert.equal(n.ifs().filter((i) => i.vxlan || i.tag.startsWith('tsvpp-node') || i.tag.startsWith('tsvpp:')).map((i) => i.name), []);
    assert.equal(n.routes(), []);
    assert.equal(n.learned(), [], `node ${n.k}: learned gateways of the other nodes`);
  }
});

test.run();
