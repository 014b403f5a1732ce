// Real network namespaces and veth/tap devices (root). Everything created is removed in finally.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import {
  IpError, addAddress, addNetns, addNeighbor, addRoute, createTapDevice, createVethPair, deleteLink, deleteLinkIfExists,
  deleteNetns, getLink, listAddresses, listLinks, listRoutes, moveLink, netnsExists, setLinkUp,
} from '../../src/cni/linux/ip.js';
import { closeFd, openTap } from '../../src/sys/index.js';

const rnd = () => randomBytes(3).toString('hex');

async function withNetns(fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `tsvpp-test-${rnd()}`;
  await addNetns(ns);
  try { await fn(ns); } finally { await deleteNetns(ns); }
}

test('netns exists / not', async () => {
  await withNetns(async (ns) => {
    assert.ok(await netnsExists(ns));
    assert.ok(await netnsExists(`/var/run/netns/${ns}`));
  });
  assert.not.ok(await netnsExists(`tsvpp-test-none-${rnd()}`));
});

test('veth pair with the pod end inside a netns under its final name, addresses, routes, neighbors', async () => {
  await withNetns(async (ns) => {
    const host = `tvh${rnd()}`;
    try {
      // Pod-side name equal to a host interface name (lo) would fail; use one that exists on the host: the host end's name.
      await createVethPair({ hostName: host, podName: 'veth1', netns: `/var/run/netns/${ns}` });
      const hostLink = await getLink(host);
      assert.ok(hostLink, 'host end exists');
      const links = await listLinks(ns);
      assert.equal(links.map((l) => l.ifname).sort(), ['lo', 'veth1']);
      await setLinkUp('veth1', true, ns);
      await setLinkUp(host, true);
      await addAddress(ns, 'veth1', '10.1.1.7/32');
      await addRoute(ns, { dst: '10.1.1.1', dev: 'veth1', scope: 'link' });
      await addRoute(ns, { dst: 'default', via: '10.1.1.1', dev: 'veth1' });
      await addNeighbor(ns, { ip: '10.1.1.1', mac: '02:fe:00:00:00:01', dev: 'veth1' });
      const addrs = await listAddresses(ns);
      assert.ok(addrs.find((a) => a.ifname === 'veth1')!.addr_info.some((i) => i.local === '10.1.1.7' && i.prefixlen === 32));
      const routes = await listRoutes(ns);
      assert.ok(routes.some((r) => r.dst === 'default' && r.gateway === '10.1.1.1' && r.dev === 'veth1'), JSON.stringify(routes));
      assert.ok(routes.some((r) => r.dst === '10.1.1.1' && r.scope === 'link'));
      const v = await getLink('veth1', ns);
      assert.ok(v!.flags.includes('UP'));
      // Deleting one end removes both.
      assert.ok(await deleteLinkIfExists(host));
      assert.is(await getLink(host), undefined);
      assert.is(await getLink('veth1', ns), undefined);
      assert.not.ok(await deleteLinkIfExists(host));
    } finally {
      await deleteLinkIfExists(host);
    }
  });
});

test('a netns given as a non-/var/run/netns path works through nsenter', async () => {
  await withNetns(async (ns) => {
    // /proc/self/ns/net of a process in the netns is what CNI runtimes like to pass; a bind path
    // outside /var/run/netns exercises the same nsenter branch.
    const { execFile } = await import('node:child_process');
    const child = execFile('ip', ['netns', 'exec', ns, 'sleep', '30']);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const path = `/proc/${child.pid}/ns/net`;
      await createTapDevice('tap1', path);
      const links = await listLinks(path);
      assert.ok(links.some((l) => l.ifname === 'tap1'), JSON.stringify(links.map((l) => l.ifname)));
      assert.ok((await listLinks(ns)).some((l) => l.ifname === 'tap1'));
      await deleteLink('tap1', path);
      assert.is(await getLink('tap1', ns), undefined);
    } finally { child.kill(); }
  });
});

test('moveLink: a tap held by an fd moves into a netns at a 100-byte path under its final name, and goes when the fd closes', async () => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, mkdirSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  await withNetns(async (ns) => {
    // containerd with netns_mounts_under_state_dir pins netns under its state dir: long paths.
    const base = mkdtempSync(join(tmpdir(), 'tsvpp-longns-'));
    const dir = join(base, 'io.containerd.grpc.v1.cri', 'netns');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `cni-${'0'.repeat(Math.max(8, 100 - dir.length - 5))}`);
    writeFileSync(path, '');
    execFileSync('mount', ['--bind', `/var/run/netns/${ns}`, path]);
    const staging = `tsvt${rnd()}`;
    const fd = openTap(staging);
    let open = true;
    try {
      assert.ok(path.length >= 100, `${path.length} bytes`);
      // The final name may exist here (this VM has an eth0): it is given in the pod.
      await moveLink({ name: staging, netns: path, newName: 'eth0' });
      assert.is(await getLink(staging), undefined, 'gone from the host');
      assert.equal((await listLinks(ns)).map((l) => l.ifname).sort(), ['eth0', 'lo']);
      closeFd(fd); open = false;
      assert.equal((await listLinks(ns)).map((l) => l.ifname), ['lo'], 'the tap went with its fd');
    } finally {
      if (open) closeFd(fd);
      execFileSync('umount', [path]);
      rmSync(base, { recursive: true, force: true });
    }
  });
});

test('errors name the command and stderr', async () => {
  await withNetns(async (ns) => {
    try { await setLinkUp('nosuchdev0', true, ns); assert.unreachable(); } catch (e) {
      assert.instance(e, IpError);
      assert.match((e as Error).message, new RegExp(`\`ip -n ${ns} link set dev nosuchdev0 up\` failed \\(exit 1\\): .*(Cannot find device|does not exist)`));
    }
  });
});

test.run();
