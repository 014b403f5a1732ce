// Every message the agent sends, through the agent's own VppVswitch, against real VPP: each
// operation's effect is read back with VPP's dumps, each delete is checked to remove it, and each
// delete of something already gone must succeed or come back as notFound (the agent's DEL relies on
// that to stay idempotent). tap needs /dev/vhost-net; where it is missing the error must say so.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { POD_AF_PACKET_TX_FRAMES } from '../../src/cni/agent/kinds/veth.js';
import { VswitchError } from '../../src/cni/agent/vswitch.js';
import { addNetns, deleteLinkIfExists, deleteNetns, createVeth } from '../../src/cni/linux/ip.js';
import type { VppClient } from '../../src/vppapi/client/index.js';
import { Vpp } from './support/vpp.js';

const NO_INDEX = 0xffffffff;
const rnd = randomBytes(3).toString('hex');
const veth = { a: `tvs${rnd}a`, b: `tvs${rnd}b`, c: `tvs${rnd}c`, d: `tvs${rnd}d` };
const netns = `tsvpp-vs-${rnd}`;
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-vswitch-'));
let vpp: Vpp;
let api: VppClient;
let vs: VppVswitch;

test.before(async () => {
  await createVeth({ name: veth.a, peer: veth.b, up: true });
  await createVeth({ name: veth.c, peer: veth.d, up: true });
  await addNetns(netns);
  vpp = await Vpp.start();
  api = await vpp.connect();
  vs = new VppVswitch(await vpp.connect());
});

test.after(async () => {
  await vs?.close().catch(() => undefined);
  await api?.close().catch(() => undefined);
  await vpp?.stop();
  for (const v of [veth.a, veth.c]) await deleteLinkIfExists(v).catch(() => undefined);
  await deleteNetns(netns).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** Deleting what is not there: VPP answers success (routes, VRFs) or an error the agent reads as "gone". */
async function notFound(what: string, p: Promise<unknown>): Promise<void> {
  const e = await p.then(() => null, (x) => x);
  if (e === null) return;
  assert.instance(e, VswitchError, `${what}: expected success or a VswitchError, got ${e}`);
  assert.ok((e as VswitchError).notFound, `${what}: ${(e as Error).message} should count as already gone`);
}

/** The TX ring of af_packet NAME, from `show hardware-interfaces` ("frame size:N nr:N"). */
const txRing = async (name: string) => {
  const out = (await api.request<any>('cli_inband', { cmd: `show hardware-interfaces ${name}` })).reply as string;
  const m = /TX Queue 0:\s+block size:\d+ nr:\d+\s+(frame size:\d+ nr:\d+)/.exec(out);
  if (!m) throw new Error(`no TX ring in show hardware-interfaces ${name}:\n${out}`);
  return m[1]!;
};
const ifs = async () => new Map((await vs.dumpInterfaces()).map((i) => [i.swIfIndex, i]));
const ip4 = (b: Uint8Array) => [...b].join('.');
const addresses = async (sw: number) => (await api.dump<any>('ip_address_dump', { sw_if_index: sw, is_ipv6: false })).map((x) => `${ip4(x.prefix.address.un.ip4)}/${x.prefix.len}`);
const routes = async (table: number) => (await api.dump<any>('ip_route_dump', { table: { table_id: table, is_ip6: false, name: '' } }))
  .map((x) => ({ prefix: `${ip4(x.route.prefix.address.un.ip4)}/${x.route.prefix.len}`, paths: x.route.paths.map((p: any) => ({ sw: p.sw_if_index, nh: ip4(p.nh.address.ip4) })) }));

test('ping (STATUS): a control ping that VPP answers', async () => {
  await vs.ping();
});

test('loopback with a tag, address, admin up; VRF and binding; unnumbered; delete and delete again', async () => {
  const loop = await vs.createLoopback({ tag: 'tsvpp-net:test' });
  let i = (await ifs()).get(loop.swIfIndex)!;
  assert.match(i.name, /^loop\d+$/);
  assert.is(i.tag, 'tsvpp-net:test');
  assert.is(i.up, false);
  await vs.addInterfaceAddress(loop.swIfIndex, '10.201.1.1/24');
  assert.equal(await addresses(loop.swIfIndex), ['10.201.1.1/24']);
  await vs.setInterfaceUp(loop.swIfIndex, true);
  i = (await ifs()).get(loop.swIfIndex)!;
  assert.is(i.up, true);

  await vs.addVrf(17, 'tsvpp-l3test');
  const tables = await api.dump<any>('ip_table_dump', {});
  assert.ok(tables.some((t) => t.table.table_id === 17 && !t.table.is_ip6 && t.table.name === 'tsvpp-l3test'), JSON.stringify(tables.map((t) => t.table)));
  const loop2 = await vs.createLoopback({ tag: 'tsvpp-net:l3' });
  await vs.setInterfaceVrf(loop2.swIfIndex, 17);
  const t = await api.request<any>('sw_interface_get_table', { sw_if_index: loop2.swIfIndex, is_ipv6: false });
  assert.is(t.vrf_id, 17);

  const loop3 = await vs.createLoopback({ tag: 'x' });
  await vs.setUnnumbered(loop3.swIfIndex, loop.swIfIndex);
  const un = await api.dump<any>('ip_unnumbered_dump', { sw_if_index: NO_INDEX });
  assert.ok(un.some((u) => u.sw_if_index === loop3.swIfIndex && u.ip_sw_if_index === loop.swIfIndex), JSON.stringify(un));

  for (const l of [loop3, loop2, loop]) await vs.deleteLoopback(l.swIfIndex);
  await vs.deleteVrf(17);
  const left = await ifs();
  for (const l of [loop, loop2, loop3]) assert.not.ok(left.has(l.swIfIndex));
  assert.not.ok((await api.dump<any>('ip_table_dump', {})).some((x) => x.table.table_id === 17));
  await notFound('delete_loopback again', vs.deleteLoopback(loop.swIfIndex));
  await notFound('ip_table_add_del (delete) again', vs.deleteVrf(17));
});

test('af_packet on a veth: host-<name>, tagged, MAC; route with next hop; static neighbour; delete and again', async () => {
  const loop = await vs.createLoopback({ tag: 'gw' });
  await vs.addInterfaceAddress(loop.swIfIndex, '10.202.0.1/24');
  const af = await vs.createAfPacket({ hostIfName: veth.a, tag: 'tsvpp:cid:eth0' });
  const i = (await ifs()).get(af.swIfIndex)!;
  assert.is(i.name, `host-${veth.a}`);
  assert.is(i.tag, 'tsvpp:cid:eth0');
  assert.match(af.mac ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.is(i.mac, af.mac);
  const afd = await api.dump<any>('af_packet_dump', {});
  assert.ok(afd.some((x) => x.sw_if_index === af.swIfIndex && x.host_if_name === veth.a));
  // VPP's default TX ring (1024 frames of 66 KB) unless txFrames says otherwise; the frame size stays.
  assert.match(await txRing(`host-${veth.a}`), /frame size:67584 nr:1024\b/);

  await vs.setUnnumbered(af.swIfIndex, loop.swIfIndex);
  await vs.setInterfaceUp(af.swIfIndex, true);
  const route = { prefix: '10.202.0.7/32', vrfId: 0, swIfIndex: af.swIfIndex, nextHop: '10.202.0.7' };
  await vs.addRoute(route);
  assert.ok((await routes(0)).some((r) => r.prefix === '10.202.0.7/32' && r.paths.some((p: any) => p.sw === af.swIfIndex && p.nh === '10.202.0.7')));
  const n = { swIfIndex: af.swIfIndex, ip: '10.202.0.7', mac: '02:00:00:aa:bb:cc' };
  await vs.addNeighbor(n);
  const nd = await api.dump<any>('ip_neighbor_dump', { sw_if_index: af.swIfIndex, af: 0 });
  assert.equal(nd.map((x) => ({ ip: ip4(x.neighbor.ip_address.un.ip4), flags: x.neighbor.flags })), [{ ip: '10.202.0.7', flags: 1 }]);
  await vs.addNeighbor(n); // again: the agent re-adds on re-wire

  // What a veth pool member handed back is checked for (veth-pool.ts), read back, then undone.
  assert.is(await vs.unnumberedFrom(af.swIfIndex), loop.swIfIndex);
  assert.is(await vs.unnumberedFrom(loop.swIfIndex), undefined);
  assert.is(await vs.interfaceVrf(af.swIfIndex), 0);
  assert.equal(await vs.routesThrough(af.swIfIndex, 0), ['10.202.0.7/32']);
  await vs.clearCounters(af.swIfIndex);
  await vs.unsetUnnumbered(af.swIfIndex);
  assert.is(await vs.unnumberedFrom(af.swIfIndex), undefined);
  assert.not.match(await vpp.cli(`show interface addr host-${veth.a}`), /unnumbered/);
  await vs.unsetUnnumbered(af.swIfIndex); // not unnumbered: nothing happens

  await vs.deleteNeighbor(n);
  assert.equal(await api.dump<any>('ip_neighbor_dump', { sw_if_index: af.swIfIndex, af: 0 }), []);
  await notFound('ip_neighbor_add_del (delete) again', vs.deleteNeighbor(n));
  await vs.deleteRoute(route);
  assert.not.ok((await routes(0)).some((r) => r.prefix === '10.202.0.7/32'));
  await notFound('ip_route_add_del (delete) again', vs.deleteRoute(route));
  await vs.deleteAfPacket({ hostIfName: veth.a, swIfIndex: af.swIfIndex });
  assert.not.ok((await ifs()).has(af.swIfIndex));
  await notFound('af_packet_delete again', vs.deleteAfPacket({ hostIfName: veth.a, swIfIndex: af.swIfIndex }));
  await vs.deleteLoopback(loop.swIfIndex);
});

test('af_packet with a smaller TX ring (a pod veth\'s): txFrames frames of VPP\'s default size', async () => {
  const af = await vs.createAfPacket({ hostIfName: veth.a, tag: 'tsvpp:cid:eth0', txFrames: POD_AF_PACKET_TX_FRAMES });
  try {
    assert.match(await txRing(`host-${veth.a}`), new RegExp(`frame size:67584 nr:${POD_AF_PACKET_TX_FRAMES}\\b`));
  } finally { await vs.deleteAfPacket({ hostIfName: veth.a, swIfIndex: af.swIfIndex }); }
});

test('memif socket and master memif: memifN/M, role, id, secret; delete in use refused; delete and again', async () => {
  const filename = join(dir, 'memif.sock');
  await vs.addMemifSocket({ socketId: 42, filename });
  const socks = await api.dump<any>('memif_socket_filename_dump', {});
  assert.ok(socks.some((s) => s.socket_id === 42 && s.socket_filename === filename));
  const m = await vs.createMemif({ socketId: 42, id: 3, secret: 'sekrit', tag: 'tsvpp:cid:m1' });
  const i = (await ifs()).get(m.swIfIndex)!;
  assert.is(i.name, 'memif42/3');
  assert.is(i.tag, 'tsvpp:cid:m1');
  const md = (await api.dump<any>('memif_dump', {})).find((x) => x.sw_if_index === m.swIfIndex);
  assert.ok(md);
  assert.equal([md.role, md.id, md.socket_id, md.mode], [0, 3, 42, 0]);
  assert.ok(existsSync(filename), 'VPP listens on the socket');
  const inUse = await vs.deleteMemifSocket(42).then(() => null, (e) => e);
  assert.instance(inUse, VswitchError);
  assert.not.ok((inUse as VswitchError).notFound, `deleting a socket in use is an error, not "gone": ${(inUse as Error).message}`);
  await vs.deleteMemif(m.swIfIndex);
  assert.not.ok((await ifs()).has(m.swIfIndex));
  await notFound('memif_delete again', vs.deleteMemif(m.swIfIndex));
  await vs.deleteMemifSocket(42);
  assert.not.ok((await api.dump<any>('memif_socket_filename_dump', {})).some((s) => s.socket_id === 42));
  await notFound('memif socket delete again', vs.deleteMemifSocket(42));
});

test('bridge domain with a member; delete and again', async () => {
  const af = await vs.createAfPacket({ hostIfName: veth.c, tag: 'tsvpp:cid:v2' });
  await vs.addBridgeDomain(23);
  await vs.setInterfaceBridge(af.swIfIndex, 23);
  const bd = (await api.dump<any>('bridge_domain_dump', { bd_id: 23, sw_if_index: NO_INDEX })).find((b) => b.bd_id === 23);
  assert.ok(bd, 'bridge domain 23');
  assert.equal(bd.sw_if_details.map((d: any) => d.sw_if_index), [af.swIfIndex]);
  await vs.deleteAfPacket({ hostIfName: veth.c, swIfIndex: af.swIfIndex });
  await vs.deleteBridgeDomain(23);
  assert.equal((await api.dump<any>('bridge_domain_dump', { bd_id: 23, sw_if_index: NO_INDEX })).filter((b) => b.bd_id === 23), []);
  await notFound('bridge_domain_add_del_v2 (delete) again', vs.deleteBridgeDomain(23));
});

test('service NAT (cnat): source NAT address and policy, a pod and an uplink interface, translations put, updated in place, dumped, deleted and again; reject routes', async () => {
  const af = await vs.createAfPacket({ hostIfName: veth.c, tag: 'tsvpp:cid:eth0' });
  const up = await vs.createAfPacket({ hostIfName: veth.a, tag: 'uplink' });
  await vs.setServiceSnat('10.204.0.1');
  const pol = await api.request<any>('cnat_get_snat_addresses', {});
  assert.is(ip4(pol.snat_ip4), '10.204.0.1');
  await vs.setServiceSnat('10.204.0.1'); // again: the agent sets it once per VPP life, a restart included
  await vs.enableServiceNat(af.swIfIndex, 'pod');
  await vs.enableServiceNat(af.swIfIndex, 'pod'); // re-wiring may do it again
  await vs.enableServiceNat(up.swIfIndex, 'uplink');
  const features = await vpp.cli(`show interface features host-${veth.c}`);
  assert.match(features, /cnat-input-ip4/);
  assert.match(features, /cnat-output-ip4/);
  // Off again (a veth pool member handed back). VPP counts enables: the one enabled twice keeps
  // its features after one disable, until the second.
  await vs.disableServiceNat(up.swIfIndex, 'uplink');
  assert.not.match(await vpp.cli(`show interface features host-${veth.a}`), /cnat/);
  await vs.disableServiceNat(af.swIfIndex, 'pod');
  assert.match(await vpp.cli(`show interface features host-${veth.c}`), /cnat-input-ip4/);
  await vs.disableServiceNat(af.swIfIndex, 'pod');
  assert.not.match(await vpp.cli(`show interface features host-${veth.c}`), /cnat/);
  await vs.disableServiceNat(af.swIfIndex, 'pod'); // none left: nothing happens
  await vs.enableServiceNat(af.swIfIndex, 'pod');
  await vs.enableServiceNat(up.swIfIndex, 'uplink');

  const t = { vip: '10.96.0.10', port: 80, proto: 'TCP' as const, backends: [{ ip: '10.204.0.5', port: 8080 }, { ip: '10.204.0.6', port: 8080 }], affinity: false };
  const id = await vs.putServiceTranslation(t);
  const id2 = await vs.putServiceTranslation({ ...t, backends: [t.backends[0]!], affinity: true });
  assert.is(id2, id, 'VPP keeps one translation per vip/port/proto and updates it in place');
  const udp = await vs.putServiceTranslation({ ...t, proto: 'UDP', port: 53 });
  assert.is.not(udp, id);
  const d = await vs.dumpServiceTranslations();
  assert.equal(d.sort((x, y) => x.id - y.id), [
    // affinity as created: VPP keeps a translation's load-balancing type when it is updated.
    { id, vip: '10.96.0.10', port: 80, proto: 'TCP', affinity: false, backends: [{ ip: '10.204.0.5', port: 8080 }] },
    { id: udp, vip: '10.96.0.10', port: 53, proto: 'UDP', affinity: false, backends: t.backends },
  ].sort((x, y) => x.id - y.id));
  await vs.deleteServiceTranslation(id);
  await vs.deleteServiceTranslation(udp);
  assert.equal(await vs.dumpServiceTranslations(), []);
  await notFound('cnat_translation_del again', vs.deleteServiceTranslation(id));

  await vs.addRejectRoute('10.96.0.10');
  await vs.addRejectRoute('10.96.0.11');
  assert.equal((await vs.dumpRejectRoutes()).sort(), ['10.96.0.10', '10.96.0.11']);
  await vs.deleteRejectRoute('10.96.0.10');
  assert.equal(await vs.dumpRejectRoutes(), ['10.96.0.11']);
  await notFound('reject route delete again', vs.deleteRejectRoute('10.96.0.10'));
  await vs.deleteRejectRoute('10.96.0.11');
  await vs.deleteAfPacket({ hostIfName: veth.c, swIfIndex: af.swIfIndex });
  await vs.deleteAfPacket({ hostIfName: veth.a, swIfIndex: up.swIfIndex });
});

test('tap v2 in VPP\'s own namespace (the agent moves it into the pod): works where /dev/vhost-net exists, else fails naming it', async () => {
  const r = await vs.createTap({ hostIfName: 'tsvttap9', tag: 'tsvpp:cid:tap9' }).then((x) => x, (e) => e as Error);
  if (existsSync('/dev/vhost-net')) {
    assert.not.instance(r, Error, String(r));
    const sw = (r as { swIfIndex: number }).swIfIndex;
    assert.is((await ifs()).get(sw)?.tag, 'tsvpp:cid:tap9');
    await vs.deleteTap(sw);
    await notFound('tap_delete_v2 again', vs.deleteTap(sw));
  } else {
    assert.instance(r, VswitchError);
    assert.is((r as VswitchError).retval, -11);
    assert.match((r as Error).message, /\/dev\/vhost-net/);
  }
});

test('cluster: loopback with its own MAC as a bridge domain\'s BVI, VXLAN tunnel (split horizon, tag), learned and static neighbours, af_packet MTU, own addresses; delete and again', async () => {
  const loop = await vs.createLoopback({ tag: 'tsvpp-net:l3c', mac: '02:00:0a:63:01:01' });
  assert.is((await ifs()).get(loop.swIfIndex)?.mac, '02:00:0a:63:01:01');
  await vs.addInterfaceAddress(loop.swIfIndex, '10.99.1.1/16');
  assert.equal(await vs.interfaceAddresses(loop.swIfIndex), ['10.99.1.1/16']);
  await vs.addBridgeDomain(31);
  await vs.setInterfaceBridge(loop.swIfIndex, 31, { bvi: true });
  const t = { src: '10.1.1.1', dst: '10.1.2.1', vni: 4242 };
  const tun = await vs.createVxlanTunnel(t);
  assert.equal((await vs.dumpVxlanTunnels()).map(({ swIfIndex, src, dst, vni, encapVrfId, srcPort, dstPort }) => ({ swIfIndex, src, dst, vni, encapVrfId, srcPort, dstPort })),
    [{ swIfIndex: tun.swIfIndex, ...t, encapVrfId: 0, srcPort: 4789, dstPort: 4789 }]);
  await vs.setInterfaceBridge(tun.swIfIndex, 31, { shg: 1 });
  await vs.tagInterface(tun.swIfIndex, 'tsvpp-vx:4242:10.1.2.1');
  assert.match((await ifs()).get(tun.swIfIndex)!.name, /^vxlan_tunnel\d+$/);
  assert.is((await ifs()).get(tun.swIfIndex)!.tag, 'tsvpp-vx:4242:10.1.2.1');
  const bd = (await api.dump<any>('bridge_domain_dump', { bd_id: 31, sw_if_index: NO_INDEX })).find((b) => b.bd_id === 31);
  assert.is(bd.bvi_sw_if_index, loop.swIfIndex);
  assert.equal(bd.sw_if_details.map((d: any) => [d.sw_if_index, d.shg]).sort(), [[loop.swIfIndex, 0], [tun.swIfIndex, 1]].sort());

  // A neighbour as VPP learns one (not static) next to one of the agent's: dumped apart, deleted.
  await api.request('ip_neighbor_add_del', { is_add: true, neighbor: { sw_if_index: loop.swIfIndex, flags: 0, mac_address: Uint8Array.from([2, 0, 10, 99, 2, 1]), ip_address: { af: 0, un: { ip4: Uint8Array.from([10, 99, 2, 1]) } } } });
  await vs.addNeighbor({ swIfIndex: loop.swIfIndex, ip: '10.99.3.1', mac: '02:00:0a:63:03:01' });
  assert.equal((await vs.dumpNeighbors(loop.swIfIndex)).sort((a, b) => a.ip.localeCompare(b.ip)), [
    { swIfIndex: loop.swIfIndex, ip: '10.99.2.1', mac: '02:00:0a:63:02:01', static: false },
    { swIfIndex: loop.swIfIndex, ip: '10.99.3.1', mac: '02:00:0a:63:03:01', static: true },
  ]);
  await vs.deleteNeighbor({ swIfIndex: loop.swIfIndex, ip: '10.99.2.1', mac: '02:00:0a:63:02:01' });
  await vs.deleteNeighbor({ swIfIndex: loop.swIfIndex, ip: '10.99.3.1', mac: '02:00:0a:63:03:01' });
  assert.equal(await vs.dumpNeighbors(loop.swIfIndex), []);

  const af = await vs.createAfPacket({ hostIfName: veth.c, tag: 'tsvpp-node:test' });
  await vs.setInterfaceMtu(af.swIfIndex, 1400);
  assert.is((await ifs()).get(af.swIfIndex)!.mtu, 1400);

  await vs.deleteVxlanTunnel(t);
  assert.equal(await vs.dumpVxlanTunnels(), []);
  assert.not.ok((await ifs()).has(tun.swIfIndex));
  await notFound('vxlan delete again', vs.deleteVxlanTunnel(t));
  await vs.deleteAfPacket({ hostIfName: veth.c, swIfIndex: af.swIfIndex });
  await vs.deleteLoopback(loop.swIfIndex);
  await vs.deleteBridgeDomain(31);
});

test('the NAT44-ED mapping an agent before the cnat Services made for a service-endpoint-if: deleted; again, and with the plugin disabled, notFound', async () => {
  const m = { localIp: '10.1.1.3', externalIp: '10.1.1.2', vrfId: 0 };
  await notFound('plugin disabled', vs.deleteLegacyNatMapping(m));
  const mappings = async () => (await api.dump<any>('nat44_static_mapping_dump', {})).map((x) => `${[...x.local_ip_address].join('.')}>${[...x.external_ip_address].join('.')} ${x.tag}`);
  // What the older agent did, message for message.
  await api.request('nat44_ed_plugin_enable_disable', { enable: true, inside_vrf: 0, outside_vrf: 0, sessions: 0, session_memory: 0, flags: 0 });
  try {
    await api.request('nat44_add_del_static_mapping_v2', {
      is_add: true, match_pool: false, flags: 8, pool_ip_address: new Uint8Array(4), local_ip_address: Uint8Array.from([10, 1, 1, 3]),
      external_ip_address: Uint8Array.from([10, 1, 1, 2]), protocol: 0, local_port: 0, external_port: 0, external_sw_if_index: NO_INDEX, vrf_id: 0, tag: 'tsvpp',
    });
    assert.equal(await mappings(), ['10.1.1.3>10.1.1.2 tsvpp']);
    await vs.deleteLegacyNatMapping(m);
    assert.equal(await mappings(), []);
    await notFound('deleted already', vs.deleteLegacyNatMapping(m));
  } finally {
    await api.request('nat44_ed_plugin_enable_disable', { enable: false, inside_vrf: 0, outside_vrf: 0, sessions: 0, session_memory: 0, flags: 0 });
  }
});

test.run();
