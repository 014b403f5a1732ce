import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VppClient, VppDisconnectedError, VppMessageUnavailableError, type TableReport } from '../../../src/vppapi/client/index.js';
import { startVppEmulator } from '../../../src/testing/vpp-emulator/index.js';
import { registry, tempDir, until, API_DIR } from './helpers.js';

const tmp = tempDir();
test.after(() => tmp.cleanup());

test('table mismatch: missing vs other CRC reported separately; only those messages refused', async () => {
  const sock = `${tmp.dir}/mm.sock`;
  const emu = await startVppEmulator({
    socketPath: sock, registry: registry(), runtimeDir: tmp.dir,
    table: { omit: ['memif_create_v2'], crcOverride: { tap_create_v2: '0xdeadbeef' } },
  });
  const reports: TableReport[] = [];
  const c = await VppClient.connect({ socket: sock, registry: registry(), listeners: { 'table-mismatch': (r) => reports.push(r) } });
  try {
    assert.is(reports.length, 1);
    assert.equal(c.tableReport.missing, ['memif_create_v2']);
    assert.equal(c.tableReport.crcMismatch, [{ name: 'tap_create_v2', localCrc: registry().message('tap_create_v2').crc, vppCrc: '0xdeadbeef' }]);
    const e1 = await c.request('memif_create_v2', {}).catch((e) => e);
    assert.instance(e1, VppMessageUnavailableError);
    assert.is(e1.reason, 'missing-in-vpp');
    assert.match(e1.message, /^memif_create_v2: VPP does not know this message/);
    const e2 = await c.request('tap_create_v2', {}).catch((e) => e);
    assert.is(e2.reason, 'crc-mismatch');
    assert.match(e2.message, /tap_create_v2: VPP has this message with CRC 0xdeadbeef/);
    assert.is(emu.received.includes('tap_create_v2'), false);
    // everything else still works
    assert.ok((await c.request('memif_create', { socket_id: 0, id: 1 })).sw_if_index > 0);
  } finally {
    await c.close();
    await emu.close();
  }
});

test('reconnect after an in-process restart: pending fail, table re-read, subscriptions replayed', async () => {
  const sock = `${tmp.dir}/rc.sock`;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const emu = await startVppEmulator({
    socketPath: sock, registry: registry(), runtimeDir: tmp.dir, vhostNet: true,
    handlers: { show_version: async () => { await gate; return {}; } },
  });
  const c = await VppClient.connect({ socket: sock, registry: registry(), reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  const events: string[] = [];
  c.on('disconnected', () => events.push('disconnected'));
  c.on('reconnected', () => events.push('reconnected'));
  try {
    await c.request('want_interface_events', { enable_disable: 1, pid: 42 });
    const pending = c.request('show_version').catch((e) => e);
    await until('show_version to reach the emulator', () => emu.received.includes('show_version'));
    const restarted = emu.restart({ table: { omit: ['af_packet_create'] }, downMs: 50 });
    const err = await pending;
    assert.instance(err, VppDisconnectedError);
    assert.match(err.message, /^show_version: not answered, connection to VPP at .* lost/);
    release();
    await restarted;
    await c.waitConnected(3000);
    assert.equal(events, ['disconnected', 'reconnected']);
    assert.equal(c.tableReport.missing, ['af_packet_create']);
    assert.ok(c.messageId('af_packet_create') === undefined);
    // the want_interface_events registration was replayed on the new connection
    await until('subscription replay', () => emu.received.filter((n) => n === 'want_interface_events').length === 1);
    const it = c.events('sw_interface_event');
    const t = (await c.request('tap_create_v2', {})).sw_if_index;
    await c.request('sw_interface_set_flags', { sw_if_index: t, flags: 1 });
    const ev = (await it.next()).value as any;
    assert.is(ev.pid, 42);
    assert.is(ev.sw_if_index, t);
  } finally {
    await c.close();
    await emu.close();
  }
});

function startProcess(sock: string): Promise<ChildProcess> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const main = path.resolve(here, '../../../src/testing/vpp-emulator/main.js');
  const child = spawn(process.execPath, [main, '--socket', sock, '--api-dir', API_DIR, '--runtime-dir', tmp.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d) => (String(d).includes('"ready"') ? resolve(child) : reject(new Error(String(d)))));
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
  });
}

function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

test('reconnect after the emulator process is killed and started again', async () => {
  const sock = `${tmp.dir}/proc.sock`;
  let child = await startProcess(sock);
  const c = await VppClient.connect({ socket: sock, registry: registry(), reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  try {
    const pid1 = (await c.request('control_ping')).vpe_pid;
    assert.is(pid1, child.pid);
    await stopProcess(child, 'SIGKILL');
    await until('disconnect noticed', () => !c.connected);
    const down = await c.request('control_ping').catch((e) => e);
    assert.instance(down, VppDisconnectedError);
    assert.match(down.message, /reconnecting/);
    child = await startProcess(sock);
    await c.waitConnected(5000);
    const pid2 = (await c.request('control_ping')).vpe_pid;
    assert.is(pid2, child.pid);
    assert.ok(pid2 !== pid1);
  } finally {
    await c.close();
    await stopProcess(child);
  }
});

test.run();
