import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VppClient, VppApiError, VppTimeoutError, VppMessageUnavailableError, VppConnectError, VppDisconnectedError } from '../../../src/vppapi/client/index.js';
import { startVppEmulator, type VppEmulator } from '../../../src/testing/vpp-emulator/index.js';
import { registry, tempDir, until, sleep, prefix4, API_DIR } from './helpers.js';

const tmp = tempDir();
let emu: VppEmulator;
let c: VppClient;

test.before(async () => {
  emu = await startVppEmulator({ socketPath: tmp.sock, registry: registry(), runtimeDir: tmp.dir, streamPageSize: 2, vhostNet: true });
  c = await VppClient.connect({ socket: tmp.sock, registry: registry(), timeoutMs: 2000 });
});

test.after(async () => {
  await c?.close();
  await emu?.close();
  tmp.cleanup();
});

test('handshake: client_index has the socket-registration bit, table ids match the emulator', () => {
  assert.is(c.clientIndex >>> 31, 1);
  const table = new Map(emu.messageTable.map((e) => [e.name, e.index]));
  assert.is(c.messageId('sockclnt_create'), 15);
  assert.is(c.messageId('control_ping'), table.get(registry().message('control_ping').nameCrc));
  assert.equal(c.tableReport.missing, []);
  assert.equal(c.tableReport.crcMismatch, []);
});

test('request/reply: show_version', async () => {
  const r = await c.request('show_version');
  assert.is(r.retval, 0);
  assert.is(r.program, 'vpe');
  assert.match(r.version, /emulator/);
});

test('apiDir option loads definitions from a directory', async () => {
  const c2 = await VppClient.connect({ socket: tmp.sock, apiDir: API_DIR, name: 'second' });
  try {
    assert.is((await c2.request('control_ping')).retval, 0);
  } finally {
    await c2.close();
  }
});

test('pipelined requests: all in flight at once, each answered on its own context', async () => {
  const sock = await c.request('memif_socket_filename_add_del_v2', { is_add: true, socket_filename: `${tmp.dir}/m.sock` });
  const N = 50;
  const replies = await Promise.all(Array.from({ length: N }, (_, k) => c.request('memif_create', { role: 0, id: k, socket_id: sock.socket_id })));
  const idx = replies.map((r) => r.sw_if_index);
  assert.is(new Set(idx).size, N);
  const contexts = replies.map((r) => r.context);
  assert.is(new Set(contexts).size, N);
  const details = await c.dump('memif_dump');
  const byIndex = new Map(details.map((d) => [d.sw_if_index, d]));
  replies.forEach((r, k) => assert.is(byIndex.get(r.sw_if_index)?.id, k));
  await Promise.all(idx.map((i) => c.request('memif_delete', { sw_if_index: i })));
  assert.equal(await c.dump('memif_dump'), []);
});

test('requests made in one turn of the event loop leave in one socket write; stats count them', async () => {
  const before = c.stats;
  const replies = await Promise.all(Array.from({ length: 40 }, () => c.request('control_ping')));
  const after = c.stats;
  assert.is(replies.length, 40);
  assert.is(after.sent - before.sent, 40);
  assert.is(after.writes - before.writes, 1);
  assert.is(after.received - before.received, 40);
  assert.ok(after.reads - before.reads >= 1 && after.reads - before.reads <= 40);
});

test('dump: details collected until control_ping_reply; name filter', async () => {
  const t = await c.request('tap_create_v2', { id: 7, host_if_name: 'vpp-tap7', host_if_name_set: true });
  const all = await c.dump('sw_interface_dump', { name_filter_valid: false });
  assert.ok(all.some((d) => d.interface_name === 'local0'));
  assert.ok(all.some((d) => d.interface_name === 'tap7' && d.sw_if_index === t.sw_if_index && d.interface_dev_type === 'virtio'));
  const one = await c.dump('sw_interface_dump', { name_filter_valid: true, name_filter: 'tap' });
  assert.equal(one.map((d) => d.interface_name), ['tap7']);
  await c.request('tap_delete_v2', { sw_if_index: t.sw_if_index });
});

test('cursor stream (_get): repeated while VPP answers EAGAIN, details from every round', async () => {
  await c.request('nat44_ed_plugin_enable_disable', { enable: true });
  const made: number[] = [];
  for (let k = 0; k < 5; k++) {
    made.push((await c.request('tap_create_v2', { id: 100 + k })).sw_if_index);
    await c.request('nat44_ed_add_del_output_interface', { is_add: true, sw_if_index: made[k] });
  }
  const before = emu.received.filter((n) => n === 'nat44_ed_output_interface_get').length;
  const { reply, details } = await c.stream('nat44_ed_output_interface_get');
  assert.equal(details.map((d) => d.sw_if_index), made);
  assert.is(reply.retval, 0);
  // page size 2 → 3 calls
  assert.is(emu.received.filter((n) => n === 'nat44_ed_output_interface_get').length - before, 3);
  for (const i of made) await c.request('tap_delete_v2', { sw_if_index: i });
  await c.request('nat44_ed_plugin_enable_disable', { enable: false });
});

test('retval != 0 → VppApiError with VPP error name and code', async () => {
  const err = await c.request('sw_interface_set_flags', { sw_if_index: 9999, flags: 1 }).catch((e) => e);
  assert.instance(err, VppApiError);
  assert.is(err.retval, -2);
  assert.is(err.errorName, 'VNET_API_ERROR_INVALID_SW_IF_INDEX');
  assert.match(err.message, /sw_interface_set_flags/);
  const dup = await c.request('memif_create', { role: 0, id: 0, socket_id: 4242 }).catch((e) => e);
  assert.is(dup.errorName, 'VNET_API_ERROR_INVALID_ARGUMENT');
});

test('memif: duplicate id on a socket, socket in use, default socket 0', async () => {
  const s = await c.request('memif_socket_filename_add_del_v2', { is_add: true, socket_filename: 'rel.sock' });
  const sockets = await c.dump('memif_socket_filename_dump');
  assert.ok(sockets.some((d) => d.socket_id === 0 && d.socket_filename === `${tmp.dir}/memif.sock`));
  assert.ok(sockets.some((d) => d.socket_id === s.socket_id && d.socket_filename === `${tmp.dir}/rel.sock`));
  const m = await c.request('memif_create', { role: 1, id: 3, socket_id: s.socket_id });
  const dup = await c.request('memif_create', { role: 1, id: 3, socket_id: s.socket_id }).catch((e) => e);
  assert.is(dup.errorName, 'VNET_API_ERROR_SUBIF_ALREADY_EXISTS');
  const mix = await c.request('memif_create', { role: 0, id: 4, socket_id: s.socket_id }).catch((e) => e);
  assert.is(mix.errorName, 'VNET_API_ERROR_SUBIF_ALREADY_EXISTS');
  const inUse = await c.request('memif_socket_filename_add_del_v2', { is_add: false, socket_id: s.socket_id }).catch((e) => e);
  assert.is(inUse.errorName, 'VNET_API_ERROR_UNEXPECTED_INTF_STATE');
  const other = await c.request('memif_socket_filename_add_del', { is_add: true, socket_id: s.socket_id, socket_filename: 'other.sock' }).catch((e) => e);
  assert.is(other.errorName, 'VNET_API_ERROR_ENTRY_ALREADY_EXISTS');
  await c.request('memif_delete', { sw_if_index: m.sw_if_index });
  await c.request('memif_socket_filename_add_del_v2', { is_add: false, socket_id: s.socket_id });
});

test('interface config: address, table, bridge domain, routes, nat static mapping', async () => {
  const t = (await c.request('tap_create_v2', {})).sw_if_index;
  await c.request('sw_interface_add_del_address', { sw_if_index: t, is_add: true, prefix: prefix4('10.1.0.1', 24) });
  const moved = await c.request('sw_interface_set_table', { sw_if_index: t, vrf_id: 5 }).catch((e) => e);
  assert.is(moved.errorName, 'VNET_API_ERROR_NO_SUCH_FIB');
  await c.request('ip_table_add_del', { is_add: true, table: { table_id: 5 } });
  const hasAddr = await c.request('sw_interface_set_table', { sw_if_index: t, vrf_id: 5 }).catch((e) => e);
  assert.is(hasAddr.errorName, 'VNET_API_ERROR_ADDRESS_FOUND_FOR_INTERFACE');
  await c.request('sw_interface_add_del_address', { sw_if_index: t, is_add: false, prefix: prefix4('10.1.0.1', 24) });
  await c.request('sw_interface_set_table', { sw_if_index: t, vrf_id: 5 });
  assert.is(emu.state.interfaces.get(t)!.table.ip4, 5);
  await c.request('ip_route_add_del', { is_add: true, route: { table_id: 5, prefix: prefix4('10.2.0.0', 16), n_paths: 0, paths: [] } });
  assert.is(emu.state.routes.size, 1);
  const bd = await c.request('bridge_domain_add_del_v2', { bd_id: 0xffffffff, is_add: true, flood: true });
  assert.ok(bd.bd_id >= 1);
  await c.request('sw_interface_set_l2_bridge', { rx_sw_if_index: t, bd_id: bd.bd_id, enable: true });
  const inUse = await c.request('bridge_domain_add_del', { bd_id: bd.bd_id, is_add: false }).catch((e) => e);
  assert.is(inUse.errorName, 'VNET_API_ERROR_BD_IN_USE');
  await c.request('nat44_ed_plugin_enable_disable', { enable: true });
  const sm = { is_add: true, local_ip_address: Uint8Array.of(10, 1, 0, 2), external_ip_address: Uint8Array.of(10, 96, 0, 1), protocol: 6, local_port: 8080, external_port: 80 };
  await c.request('nat44_add_del_static_mapping_v2', sm);
  const again = await c.request('nat44_add_del_static_mapping_v2', sm).catch((e) => e);
  assert.is(again.errorName, 'VNET_API_ERROR_VALUE_EXIST');
  await c.request('nat44_ed_plugin_enable_disable', { enable: false });
  await c.request('sw_interface_set_l2_bridge', { rx_sw_if_index: t, bd_id: bd.bd_id, enable: false });
  await c.request('bridge_domain_add_del', { bd_id: bd.bd_id, is_add: false });
  await c.request('tap_delete_v2', { sw_if_index: t });
});

test('events: want_interface_events → sw_interface_event via iterator and emitter', async () => {
  await c.request('want_interface_events', { enable_disable: 1, pid: process.pid });
  const seen: number[] = [];
  const off = c.onEvent('sw_interface_event', (e: any) => seen.push(e.flags));
  const it = c.events('sw_interface_event');
  const t = (await c.request('tap_create_v2', {})).sw_if_index;
  await c.request('sw_interface_set_flags', { sw_if_index: t, flags: 1 });
  const ev1 = (await it.next()).value as any;
  assert.is(ev1.sw_if_index, t);
  assert.is(ev1.flags, 3); // admin up, tap carrier up
  assert.is(ev1.deleted, false);
  assert.is(ev1.pid, process.pid);
  await c.request('tap_delete_v2', { sw_if_index: t });
  const ev2 = (await it.next()).value as any; // admin down on delete
  const ev3 = (await it.next()).value as any;
  assert.is(ev2.flags, 0);
  assert.is(ev3.deleted, true);
  await it.return!();
  await until('emitter events', () => seen.length === 3);
  off();
  const twice = await c.request('want_interface_events', { enable_disable: 1, pid: process.pid }).catch((e) => e);
  assert.is(twice.errorName, 'VNET_API_ERROR_INVALID_REGISTRATION');
  await c.request('want_interface_events', { enable_disable: 0, pid: process.pid });
});

test('timeout names the message and the timeout; late reply is ignored', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const e2 = await startVppEmulator({
    socketPath: `${tmp.dir}/to.sock`, registry: registry(), runtimeDir: tmp.dir,
    handlers: { show_version: async () => { await gate; return {}; } },
  });
  const c2 = await VppClient.connect({ socket: `${tmp.dir}/to.sock`, registry: registry() });
  try {
    const err = await c2.request('show_version', {}, { timeoutMs: 50 }).catch((e) => e);
    assert.instance(err, VppTimeoutError);
    assert.match(err.message, /show_version: no reply from VPP within 50 ms/);
    release();
    assert.is((await c2.request('control_ping')).retval, 0);
  } finally {
    await c2.close();
    await e2.close();
  }
});

test('unknown message, and connect to a missing socket', async () => {
  const u = await c.request('no_such_message').catch((e) => e);
  assert.instance(u, VppMessageUnavailableError);
  assert.is(u.reason, 'unknown-locally');
  const err = await VppClient.connect({ socket: `${tmp.dir}/absent.sock`, registry: registry() }).catch((e) => e);
  assert.instance(err, VppConnectError);
  assert.match(err.message, /no VPP API socket at .*absent\.sock/);
});

test('close sends sockclnt_delete and later calls fail clearly', async () => {
  const c3 = await VppClient.connect({ socket: tmp.sock, registry: registry() });
  const before = emu.received.filter((n) => n === 'sockclnt_delete').length;
  const n = emu.connectionCount;
  await c3.close();
  assert.is(emu.received.filter((x) => x === 'sockclnt_delete').length, before + 1);
  await until('emulator to drop the connection', () => emu.connectionCount === n - 1);
  const err = await c3.request('control_ping').catch((e) => e);
  assert.instance(err, VppDisconnectedError);
  assert.match(err.message, /closed/);
});

test.run();
