// The VPP API client against real VPP: connect and message table, show_version, dumps, an event
// subscription delivering events, messages VPP does not have, CRC mismatch reporting against
// definitions that differ from VPP's, and reconnect after a VPP restart (subscriptions replayed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import {
  VppClient, VppApiError, VppDisconnectedError, VppMessageUnavailableError, shippedApiDir, type TableReport,
} from '../../src/vppapi/client/index.js';
import { once, sleep } from '../../perf/soak/common.js';
import { Vpp } from './support/vpp.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-api-'));
let vpp: Vpp;
let c: VppClient;

test.before(async () => {
  vpp = await Vpp.start();
  c = await vpp.connect();
});

test.after(async () => {
  await c?.close().catch(() => undefined);
  await vpp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ADMIN_UP = 1;

test('connect: registration, a message table that matches VPP\'s own .api.json, show_version', async () => {
  const r = c.tableReport;
  assert.equal(r.crcMismatch, [], 'VPP\'s installed definitions have the CRCs of its running table');
  assert.ok(r.vppMessages > 500, `VPP announced ${r.vppMessages} messages`);
  const v = await c.request<{ program: string; version: string; build_date: string; build_directory: string }>('show_version');
  assert.is(v.program, 'vpe');
  assert.is(v.version, vpp.info.version, 'the version vppctl showed');
  assert.match(v.version, /^\d\d\.\d\d/);
});

test('the project\'s API definitions (those the bindings are generated from) match this VPP for every module the agent uses', async () => {
  const fixtures = shippedApiDir();
  const modules = ['memclnt', 'vpe', 'vlib', 'interface', 'ip', 'ip_neighbor', 'l2', 'memif', 'af_packet', 'tapv2', 'nat44_ed'];
  const reg = ApiRegistry.fromFiles(modules.map((m) => join(fixtures, `${m}.api.json`)));
  const fc = await VppClient.connect({ socket: vpp.apiSocket, registry: reg, reconnect: false });
  try {
    const r = fc.tableReport;
    assert.equal(r.crcMismatch, [], `definitions differ from this VPP's: ${JSON.stringify(r.crcMismatch)}`);
    assert.equal(r.missing, [], 'every message of these modules is in VPP');
  } finally { await fc.close(); }
});

test('dumps: sw_interface_dump (all, one index, name filter), memif_socket_filename_dump, ip_table_dump', async () => {
  const all = await c.dump<{ sw_if_index: number; interface_name: string }>('sw_interface_dump', { sw_if_index: 0xffffffff, name_filter_valid: false, name_filter: '' });
  assert.ok(all.some((i) => i.sw_if_index === 0 && i.interface_name === 'local0'), JSON.stringify(all.map((i) => i.interface_name)));
  const { sw_if_index: loop } = await c.request<{ sw_if_index: number }>('create_loopback', { mac_address: new Uint8Array(6) });
  try {
    const one = await c.dump<{ sw_if_index: number; interface_name: string; tag: string }>('sw_interface_dump', { sw_if_index: loop, name_filter_valid: false, name_filter: '' });
    assert.equal(one.map((i) => i.sw_if_index), [loop]);
    assert.match(one[0]!.interface_name, /^loop\d+$/);
    const filtered = await c.dump<{ interface_name: string }>('sw_interface_dump', { sw_if_index: 0xffffffff, name_filter_valid: true, name_filter: 'loop' });
    assert.ok(filtered.length >= 1 && filtered.every((i) => i.interface_name.includes('loop')));
  } finally {
    await c.request('delete_loopback', { sw_if_index: loop });
  }
  const socks = await c.dump<{ socket_id: number; socket_filename: string }>('memif_socket_filename_dump', {});
  assert.equal(socks.find((s) => s.socket_id === 0)?.socket_filename, vpp.memifSocket, 'socket id 0 is <runtime dir>/memif.sock');
  const tables = await c.dump<{ table: { table_id: number; is_ip6: boolean } }>('ip_table_dump', {});
  assert.ok(tables.some((t) => t.table.table_id === 0 && !t.table.is_ip6));
});

test('want_interface_events: admin up/down and deletion of an interface arrive as sw_interface_event', async () => {
  await c.request('want_interface_events', { enable_disable: 1, pid: process.pid });
  const events: Array<{ sw_if_index: number; flags: number; deleted: boolean }> = [];
  const off = c.onEvent<{ sw_if_index: number; flags: number; deleted: boolean }>('sw_interface_event', (e) => events.push(e));
  try {
    const { sw_if_index: loop } = await c.request<{ sw_if_index: number }>('create_loopback', { mac_address: new Uint8Array(6) });
    await c.request('sw_interface_set_flags', { sw_if_index: loop, flags: ADMIN_UP });
    await waitFor(() => events.some((e) => e.sw_if_index === loop && (e.flags & ADMIN_UP) !== 0), 'an admin-up event');
    await c.request('sw_interface_set_flags', { sw_if_index: loop, flags: 0 });
    await waitFor(() => events.some((e) => e.sw_if_index === loop && (e.flags & ADMIN_UP) === 0 && !e.deleted), 'an admin-down event');
    await c.request('delete_loopback', { sw_if_index: loop });
    await waitFor(() => events.some((e) => e.sw_if_index === loop && e.deleted), 'a deleted event');
    // A second registration of the same client is refused by VPP.
    const again = await c.request('want_interface_events', { enable_disable: 1, pid: process.pid }).then(() => null, (e) => e);
    assert.instance(again, VppApiError);
    assert.is((again as VppApiError).errorName, 'VNET_API_ERROR_INVALID_REGISTRATION');
  } finally {
    off();
    await c.request('want_interface_events', { enable_disable: 0, pid: process.pid });
  }
});

test('a message VPP does not have (plugin not loaded) is refused with an error naming it; an unknown name too', async () => {
  // The project's definitions have every module; this VPP was built without wireguard.
  const fc = await VppClient.connect({ socket: vpp.apiSocket, apiDir: shippedApiDir(), reconnect: false });
  try {
    assert.ok(fc.tableReport.missing.includes('wireguard_interface_create'));
    assert.is(fc.messageId('wireguard_interface_create'), undefined);
    const e = await fc.request('wireguard_interface_create', {}).then(() => null, (x) => x);
    assert.instance(e, VppMessageUnavailableError);
    assert.is((e as VppMessageUnavailableError).reason, 'missing-in-vpp');
    assert.match((e as Error).message, /wireguard_interface_create/);
    const u = await fc.request('no_such_message_at_all', {}).then(() => null, (x) => x);
    assert.instance(u, VppMessageUnavailableError);
    assert.is((u as VppMessageUnavailableError).reason, 'unknown-locally');
    assert.match((u as Error).message, /no_such_message_at_all/);
    await fc.request('control_ping'); // the connection is still good
  } finally { await fc.close(); }
});

test('VPP\'s retval for a bad request is a VppApiError with VPP\'s name for it', async () => {
  const e = await c.request('memif_delete', { sw_if_index: 99999 }).then(() => null, (x) => x);
  assert.instance(e, VppApiError);
  assert.is((e as VppApiError).retval, -2);
  assert.is((e as VppApiError).errorName, 'VNET_API_ERROR_INVALID_SW_IF_INDEX');
});

test('CRC mismatch: definitions that differ from VPP\'s are reported, those messages refused, the others work', async () => {
  // A copy of VPP's definitions where show_version and memif_create_v2 changed (as a newer or
  // older VPP would have them).
  const apiDir = join(dir, 'api');
  cpSync(vpp.info.apiDir, apiDir, { recursive: true });
  for (const [file, msg] of [['core/vpe.api.json', 'show_version'], ['plugins/memif.api.json', 'memif_create_v2']] as const) {
    const p = join(apiDir, file);
    assert.ok(existsSync(p), p);
    const j = JSON.parse(readFileSync(p, 'utf8'));
    const m = j.messages.find((x: unknown[]) => x[0] === msg);
    m[m.length - 1].crc = '0xdeadbeef';
    writeFileSync(p, JSON.stringify(j));
  }
  let fromEvent: TableReport | undefined;
  const mc = await VppClient.connect({ socket: vpp.apiSocket, apiDir, reconnect: false, listeners: { 'table-mismatch': (r) => { fromEvent = r; } } });
  try {
    const names = mc.tableReport.crcMismatch.map((m) => m.name).sort();
    assert.equal(names, ['memif_create_v2', 'show_version']);
    const sv = mc.tableReport.crcMismatch.find((m) => m.name === 'show_version')!;
    assert.is(sv.localCrc, '0xdeadbeef');
    assert.is(sv.vppCrc, c.registry.message('show_version').crc);
    assert.ok(fromEvent && fromEvent.crcMismatch.length === 2, 'table-mismatch event');
    const e = await mc.request('show_version').then(() => null, (x) => x);
    assert.instance(e, VppMessageUnavailableError);
    assert.is((e as VppMessageUnavailableError).reason, 'crc-mismatch');
    assert.match((e as Error).message, /0xdeadbeef/);
    const d = await mc.dump('sw_interface_dump', { sw_if_index: 0xffffffff, name_filter_valid: false, name_filter: '' });
    assert.ok(d.length >= 1, 'other messages still work');
  } finally { await mc.close(); }
});

test('reconnect after a VPP restart: pending requests fail, the table is re-read, the subscription is replayed', async () => {
  const rc = await vpp.connect({ reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
  try {
    await rc.request('want_interface_events', { enable_disable: 1, pid: process.pid });
    const down = once<{ reason: string }>(rc, 'disconnected', 20_000, 'the client to notice');
    const back = once<{ attempts: number; report: TableReport }>(rc, 'reconnected', 30_000, 'the client to reconnect');
    const stopping = vpp.restart();
    await down;
    const during = await rc.request('show_version').then(() => null, (x) => x);
    assert.instance(during, VppDisconnectedError, 'a request while VPP is down fails at once');
    await stopping;
    const info = await back;
    assert.equal(info.report.crcMismatch, []);
    const v = await rc.request<{ version: string }>('show_version');
    assert.is(v.version, vpp.info.version);
    // want_interface_events was replayed: the new VPP sends events without a new subscription.
    const events: Array<{ sw_if_index: number; flags: number }> = [];
    const off = rc.onEvent<{ sw_if_index: number; flags: number }>('sw_interface_event', (e) => events.push(e));
    const { sw_if_index: loop } = await rc.request<{ sw_if_index: number }>('create_loopback', { mac_address: new Uint8Array(6) });
    await rc.request('sw_interface_set_flags', { sw_if_index: loop, flags: ADMIN_UP });
    await waitFor(() => events.some((e) => e.sw_if_index === loop && (e.flags & ADMIN_UP) !== 0), 'an event after the restart');
    off();
    await rc.request('delete_loopback', { sw_if_index: loop });
  } finally {
    await rc.close();
    // The suite's main client reconnects too (default reconnect is off for it): replace it.
    await c.close().catch(() => undefined);
    c = await vpp.connect();
  }
});

async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !pred(); await sleep(10)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

test.run();
