// The VPP emulator answers as VPP does where `npm run test:vpp` (test/vpp/emulator-parity.test.ts)
// showed it answering differently: each test here is one of those behaviours, as VPP v26.10
// answered it, so CI keeps the emulator honest without a VPP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppApiError, VppClient } from '../../src/vppapi/client/index.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-emu-vpp-'));
let n = 0;
const NO_INDEX = 0xffffffff;
const ip4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
const pfx = (cidr: string) => { const [a, l] = cidr.split('/'); return { address: { af: 0, un: { ip4: ip4(a!) } }, len: Number(l) }; };

/** A fresh emulator (as a fresh VPP process) and a client on it. */
async function fresh(o: { vhostNet?: boolean } = {}): Promise<{ emu: VppEmulator; c: VppClient; close(): Promise<void> }> {
  const socketPath = join(dir, `e${n++}.sock`);
  const emu = await startVppEmulator({ socketPath, runtimeDir: join(dir, `run${n}`), ...o });
  const c = await VppClient.connect({ socket: socketPath, registry: emu.registry, reconnect: false });
  return { emu, c, async close() { await c.close(); await emu.close(); } };
}

async function retval(p: Promise<unknown>): Promise<string> {
  try { await p; return 'ok'; } catch (e) { if (e instanceof VppApiError) return e.errorName.replace('VNET_API_ERROR_', ''); throw e; }
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('loopbacks: the lowest free instance (loop1 again after it was deleted), MAC de:ad:00:00:00:<instance>, link_duplex 0', async () => {
  const { c, close } = await fresh();
  try {
    const mk = async () => (await c.request<{ sw_if_index: number }>('create_loopback', { mac_address: new Uint8Array(6) })).sw_if_index;
    const [, b] = [await mk(), await mk(), await mk()];
    await c.request('delete_loopback', { sw_if_index: b });
    const again = await mk();
    const d = await c.dump<any>('sw_interface_dump', { sw_if_index: again, name_filter_valid: false, name_filter: '' });
    assert.is(d[0].interface_name, 'loop1');
    assert.equal([...d[0].l2_address], [0xde, 0xad, 0, 0, 0, 1]);
    assert.is(d[0].link_duplex, 0);
  } finally { await close(); }
});

test('addresses: no overlapping subnets in one table (the same address again included) → ADDRESS_IN_USE', async () => {
  const { c, close } = await fresh();
  try {
    const [a, b] = [await c.request<any>('create_loopback', {}), await c.request<any>('create_loopback', {})].map((r) => r.sw_if_index);
    const add = (sw: number, cidr: string) => retval(c.request('sw_interface_add_del_address', { sw_if_index: sw, is_add: true, prefix: pfx(cidr) }));
    assert.is(await add(a, '10.5.0.1/24'), 'ok');
    assert.is(await add(a, '10.5.0.1/24'), 'ADDRESS_IN_USE', 'the same address again');
    assert.is(await add(b, '10.5.0.9/16'), 'ADDRESS_IN_USE', 'a covering subnet on another interface');
    assert.is(await add(a, '10.5.0.2/24'), 'ok', 'another address of the same subnet on the same interface');
    await c.request('ip_table_add_del', { is_add: true, table: { table_id: 3, is_ip6: false, name: '' } });
    await c.request('sw_interface_set_table', { sw_if_index: b, is_ipv6: false, vrf_id: 3 });
    assert.is(await add(b, '10.5.0.1/24'), 'ok', 'another table');
    assert.is((await c.request<any>('sw_interface_get_table', { sw_if_index: b, is_ipv6: false })).vrf_id, 3);
    assert.is(await retval(c.request('sw_interface_get_table', { sw_if_index: 99, is_ipv6: false })), 'INVALID_SW_IF_INDEX');
  } finally { await close(); }
});

test('sw_interface_set_unnumbered: the borrower is checked first, then the lender; both in the same table', async () => {
  const { c, close } = await fresh();
  try {
    const [a, b] = [await c.request<any>('create_loopback', {}), await c.request<any>('create_loopback', {})].map((r) => r.sw_if_index);
    const un = (from: number, to: number) => retval(c.request('sw_interface_set_unnumbered', { sw_if_index: from, unnumbered_sw_if_index: to, is_add: true }));
    assert.is(await un(a, 999), 'INVALID_SW_IF_INDEX');
    assert.is(await un(999, b), 'INVALID_SW_IF_INDEX_2');
    await c.request('ip_table_add_del', { is_add: true, table: { table_id: 4, is_ip6: false, name: '' } });
    await c.request('sw_interface_set_table', { sw_if_index: b, is_ipv6: false, vrf_id: 4 });
    assert.is(await un(a, b), 'UNEXPECTED_INTF_STATE');
    await c.request('sw_interface_set_table', { sw_if_index: a, is_ipv6: false, vrf_id: 4 });
    assert.is(await un(a, b), 'ok');
  } finally { await close(); }
});

test('ip_unnumbered_dump lists a borrower until is_add false ends it (the lender not checked then); sw_interface_clear_stats checks the index; cnat features are counted per enable', async () => {
  const { emu, c, close } = await fresh();
  try {
    const [a, b] = [await c.request<any>('create_loopback', {}), await c.request<any>('create_loopback', {})].map((r) => r.sw_if_index);
    const un = async (sw: number) => (await c.dump<any>('ip_unnumbered_dump', { sw_if_index: sw })).map((x) => [x.sw_if_index, x.ip_sw_if_index]);
    await c.request('sw_interface_set_unnumbered', { sw_if_index: a, unnumbered_sw_if_index: b, is_add: true });
    assert.equal(await un(b), [[b, a]]);
    assert.equal(await un(a), []);
    assert.equal(await un(NO_INDEX), [[b, a]]);
    assert.equal(await un(999), [], 'a bad index: nothing');
    await c.request('sw_interface_set_unnumbered', { sw_if_index: b, unnumbered_sw_if_index: b, is_add: false });
    assert.equal(await un(b), []);
    assert.is(await retval(c.request('sw_interface_clear_stats', { sw_if_index: b })), 'ok');
    assert.is(await retval(c.request('sw_interface_clear_stats', { sw_if_index: 999 })), 'INVALID_SW_IF_INDEX');
    assert.is(await retval(c.request('sw_interface_clear_stats', { sw_if_index: NO_INDEX })), 'ok');
    const cnat = (on: boolean) => c.request('feature_cnat_enable_disable', { sw_if_index: a, enable_disable: on });
    await cnat(true); await cnat(true); await cnat(false);
    assert.ok(emu.state.cnat.featureIfs.has(a), 'enabled twice, disabled once: still on');
    await cnat(false); await cnat(false);
    assert.not.ok(emu.state.cnat.featureIfs.has(a));
  } finally { await close(); }
});

test('ids for ~0: memif socket and bridge domain ids from VPP\'s seeded random walk (1013904223, 7271263 first)', async () => {
  const { c, close } = await fresh();
  try {
    const s = await c.request<any>('memif_socket_filename_add_del_v2', { is_add: true, socket_id: NO_INDEX, socket_filename: join(dir, 'a.sock') });
    assert.is(s.socket_id, 1013904223);
    const s2 = await c.request<any>('memif_socket_filename_add_del_v2', { is_add: true, socket_id: NO_INDEX, socket_filename: join(dir, 'b.sock') });
    assert.is.not(s2.socket_id, s.socket_id);
    const bd = await c.request<any>('bridge_domain_add_del_v2', { bd_id: NO_INDEX, flood: true, forward: true, learn: true, uu_flood: true, is_add: true });
    assert.is(bd.bd_id, 7271263);
  } finally { await close(); }
});

test('memif: an absolute socket name is taken as it is; the first master binds it (missing directory → SYSCALL_ERROR_4); dump shows running ring/buffer sizes', async () => {
  const { emu, c, close } = await fresh();
  try {
    assert.is(await retval(c.request('memif_socket_filename_add_del_v2', { is_add: true, socket_id: 9, socket_filename: '/nonexistent/dir/m.sock' })), 'ok');
    const master = (socket_id: number) => c.request<any>('memif_create_v2', { role: 0, mode: 0, rx_queues: 1, tx_queues: 1, id: 1, socket_id, ring_size: 512, buffer_size: 4096, secret: '' });
    assert.is(await retval(master(9)), 'SYSCALL_ERROR_4');
    await c.request('memif_socket_filename_add_del_v2', { is_add: true, socket_id: 8, socket_filename: join(dir, 'm.sock') });
    const m = (await master(8)).sw_if_index;
    const sizes = async () => (await c.dump<any>('memif_dump', {})).filter((x) => x.sw_if_index === m).map((x) => [x.ring_size, x.buffer_size])[0];
    assert.equal(await sizes(), [1, 0], 'not connected: what VPP reports (1 << 0, 0)');
    emu.setLinkState(m, true);
    assert.equal(await sizes(), [512, 4096]);
  } finally { await close(); }
});

test('af_packet: link up from the start, then following admin state; dev type af-packet; a second one on the same host interface → IF_ALREADY_EXISTS', async () => {
  const { c, close } = await fresh();
  try {
    // Without an onAfPacketCreate hook the emulator only checks that the host interface exists.
    const create = () => c.request<any>('af_packet_create_v3', { mode: 1, use_random_hw_addr: true, host_if_name: 'lo', num_rx_queues: 1, num_tx_queues: 1 });
    const sw = (await create()).sw_if_index;
    const flags = async () => (await c.dump<any>('sw_interface_dump', { sw_if_index: sw, name_filter_valid: false, name_filter: '' }))[0];
    assert.is((await flags()).flags, 2, 'link up, admin down');
    assert.is((await flags()).interface_dev_type, 'af-packet');
    await c.request('sw_interface_set_flags', { sw_if_index: sw, flags: 1 });
    assert.is((await flags()).flags, 3);
    await c.request('sw_interface_set_flags', { sw_if_index: sw, flags: 0 });
    assert.is((await flags()).flags, 0, 'admin down takes the link down');
    assert.is(await retval(create()), 'IF_ALREADY_EXISTS');
  } finally { await close(); }
});

test('tap v2 needs /dev/vhost-net: without it SYSCALL_ERROR_1 (tap.c opens it); with it the tap is made', async () => {
  for (const vhostNet of [false, true]) {
    const { c, close } = await fresh({ vhostNet });
    try {
      const r = await retval(c.request('tap_create_v2', { id: NO_INDEX, use_random_mac: true, num_rx_queues: 1 }));
      assert.is(r, vhostNet ? 'ok' : 'SYSCALL_ERROR_1');
    } finally { await close(); }
  }
});

test('NAT44-ED static mappings and output interfaces with the plugin off → UNSUPPORTED', async () => {
  const { c, close } = await fresh();
  try {
    const m = { is_add: true, flags: 8, local_ip_address: ip4('10.0.0.3'), external_ip_address: ip4('10.0.0.2'), external_sw_if_index: NO_INDEX, vrf_id: 0, tag: '' };
    assert.is(await retval(c.request('nat44_add_del_static_mapping_v2', m)), 'UNSUPPORTED');
    assert.is(await retval(c.request('nat44_ed_add_del_output_interface', { is_add: true, sw_if_index: 0 })), 'UNSUPPORTED');
    await c.request('nat44_ed_plugin_enable_disable', { enable: true });
    assert.is(await retval(c.request('nat44_add_del_static_mapping_v2', m)), 'ok');
  } finally { await close(); }
});

test('cnat: a translation updated in place keeps its id, its load-balancing type and flow hash; its backends change', async () => {
  const { c, close } = await fresh();
  try {
    const ep = (a: string, port: number) => ({ addr: { af: 0, un: { ip4: ip4(a) } }, sw_if_index: NO_INDEX, if_af: 0, port });
    const tr = (lb: number, backends: string[]) => ({
      translation: {
        vip: ep('10.96.0.10', 80), id: 0, ip_proto: 6, is_real_ip: 1, flags: 0, lb_type: lb, flow_hash_config: lb ? 2 : 0,
        n_paths: backends.length, paths: backends.map((b) => ({ dst_ep: ep(b, 8080), src_ep: ep('0.0.0.0', 0), flags: 0 })),
      },
    });
    const a = await c.request<any>('cnat_translation_update', tr(0, ['10.1.0.2']));
    const b = await c.request<any>('cnat_translation_update', tr(1, ['10.1.0.2', '10.1.0.3']));
    assert.is(b.id, a.id);
    const [d] = await c.dump<any>('cnat_translation_dump', {});
    assert.is(d.translation.lb_type, 0, 'lb_type stays the one it was created with');
    assert.equal(d.translation.paths.map((p: any) => [...p.dst_ep.addr.un.ip4].join('.')), ['10.1.0.2', '10.1.0.3']);
  } finally { await close(); }
});

test('hw_interface_set_mtu: a loopback cannot change its frame size → UNSUPPORTED (its MTU stays); local0 → FEATURE_DISABLED', async () => {
  const { c, close } = await fresh();
  try {
    const loop = (await c.request<{ sw_if_index: number }>('create_loopback', { mac_address: new Uint8Array(6) })).sw_if_index;
    assert.is(await retval(c.request('hw_interface_set_mtu', { sw_if_index: loop, mtu: 1400 })), 'UNSUPPORTED');
    const d = await c.dump<any>('sw_interface_dump', { sw_if_index: loop, name_filter_valid: false, name_filter: '' });
    assert.is(d[0].link_mtu, 9000);
    assert.is(await retval(c.request('hw_interface_set_mtu', { sw_if_index: 0, mtu: 1400 })), 'FEATURE_DISABLED');
  } finally { await close(); }
});

test('vxlan: tunnels take pool indexes, the last freed first (vxlan_tunnel1 again after 0 and 1 were deleted in that order)', async () => {
  const { c, close } = await fresh();
  try {
    const t = (isAdd: boolean, dst: string, vni: number, instance = NO_INDEX) => c.request<{ sw_if_index: number }>('vxlan_add_del_tunnel_v3', {
      is_add: isAdd, instance, src_address: { af: 0, un: { ip4: ip4('10.0.0.1') } }, dst_address: { af: 0, un: { ip4: ip4(dst) } },
      src_port: 0, dst_port: 0, mcast_sw_if_index: NO_INDEX, encap_vrf_id: 0, decap_next_index: NO_INDEX, vni, is_l3: false,
    });
    const name = async (sw: number) => (await c.dump<any>('sw_interface_dump', { sw_if_index: sw, name_filter_valid: false, name_filter: '' }))[0].interface_name;
    assert.is(await name((await t(true, '10.0.0.2', 7)).sw_if_index), 'vxlan_tunnel0');
    assert.is(await retval(t(true, '10.0.0.3', 7, 0)), 'INSTANCE_IN_USE');
    assert.is(await name((await t(true, '10.0.0.2', 8)).sw_if_index), 'vxlan_tunnel1');
    await t(false, '10.0.0.2', 7);
    await t(false, '10.0.0.2', 8);
    assert.is(await name((await t(true, '10.0.0.4', 9)).sw_if_index), 'vxlan_tunnel1');
    assert.is(await name((await t(true, '10.0.0.5', 9)).sw_if_index), 'vxlan_tunnel0');
  } finally { await close(); }
});

test.run();
