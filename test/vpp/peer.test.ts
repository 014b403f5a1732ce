// scripts/vpp-peer.sh itself: `check` names exactly what an install lacks; two instances run side
// by side, one inside a network namespace where af_packet sees that namespace's links; a second
// start of a running name is refused; stop removes the runtime dir and /dev/shm files, and is
// harmless for a name that is not running.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { addNetns, deleteNetns, createVeth } from '../../src/cni/linux/ip.js';
import { REPO, Vpp, vppPrefix } from './support/vpp.js';

const run = promisify(execFile);
const SCRIPT = resolve(REPO, 'scripts/vpp-peer.sh');
const rnd = randomBytes(3).toString('hex');
const netns = `tsvpp-peer-${rnd}`;
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-peer-'));

async function script(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', [SCRIPT, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

test.after(async () => {
  await deleteNetns(netns).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('check: a complete install passes; one without the nat plugin is named exactly; an empty dir lacks everything', async () => {
  const ok = await script('check', vppPrefix());
  assert.is(ok.code, 0, ok.stderr);
  // A prefix like the real one, but its plugin dir lacks nat_plugin.so.
  const p = join(dir, 'prefix');
  const plugins = readdirSync(vppPrefix() + '/lib').map((d) => join(vppPrefix(), 'lib', d, 'vpp_plugins')).find((d) => existsSync(d))!;
  const mine = join(p, 'lib', 'x86_64-linux-gnu', 'vpp_plugins');
  mkdirSync(mine, { recursive: true });
  for (const f of readdirSync(plugins)) if (f !== 'nat_plugin.so') symlinkSync(join(plugins, f), join(mine, f));
  symlinkSync(join(vppPrefix(), 'bin'), join(p, 'bin'));
  symlinkSync(join(vppPrefix(), 'share'), join(p, 'share'));
  const noNat = await script('check', p);
  assert.is(noNat.code, 1);
  assert.equal(noNat.stderr.split('\n').filter((l) => l.startsWith('  - ')), [`  - plugin nat: ${mine}/nat_plugin.so`]);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const none = await script('check', empty);
  assert.is(none.code, 1);
  for (const what of ['bin/vpp', 'bin/vppctl', 'vpp_plugins', 'core/vpe.api.json', 'plugins/memif.api.json']) assert.match(none.stderr, what);
  assert.match(none.stderr, /VPP_PLUGINS=memif,af_packet,tap,ping,vxlan,nat,cnat,acl/);
  const missing = await script('check', join(dir, 'nope'));
  assert.match(missing.stderr, /no such directory/);
});

test('two instances at once, one in a netns (af_packet sees that namespace\'s links); a running name is refused; stop cleans up', async () => {
  await addNetns(netns);
  await createVeth({ name: 'vpa', peer: 'vpb', netns });
  const host = await Vpp.start();
  const inNs = await Vpp.start({ netns });
  try {
    assert.is(inNs.info.netns, netns);
    const [a, b] = [await host.connect(), await inNs.connect()];
    try {
      assert.is((await a.request<{ version: string }>('show_version')).version, (await b.request<{ version: string }>('show_version')).version);
      const af = (c: typeof a) => c.request('af_packet_create_v3', { mode: 1, use_random_hw_addr: true, host_if_name: 'vpa', num_rx_queues: 1, num_tx_queues: 1 }).then(() => 'ok', (e: Error) => e.message);
      assert.is(await af(b), 'ok', 'the netns instance attaches to the namespace\'s veth');
      assert.match(await af(a), /INVALID_INTERFACE/, 'the host instance does not see it');
    } finally { await a.close(); await b.close(); }
    const again = await script('start', vppPrefix(), inNs.name);
    assert.is(again.code, 1);
    assert.match(again.stderr, new RegExp(`an instance named ${inNs.name} is already running`));
  } finally {
    await host.stop();
    await inNs.stop();
  }
  for (const v of [host, inNs]) {
    assert.not.ok(existsSync(v.info.runtimeDir), `${v.info.runtimeDir} removed`);
    assert.equal(readdirSync('/dev/shm').filter((f) => f.startsWith(`${v.name}-`)), [], `/dev/shm/${v.name}-* removed`);
  }
  const idle = await script('stop', vppPrefix(), `t${process.pid}xidle`);
  assert.is(idle.code, 0, 'stopping a name that is not running is harmless');
  const bad = await script('start', vppPrefix(), 'bad/name');
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /instance name 'bad\/name' must be 1-32 of/);
});

test.run();
