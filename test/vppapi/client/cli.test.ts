import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { callMain, type CliIo } from '../../../src/cli/api-call.js';
import { startVppEmulator, type VppEmulator } from '../../../src/testing/vpp-emulator/index.js';
import { registry, tempDir, API_DIR } from './helpers.js';

const tmp = tempDir();
let emu: VppEmulator;

function io(): CliIo & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', out: (s: string) => { o.stdout += s; }, err: (s: string) => { o.stderr += s; } };
  return o;
}

test.before(async () => {
  emu = await startVppEmulator({ socketPath: tmp.sock, registry: registry(), runtimeDir: tmp.dir, vhostNet: true });
});
test.after(async () => {
  await emu.close();
  tmp.cleanup();
});

const base = () => ['--socket', tmp.sock, '--api-dir', API_DIR];

test('reply printed as JSON', async () => {
  const o = io();
  assert.is(await callMain([...base(), 'show_version'], o), 0, o.stderr);
  const r = JSON.parse(o.stdout);
  assert.is(r.program, 'vpe');
  assert.is(r.retval, 0);
});

test('request JSON in, dump out one line per details (JSON form: hex MAC)', async () => {
  const o = io();
  assert.is(await callMain([...base(), 'tap_create_v2', '{"id": 3, "mac_address": "02fe00000003", "use_random_mac": false}'], o), 0, o.stderr);
  const sw = JSON.parse(o.stdout).sw_if_index;
  const d = io();
  assert.is(await callMain([...base(), 'sw_interface_dump', '{"name_filter_valid": true, "name_filter": "tap3"}'], d), 0, d.stderr);
  const lines = d.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 1);
  assert.is(lines[0].sw_if_index, sw);
  assert.is(lines[0].l2_address, '02fe00000003');
});

test('VPP error: exit 1, message names the error', async () => {
  const o = io();
  assert.is(await callMain([...base(), 'memif_delete', '{"sw_if_index": 777}'], o), 1);
  assert.match(o.stderr, /memif_delete: VPP returned -2 VNET_API_ERROR_INVALID_SW_IF_INDEX/);
});

test('no VPP: exit 3 with "no VPP API socket at PATH"; usage errors exit 2', async () => {
  const o = io();
  assert.is(await callMain(['--socket', `${tmp.dir}/nope.sock`, '--api-dir', API_DIR, 'show_version'], o), 3);
  assert.match(o.stderr, new RegExp(`no VPP API socket at ${tmp.dir}/nope.sock`));
  const u = io();
  assert.is(await callMain([...base()], u), 2);
  assert.match(u.stderr, /usage: tsvpp api call/);
  const bad = io();
  assert.is(await callMain([...base(), 'show_version', '{"bogus": 1}'], bad), 2);
  assert.match(bad.stderr, /bad request JSON for show_version: .*bogus/);
  const unk = io();
  assert.is(await callMain([...base(), 'no_such_msg'], unk), 2);
  assert.match(unk.stderr, /unknown message no_such_msg/);
});

test.run();
