// host-local from containernetworking-plugins, invoked for real; its dataDir in a temp dir.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostLocalIpam, IpamError, type IpamRange } from '../../src/cni/ipam.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tsvpp-ipam-'));
test.after(() => rmSync(dataDir, { recursive: true, force: true }));

const pod: IpamRange = { network: 'default', subnet: '10.1.1.0/24', rangeStart: '10.1.1.2', rangeEnd: '10.1.1.254', gateway: '10.1.1.1' };
const l3: IpamRange = { network: 'l3net', subnet: '10.99.1.0/24', rangeStart: '10.99.1.2', rangeEnd: '10.99.1.254', gateway: '10.99.1.1' };

test('allocate per (container, ifname), one range per network, release on DEL', async () => {
  const ipam = await HostLocalIpam.create(dataDir);
  const a = await ipam.allocate(pod, { containerId: 'c1', ifName: 'eth0' });
  const b = await ipam.allocate(pod, { containerId: 'c1', ifName: 'tap1' });
  const c = await ipam.allocate(l3, { containerId: 'c1', ifName: 'memif1' });
  assert.is(a.address, '10.1.1.2/24');
  assert.is(a.gateway, '10.1.1.1');
  assert.is(b.address, '10.1.1.3/24');
  assert.is(c.address, '10.99.1.2/24');
  assert.ok(readdirSync(join(dataDir, 'tsvpp-default')).includes('10.1.1.2'));
  assert.ok(readdirSync(join(dataDir, 'tsvpp-l3net')).includes('10.99.1.2'));
  await ipam.check(pod, { containerId: 'c1', ifName: 'eth0' }, a.address);
  await ipam.release(pod, { containerId: 'c1', ifName: 'eth0' });
  assert.not.ok(readdirSync(join(dataDir, 'tsvpp-default')).includes('10.1.1.2'));
  try { await ipam.check(pod, { containerId: 'c1', ifName: 'eth0' }, a.address); assert.unreachable(); } catch (e) {
    assert.instance(e, IpamError); assert.match((e as Error).message, /host-local CHECK in network default failed/);
  }
  // Releasing what is not held succeeds (DEL is idempotent).
  await ipam.release(pod, { containerId: 'c1', ifName: 'eth0' });
  await ipam.release(pod, { containerId: 'c1', ifName: 'tap1' });
  await ipam.release(l3, { containerId: 'c1', ifName: 'memif1' });
});

test('mayHold reads host-local\'s lease files: true while the lease is held, false once released, for another container or network', async () => {
  const ipam = await HostLocalIpam.create(dataDir);
  const other: IpamRange = { ...l3, network: 'never-used' };
  assert.is(await ipam.mayHold(other, { containerId: 'm1', ifName: 'eth0' }), false, 'no directory: nothing held');
  await ipam.allocate(pod, { containerId: 'm1', ifName: 'eth0' });
  assert.is(await ipam.mayHold(pod, { containerId: 'm1', ifName: 'eth0' }), true);
  assert.is(await ipam.mayHold(pod, { containerId: 'm1', ifName: 'tap1' }), false, 'another interface of the container');
  assert.is(await ipam.mayHold(pod, { containerId: 'm2', ifName: 'eth0' }), false, 'another container');
  assert.is(await ipam.mayHold(l3, { containerId: 'm1', ifName: 'eth0' }), false, 'another network');
  await ipam.release(pod, { containerId: 'm1', ifName: 'eth0' });
  assert.is(await ipam.mayHold(pod, { containerId: 'm1', ifName: 'eth0' }), false, 'released');
  // What it cannot read, host-local decides.
  const odd = join(dataDir, 'tsvpp-default', '10.1.1.250');
  mkdirSync(odd);
  try { assert.is(await ipam.mayHold(pod, { containerId: 'm1', ifName: 'eth0' }), true); } finally { rmSync(odd, { recursive: true }); }
});

test('a released address is not handed out again soon, also by a new instance (agent restart)', async () => {
  const first = await HostLocalIpam.create(dataDir);
  const x = await first.allocate(pod, { containerId: 'c2', ifName: 'eth0' });
  await first.release(pod, { containerId: 'c2', ifName: 'eth0' });
  const second = await HostLocalIpam.create(dataDir); // fresh process state, same dataDir
  const y = await second.allocate(pod, { containerId: 'c3', ifName: 'eth0' });
  assert.is.not(y.address, x.address);
  const held = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const l = await second.allocate(pod, { containerId: `c4-${i}`, ifName: 'eth0' });
    assert.not.ok(held.has(l.address), `duplicate ${l.address}`);
    assert.is.not(l.address, y.address);
    held.add(l.address);
  }
  for (let i = 0; i < 20; i++) await second.release(pod, { containerId: `c4-${i}`, ifName: 'eth0' });
  await second.release(pod, { containerId: 'c3', ifName: 'eth0' });
});

test('exhaustion is an IpamError naming the network', async () => {
  const ipam = await HostLocalIpam.create(dataDir);
  const tiny: IpamRange = { network: 'tiny', subnet: '10.5.0.0/30', rangeStart: '10.5.0.2', rangeEnd: '10.5.0.2', gateway: '10.5.0.1' };
  await ipam.allocate(tiny, { containerId: 'd1', ifName: 'eth0' });
  try { await ipam.allocate(tiny, { containerId: 'd2', ifName: 'eth0' }); assert.unreachable(); } catch (e) {
    assert.instance(e, IpamError); assert.match((e as Error).message, /host-local ADD in network tiny failed/);
  }
  await ipam.release(tiny, { containerId: 'd1', ifName: 'eth0' });
});

test.run();
