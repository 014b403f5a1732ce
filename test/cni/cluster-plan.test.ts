// The cluster plan (pure): what a node's VPP, host routes and nftables table should hold for 1, 2
// and 3 nodes, and its invariants over random clusters; node list validation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { hostLinkAddresses, networkVni, nftTable, overlayAddressOf, overlayMac, plan, tunnelTag, vtepOf, type NodeInterconnect, type PlanInput } from '../../src/cni/cluster/plan.js';
import { NodeListError, validateNodes, type ClusterNode } from '../../src/cni/cluster/nodes.js';
import type { NetworkState } from '../../src/cni/agent/state.js';
import { contains4, parsePrefix4 } from '../../src/cni/ipv4.js';

const node = (k: number): ClusterNode => ({ name: `n${k}`, internalIp: `192.168.50.${k}`, podSubnet: `10.1.${k}.0/24` });
const nets = (k: number): NetworkState[] => [
  { name: 'default', kind: 'default', vrfId: 0, loopbackSwIfIndex: 1, gateway: `10.1.${k}.1/24`, nodeSubnet: `10.1.${k}.0/24` },
  { name: 'l2net', kind: 'L2', vrfId: 0, bdId: 1, vni: networkVni('l2net') },
  { name: 'l3net', kind: 'L3', vrfId: 1, bdId: 2, vni: networkVni('l3net'), loopbackSwIfIndex: 5, gateway: `10.99.${k}.1/16`, nodeSubnet: `10.99.${k}.0/24`, subnetCIDR: '10.99.0.0/16' },
];
const input = (self: number, nodes: ClusterNode[], networks = nets(self), interconnect: NodeInterconnect = 'host-gw'): PlanInput => ({
  self: { name: `n${self}`, podSubnet: `10.1.${self}.0/24`, internalIp: `192.168.50.${self}` },
  nodes, podSubnet: '10.1.0.0/16', nodePrefixLen: 24, hostLinkSubnet: '169.254.100.0/30', hostLinkSwIfIndex: 3, networks, interconnect,
});

test('one node: default route to the host, its slice routed into VPP, masquerade; no tunnels', () => {
  const p = plan(input(1, [node(1)]));
  assert.is(p.vppLinkAddress, '169.254.100.1/30');
  assert.is(p.hostLinkAddress, '169.254.100.2/30');
  assert.equal(p.vppRoutes, [{ prefix: '0.0.0.0/0', vrfId: 0, swIfIndex: 3, nextHop: '169.254.100.2' }]);
  assert.equal(p.hostRoutes, [{ dst: '10.1.1.0/24', via: '169.254.100.1', dev: 'tsvpp-host', src: '192.168.50.1' }]);
  assert.equal(p.tunnels, []);
  assert.match(p.nftTable, 'ip saddr 10.1.1.0/24 ip daddr != 10.1.0.0/16 masquerade');
  assert.equal(p.warnings, []);
  // Without a node list (a lone node): no source address on the host route.
  assert.equal(plan({ ...input(1, []), self: { name: 'n1', podSubnet: '10.1.1.0/24' } }).hostRoutes, [{ dst: '10.1.1.0/24', via: '169.254.100.1', dev: 'tsvpp-host' }]);
});

test('two nodes: host-gw route to the other slice, a tunnel per overlay network, L3 slice via the other gateway', () => {
  const p = plan(input(1, [node(1), node(2)]));
  assert.equal(p.hostRoutes.slice(1), [{ dst: '10.1.2.0/24', via: '192.168.50.2' }]);
  assert.equal(p.tunnels, [
    { network: 'l2net', node: 'n2', vni: networkVni('l2net'), src: '10.1.1.1', dst: '10.1.2.1', bdId: 1, tag: tunnelTag(networkVni('l2net'), '10.1.2.1') },
    { network: 'l3net', node: 'n2', vni: networkVni('l3net'), src: '10.1.1.1', dst: '10.1.2.1', bdId: 2, tag: tunnelTag(networkVni('l3net'), '10.1.2.1') },
  ]);
  assert.equal(p.vppRoutes.slice(1), [{ prefix: '10.99.2.0/24', vrfId: 1, swIfIndex: 5, nextHop: '10.99.2.1' }]);
});

test('three nodes: everything per other node; a node gone takes its routes and tunnels with it', () => {
  const three = plan(input(2, [node(1), node(2), node(3)]));
  assert.equal(three.hostRoutes.map((r) => `${r.dst} via ${r.via}`), ['10.1.2.0/24 via 169.254.100.1', '10.1.1.0/24 via 192.168.50.1', '10.1.3.0/24 via 192.168.50.3']);
  assert.is(three.tunnels.length, 4);
  assert.equal(three.tunnels.map((t) => t.dst).sort(), ['10.1.1.1', '10.1.1.1', '10.1.3.1', '10.1.3.1']);
  assert.equal(three.vppRoutes.map((r) => r.prefix), ['0.0.0.0/0', '10.99.1.0/24', '10.99.3.0/24']);
  const two = plan(input(2, [node(1), node(2)]));
  assert.not.ok(JSON.stringify(two).includes('10.1.3.'));
  assert.not.ok(JSON.stringify(two).includes('10.99.3.'));
});

test('vxlan: a host overlay device from the node\'s InternalIP, each other slice on-link via that node\'s device address; VPP\'s side unchanged', () => {
  const nodes = [node(1), node(2), { name: 'far', internalIp: '10.200.0.5', podSubnet: '10.1.9.0/24' }];
  const p = plan(input(1, nodes, nets(1), 'vxlan'));
  assert.equal(p.overlay, {
    device: { name: 'tsvpp-vxlan', vni: 1, port: 4789, local: '192.168.50.1', mac: '02:01:0a:01:01:00', address: '10.1.1.0/32' },
    peers: [
      { node: 'far', ip: '10.1.9.0', mac: '02:01:0a:01:09:00', remote: '10.200.0.5' },
      { node: 'n2', ip: '10.1.2.0', mac: '02:01:0a:01:02:00', remote: '192.168.50.2' },
    ],
  });
  assert.equal(p.hostRoutes.slice(1), [
    { dst: '10.1.9.0/24', via: '10.1.9.0', dev: 'tsvpp-vxlan', onlink: true },
    { dst: '10.1.2.0/24', via: '10.1.2.0', dev: 'tsvpp-vxlan', onlink: true },
  ]);
  const hostGw = plan(input(1, nodes));
  assert.is(hostGw.overlay, undefined);
  assert.equal({ ...p, overlay: undefined, hostRoutes: [], nftTable: '' }, { ...hostGw, overlay: undefined, hostRoutes: [], nftTable: '' }, 'tunnels, VPP routes: the same');
  // nftables: host-gw's table and a guard of the overlay in front (as nft prints it: set elements in address order).
  assert.is(p.nftTable, hostGw.nftTable.replace('table ip tsvpp {\n', [
    'table ip tsvpp {',
    '\tchain overlay {',
    '\t\ttype filter hook prerouting priority raw; policy accept;',
    '\t\tiifname "tsvpp-vxlan" ip saddr != 10.1.0.0/16 drop',
    '\t\tiifname "tsvpp-host" udp dport 4789 fib daddr type local drop',
    '\t\tiifname "tsvpp-host" ip daddr { 10.200.0.5, 192.168.50.2 } udp dport 4789 drop',
    '\t}',
    '',
    '',
  ].join('\n')));
  assert.match(plan(input(1, [node(1), node(2)], nets(1), 'vxlan')).nftTable, '\t\tiifname "tsvpp-host" ip daddr 192.168.50.2 udp dport 4789 drop\n');
  assert.equal(p.warnings, []);
  // Addresses and MACs: the slice's network address, which IPAM never hands out; one MAC per node.
  assert.is(overlayAddressOf('10.1.7.0/24'), '10.1.7.0');
  assert.is(overlayMac('10.1.7.128/25'), '02:01:0a:01:07:80');
  // This node without an InternalIP: no device, no routes to others, said why.
  const lost = plan({ ...input(1, nodes, nets(1), 'vxlan'), self: { name: 'n1', podSubnet: '10.1.1.0/24' } });
  assert.is(lost.overlay, undefined);
  assert.is(lost.hostRoutes.length, 1);
  assert.match(lost.warnings.join(), /nodeInterconnect vxlan: this node has no InternalIP in the node list/);
  // Alone: a device without peers (a node that joins later needs no restart).
  assert.equal(plan(input(1, [node(1)], nets(1), 'vxlan')).overlay?.peers, []);
});

test('a peer with no slice in an L3 network, or with this node\'s slice, is named in a warning', () => {
  const small: NetworkState = { name: 'tiny', kind: 'L3', vrfId: 2, bdId: 3, vni: networkVni('tiny'), loopbackSwIfIndex: 6, gateway: '10.50.0.1/23', nodeSubnet: '10.50.0.0/24', subnetCIDR: '10.50.0.0/23' };
  const p = plan(input(1, [node(1), node(5)], [...nets(1), small]));
  assert.ok(p.warnings.some((w) => w.includes('node n5 has no slice of L3 network tiny')));
  assert.ok(p.tunnels.some((t) => t.network === 'tiny'), 'the segment is there; only the route is missing');
  const dup = plan(input(1, [node(1), { name: 'n9', internalIp: '192.168.50.9', podSubnet: '10.1.1.0/24' }]));
  assert.match(dup.warnings.join(), /node n9 has this node's pod subnet 10.1.1.0\/24/);
  assert.is(dup.hostRoutes.length, 1);
});

test('VNIs: deterministic, 24-bit, not 0; host link addresses', () => {
  assert.is(networkVni('l2net'), networkVni('l2net'));
  assert.is.not(networkVni('l2net'), networkVni('l3net'));
  fc.assert(fc.property(fc.string({ minLength: 1 }), (n) => { const v = networkVni(n); return v >= 1 && v <= 0xffffff; }));
  assert.equal(hostLinkAddresses('169.254.100.0/30'), { vpp: '169.254.100.1', host: '169.254.100.2', len: 30 });
  assert.throws(() => hostLinkAddresses('169.254.100.0/31'), /smaller than a \/30/);
  assert.is(vtepOf('10.1.7.0/24'), '10.1.7.1');
  assert.is(nftTable('10.1.1.0/24', '10.1.0.0/16').split('\n')[0], 'table ip tsvpp {');
});

test('Services: NodePorts DNATed to VPP\'s end of the link on the host\'s own addresses, in nft\'s own layout; ClusterIPs routed into VPP from the node\'s address', () => {
  const p = plan({ ...input(1, [node(1)]), services: { nodePorts: [{ proto: 'UDP', port: 30053 }, { proto: 'TCP', port: 30080 }, { proto: 'TCP', port: 30053 }, { proto: 'TCP', port: 30080 }], clusterIps: ['10.96.0.10', '10.96.0.1', '10.1.3.3'], externals: [] } });
  // As `nft list table ip tsvpp` (nftables 1.0.6) prints what nftReplace loads: the reconciler compares the texts.
  assert.is(p.nftTable, [
    'table ip tsvpp {',
    '\tchain nodeports {',
    '\t\ttcp dport 30053 dnat to 169.254.100.1',
    '\t\tudp dport 30053 dnat to 169.254.100.1',
    '\t\ttcp dport 30080 dnat to 169.254.100.1',
    '\t}',
    '',
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    '\t\tip daddr != 127.0.0.0/8 fib daddr type local jump nodeports',
    '\t}',
    '',
    '\tchain output {',
    '\t\ttype nat hook output priority -100; policy accept;',
    '\t\tip daddr != 127.0.0.0/8 fib daddr type local jump nodeports',
    '\t}',
    '',
    '\tchain postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    '\t\tip saddr 10.1.1.0/24 ip daddr != 10.1.0.0/16 masquerade',
    '\t}',
    '}',
    '',
  ].join('\n'));
  assert.equal(p.hostRoutes.slice(1), ['10.96.0.1', '10.96.0.10'].map((ip) => ({ dst: `${ip}/32`, via: '169.254.100.1', dev: 'tsvpp-host', src: '192.168.50.1' })));
  assert.equal(p.warnings, ['ClusterIP 10.1.3.3 is inside the pod subnet 10.1.0.0/16: no host route']);
  // No NodePorts: the masquerade table alone, as before Services.
  assert.is(plan({ ...input(1, [node(1)]), services: { nodePorts: [], clusterIps: [], externals: [] } }).nftTable, nftTable('10.1.1.0/24', '10.1.0.0/16'));
  assert.not.match(nftTable('10.1.1.0/24', '10.1.0.0/16'), 'nodeports');
});

test('Services: external and load balancer IPs: exactly address:port DNATed to its link port (before routing and before the NodePorts, from outside and from the host), new connections to unserved ones refused (TCP with a reset), as nft lists them', () => {
  const p = plan({ ...input(1, [node(1)]), services: { nodePorts: [{ proto: 'TCP', port: 30080 }], clusterIps: [], externals: [
    { ip: '203.0.113.7', proto: 'TCP', port: 80, linkPort: 21234 }, { ip: '198.51.100.7', proto: 'UDP', port: 53, linkPort: 25000 },
    { ip: '198.51.100.9', proto: 'SCTP', port: 80 }, { ip: '198.51.100.9', proto: 'TCP', port: 80 },
  ] } });
  // As nftables 1.0.6 printed this very table (loaded and listed in a scratch namespace).
  assert.match(p.nftTable, [
    '\tchain externals {',
    '\t\tip daddr 198.51.100.7 udp dport 53 dnat to 169.254.100.1:25000',
    '\t\tip daddr 203.0.113.7 tcp dport 80 dnat to 169.254.100.1:21234',
    '\t}',
    '',
    '\tchain nodeports {',
    '\t\ttcp dport 30080 dnat to 169.254.100.1',
    '\t}',
    '',
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    '\t\tjump externals',
    '\t\tip daddr != 127.0.0.0/8 fib daddr type local jump nodeports',
    '\t}',
    '',
    '\tchain output {',
    '\t\ttype nat hook output priority -100; policy accept;',
    '\t\tjump externals',
    '\t\tip daddr != 127.0.0.0/8 fib daddr type local jump nodeports',
    '\t}',
    '',
    '\tchain unserved {',
    '\t\ttype filter hook forward priority filter; policy accept;',
    '\t\tct state new ip daddr 198.51.100.9 sctp dport 80 reject',
    '\t\tct state new ip daddr 198.51.100.9 tcp dport 80 reject with tcp reset',
    '\t}',
  ].join('\n'));
  assert.equal(p.hostRoutes.length, 1, 'no route for the addresses themselves');
  // Nothing of it without external addresses: the table as before.
  assert.is(plan({ ...input(1, [node(1)]), services: { nodePorts: [], clusterIps: [], externals: [] } }).nftTable, nftTable('10.1.1.0/24', '10.1.0.0/16'));
});

test('property: for any cluster, tunnels and routes match the peers exactly', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }), fc.nat(), fc.constantFrom<NodeInterconnect>('host-gw', 'vxlan'), (ids, pick, mode) => {
    const self = ids[pick % ids.length]!;
    const p = plan(input(self, ids.map(node), nets(self), mode));
    if (mode === 'vxlan') {
      assert.equal(p.overlay!.peers.map((x) => x.remote).sort(), ids.filter((k) => k !== self).map((k) => `192.168.50.${k}`).sort());
      assert.is(new Set(p.overlay!.peers.map((x) => x.mac)).add(p.overlay!.device.mac).size, ids.length, 'MACs are unique');
      for (const r of p.hostRoutes.slice(1)) assert.ok(r.onlink && r.dev === 'tsvpp-vxlan' && contains4(parsePrefix4(r.dst), r.via));
    } else assert.is(p.overlay, undefined);
    const peers = ids.length - 1;
    assert.is(p.tunnels.length, 2 * peers);
    assert.is(new Set(p.tunnels.map((t) => t.tag)).size, p.tunnels.length, 'tags are unique');
    assert.is(p.hostRoutes.length, 1 + peers);
    assert.is(p.vppRoutes.length, 1 + peers);
    for (const r of p.vppRoutes.slice(1)) assert.ok(contains4(parsePrefix4(r.prefix), r.nextHop));
    for (const t of p.tunnels) assert.ok(t.src === `10.1.${self}.1` && t.dst !== t.src);
  }));
});

test('node list validation names the entry and the problem', () => {
  const c = { podSubnet: '10.1.0.0/16', nodePrefixLen: 24 };
  assert.equal(validateNodes([node(1), node(2)], c, 'f'), [node(1), node(2)]);
  const bad = (list: unknown, re: RegExp) => {
    try { validateNodes(list, c, 'f'); assert.unreachable(); } catch (e) { assert.instance(e, NodeListError); assert.match((e as Error).message, re); }
  };
  bad({}, /f: expected a list of nodes/);
  bad([{ ...node(1), name: 'Bad_Name' }], /f: node 1: name "Bad_Name" is not a Kubernetes node name/);
  bad([{ ...node(1), internalIp: '300.1.1.1' }], /node 1 \(n1\): internalIp "300.1.1.1" is not an IPv4 address/);
  bad([{ ...node(1), podSubnet: '10.2.1.0/24' }], /podSubnet 10.2.1.0\/24 is not a \/24 slice of the cluster pod subnet 10.1.0.0\/16/);
  bad([{ ...node(1), podSubnet: '10.1.0.0/23' }], /is not a \/24 slice/);
  bad([{ ...node(1), internalIp: '10.1.9.9' }], /internalIp 10.1.9.9 is inside the pod subnet/);
  bad([node(1), { ...node(2), internalIp: node(1).internalIp }], /node 2 \(n2\): internalIp 192.168.50.1 is also node 1's/);
  bad([node(1), { ...node(2), podSubnet: node(1).podSubnet }], /node 2 \(n2\): podSubnet 10.1.1.0\/24 is also node 1's/);
  bad([node(1), { ...node(2), name: 'n1' }], /name n1 is also node 1's/);
  bad([{ ...node(1), zone: 'a' }], /unknown field "zone"/);
});

test.run();
