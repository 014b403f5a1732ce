// The memif device plugin against the kubelet stand-in (real protos, real gRPC over unix sockets):
// registration, ListAndWatch, Allocate (dir, mount, envs, persisted record), kubelet restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, mkdirSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifDevicePlugin } from '../../src/cni/deviceplugin/plugin.js';
import { AllocationStore, randomMemifSecret } from '../../src/cni/deviceplugin/allocations.js';
import { KubeletStandin } from '../../src/testing/kubelet-standin.js';

const root = mkdtempSync(join(tmpdir(), 'tsvpp-dp-'));
const dpDir = join(root, 'device-plugins');
const memifDir = join(root, 'memif');
const stateDir = join(root, 'state');
mkdirSync(dpDir);
let kubelet: KubeletStandin;
let plugin: MemifDevicePlugin;

test.before(async () => {
  kubelet = new KubeletStandin(dpDir, join(root, 'pod-resources.sock'));
  await kubelet.start();
  plugin = new MemifDevicePlugin({ dir: dpDir, devices: 4, store: new AllocationStore(stateDir, memifDir), pollMs: 200 });
  await plugin.start();
});

test.after(async () => {
  await plugin?.close();
  await kubelet?.stop(true);
  rmSync(root, { recursive: true, force: true });
});

test('random secrets are 20 alphanumeric characters and differ', () => {
  const s = new Set(Array.from({ length: 200 }, () => randomMemifSecret()));
  assert.is(s.size, 200);
  for (const x of s) assert.match(x, /^[A-Za-z0-9]{20}$/);
});

test('registers contivpp.io/memif, serves its socket 0600, ListAndWatch lists the devices', async () => {
  assert.is(kubelet.registrations.length, 1);
  const r = kubelet.registrations[0]!;
  assert.is(r.resource_name, 'contivpp.io/memif');
  assert.is(r.version, 'v1beta1');
  assert.is(r.endpoint, 'tsvpp-memif.sock');
  assert.is(statSync(join(dpDir, r.endpoint)).mode & 0o777, 0o600);
  await kubelet.waitFor(() => (kubelet.plugins.get('contivpp.io/memif')?.devices.length ?? 0) === 4, 5000, 'device list');
  assert.equal(kubelet.plugins.get('contivpp.io/memif')!.devices.map((d) => [d.ID, d.health]),
    [['memif-0', 'Healthy'], ['memif-1', 'Healthy'], ['memif-2', 'Healthy'], ['memif-3', 'Healthy']]);
});

test('Allocate: per container a host dir mounted at /run/vpp, MEMIF_SOCKET/MEMIF_SECRET, record in the state dir', async () => {
  const res = await kubelet.admit('default', 'p1', [{ name: 'a', count: 1 }, { name: 'b', count: 2 }]);
  assert.is(res.length, 2);
  const store = new AllocationStore(stateDir, memifDir); // a fresh instance: what a restarted agent sees
  for (const [i, r] of res.entries()) {
    assert.is(r.envs['MEMIF_SOCKET'], '/run/vpp/memif.sock');
    assert.match(r.envs['MEMIF_SECRET']!, /^[A-Za-z0-9]{20}$/);
    assert.is(r.mounts.length, 1);
    assert.is(r.mounts[0]!.container_path, '/run/vpp');
    assert.ok(r.mounts[0]!.host_path.startsWith(memifDir + '/'), r.mounts[0]!.host_path);
    assert.ok(statSync(r.mounts[0]!.host_path).isDirectory());
    const ids = kubelet.pods[0]!.containers[i]!.devices[0]!.device_ids;
    const a = await store.byDevice(ids[0]!);
    assert.ok(a, `record for ${ids[0]}`);
    assert.is(a!.hostDir, r.mounts[0]!.host_path);
    assert.is(a!.secret, r.envs['MEMIF_SECRET']);
    assert.equal(a!.deviceIds, ids);
  }
  assert.is.not(res[0]!.envs['MEMIF_SECRET'], res[1]!.envs['MEMIF_SECRET']);
  assert.is.not(res[0]!.mounts[0]!.host_path, res[1]!.mounts[0]!.host_path);
});

test('Allocate of a reused device id replaces the older record and removes its dir', async () => {
  const store = new AllocationStore(stateDir, memifDir);
  const before = await store.list();
  const oldDir = kubelet.pods[0]!.containers[0]!.devices[0]!.device_ids[0]!;
  const oldA = (await store.byDevice(oldDir))!;
  kubelet.forget('default', 'p1');
  const res = await kubelet.admit('default', 'p2', [{ name: 'c', count: 1 }]);
  const after = await store.list();
  assert.is(after.length, before.length, 'one record replaced, not added');
  assert.not.ok(existsSync(oldA.hostDir), 'old dir removed');
  assert.ok(existsSync(res[0]!.mounts[0]!.host_path));
});

test('Allocate of an unknown device id fails with the id named', async () => {
  try {
    await plugin.allocate({ container_requests: [{ devices_ids: ['memif-99'] }] });
    assert.unreachable();
  } catch (e) { assert.match((e as Error).message, /memif-99/); }
});

test('kubelet restart (all sockets deleted, kubelet.sock recreated): plugin serves again and re-registers', async () => {
  const n = kubelet.registrations.length;
  await kubelet.restart();
  assert.not.ok(kubelet.plugins.has('contivpp.io/memif'));
  await kubelet.waitFor(() => kubelet.registrations.length > n, 5000, 're-registration');
  await kubelet.waitFor(() => (kubelet.plugins.get('contivpp.io/memif')?.devices.length ?? 0) === 4, 5000, 'device list after restart');
  assert.ok(existsSync(plugin.socketPath));
  assert.is(statSync(plugin.socketPath).mode & 0o777, 0o600);
  kubelet.pods.length = 0;
  const res = await kubelet.admit('default', 'p3', [{ name: 'c', count: 1 }]);
  assert.is(res[0]!.envs['MEMIF_SOCKET'], '/run/vpp/memif.sock');
});

test('plugin started before kubelet registers once kubelet comes up; close removes its socket', async () => {
  const dir2 = join(root, 'dp2');
  mkdirSync(dir2);
  const k2 = new KubeletStandin(dir2, join(root, 'pr2.sock'));
  const p2 = new MemifDevicePlugin({ dir: dir2, devices: 1, store: new AllocationStore(join(root, 'state2'), memifDir), pollMs: 200 });
  try {
    await p2.start();
    assert.is(p2.registrations, 0);
    await k2.start();
    await k2.waitFor(() => k2.registrations.length === 1, 5000, 'late registration');
    await p2.close();
    assert.equal(readdirSync(dir2).filter((f) => f !== 'kubelet.sock'), []);
  } finally { await p2.close(); await k2.stop(true); }
});

test.run();
