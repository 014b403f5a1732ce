// src/cni/linux/ip.ts against the real kernel (root): namespaces, veth pairs, taps, addresses,
// routes and neighbours made over rtnetlink, each checked with iproute2's `ip -j` as an
// independent reader, and what the module lists compared with what `ip` lists. Random names;
// everything created is removed in finally blocks.
import { test } from 'uvu';
import { ipj } from './iproute2.js';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  addAddress, addNetns, addNeighbor, addRoute, addRule, closeIdleSockets, configureLink, createTapDevice, createVethPair, deleteLink, deleteLinkIfExists,
  deleteNetns, getLink, listAddresses, listLinks, listRoutes, listRules, moveLink, netnsExists, setLinkUp,
} from '../../src/cni/linux/ip.js';
import { NetlinkError, SysError, closeFd, openFdCount, openTap } from '../../src/sys/index.js';

const rnd = () => randomBytes(3).toString('hex');

async function withNetns(fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `tsvpp-test-${rnd()}`;
  await addNetns(ns);
  try { await fn(ns); } finally { await deleteNetns(ns); }
}

// What lives as long as the process is opened by a first use: the namespace thread (its event loop
// and the fd of its home namespace), the Reactor's epoll; and one idle socket of this namespace.
let fdsAtStart = 0;
test.before(async () => {
  await withNetns(async (ns) => { await listLinks(ns); await listLinks(); });
  fdsAtStart = openFdCount();
});

test('netns: created and deleted as `ip netns` does, seen by ip; errors name the path', async () => {
  const ns = `tsvpp-test-${rnd()}`;
  await addNetns(ns);
  try {
    assert.ok(await netnsExists(ns));
    assert.ok(await netnsExists(`/var/run/netns/${ns}`));
    assert.ok((await ipj(['netns', 'list'])).some((n) => n.name === ns), 'ip netns list shows it');
    assert.equal((await ipj(['link', 'show'], ns)).map((l) => l.ifname), ['lo'], 'a fresh namespace: only lo');
    // Mounted: the file is a bind of a namespace, not an empty file.
    assert.match(execFileSync('findmnt', ['-n', '-o', 'FSTYPE', `/var/run/netns/${ns}`], { encoding: 'utf8' }), /nsfs/);
    try { await addNetns(ns); assert.unreachable(); } catch (e) {
      assert.instance(e, SysError);
      assert.is((e as SysError).code, 'EEXIST');
      assert.match((e as Error).message, new RegExp(`/var/run/netns/${ns}`));
    }
  } finally { await deleteNetns(ns); }
  assert.not.ok(await netnsExists(ns));
  assert.not.ok(existsSync(`/var/run/netns/${ns}`));
  assert.not.ok((await ipj(['netns', 'list'])).some((n) => n.name === ns));
  try { await deleteNetns(ns); assert.unreachable(); } catch (e) {
    assert.instance(e, SysError);
    assert.match((e as Error).message, new RegExp(`umount2 \\(netns /var/run/netns/${ns}\\) failed: (EINVAL|ENOENT)`));
  }
});

test('veth pair with the pod end inside a netns under its final name; addresses, routes, neighbours as ip sees them', async () => {
  await withNetns(async (ns) => {
    const host = `tvh${rnd()}`;
    try {
      await createVethPair({ hostName: host, podName: 'veth1', netns: `/var/run/netns/${ns}`, mtu: 1400, up: true });
      const [hl] = await ipj(['-d', 'link', 'show', 'dev', host]);
      assert.is(hl.linkinfo.info_kind, 'veth');
      assert.is(hl.mtu, 1400);
      assert.ok(hl.flags.includes('UP'), 'host end up in the same request');
      assert.equal((await listLinks(ns)).map((l) => l.ifname).sort(), ['lo', 'veth1']);
      await setLinkUp('veth1', true, ns);
      await addAddress(ns, 'veth1', '10.1.1.7/32');
      await addRoute(ns, { dst: '10.1.1.1', dev: 'veth1', scope: 'link' });
      await addRoute(ns, { dst: 'default', via: '10.1.1.1', dev: 'veth1' });
      await addNeighbor(ns, { ip: '10.1.1.1', mac: '02:fe:00:00:00:01', dev: 'veth1' });

      const ipAddrs = await ipj(['addr', 'show', 'dev', 'veth1'], ns);
      assert.ok(ipAddrs[0].addr_info.some((i: any) => i.family === 'inet' && i.local === '10.1.1.7' && i.prefixlen === 32));
      const ipRoutes = await ipj(['route', 'show'], ns);
      assert.ok(ipRoutes.some((r) => r.dst === 'default' && r.gateway === '10.1.1.1' && r.dev === 'veth1'), JSON.stringify(ipRoutes));
      assert.ok(ipRoutes.some((r) => r.dst === '10.1.1.1' && r.scope === 'link' && r.dev === 'veth1'));
      const neigh = await ipj(['neigh', 'show', 'dev', 'veth1'], ns);
      assert.equal(neigh.map((n) => [n.dst, n.lladdr, n.state]), [['10.1.1.1', '02:fe:00:00:00:01', ['PERMANENT']]]);

      // What the module lists is what ip lists.
      const mine = await listLinks(ns), theirs = await ipj(['-d', 'link', 'show'], ns);
      assert.equal(mine.map((l) => ({ ...l })), theirs.map((l) => ({
        ifindex: l.ifindex, ifname: l.ifname, flags: l.flags, link_type: l.link_type, mtu: l.mtu, operstate: l.operstate, address: l.address,
        ...(l.linkinfo ? { linkinfo: { info_kind: l.linkinfo.info_kind } } : {}),
      })));
      assert.equal(await listAddresses(ns), (await ipj(['addr', 'show'], ns)).map((l) => ({
        ifname: l.ifname, addr_info: l.addr_info.map((a: any) => ({ family: a.family, local: a.local, prefixlen: a.prefixlen, scope: a.scope })),
      })));
      assert.equal(await listRoutes(ns), ipRoutes.map((r) => ({ dst: r.dst, ...(r.gateway ? { gateway: r.gateway } : {}), dev: r.dev, ...(r.scope ? { scope: r.scope } : {}), flags: r.flags })));
      assert.ok((await getLink('veth1', ns))!.flags.includes('UP'));

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

test('configureLink: up, addresses, neighbours and routes in one batch; returns the link with its MAC', async () => {
  await withNetns(async (ns) => {
    const host = `tvh${rnd()}`;
    try {
      await createVethPair({ hostName: host, podName: 'eth0', netns: ns });
      const l = await configureLink(`/var/run/netns/${ns}`, {
        name: 'eth0', up: true, addresses: ['10.9.0.5/32'], neighbors: [{ ip: '10.9.0.1', mac: '02:fe:aa:bb:cc:dd' }],
        routes: [{ dst: '10.9.0.1', scope: 'link' }, { dst: 'default', via: '10.9.0.1' }, { dst: '10.200.0.0/16', via: '10.9.0.1', onlink: true }],
      });
      const [il] = await ipj(['link', 'show', 'dev', 'eth0'], ns);
      assert.is(l.address, il.address, 'the MAC as ip prints it');
      assert.ok(il.flags.includes('UP'));
      const routes = await listRoutes(ns);
      assert.ok(routes.some((r) => r.dst === '10.200.0.0/16' && r.gateway === '10.9.0.1' && r.flags!.includes('onlink')), JSON.stringify(routes));
      assert.ok(routes.some((r) => r.dst === 'default' && r.gateway === '10.9.0.1' && r.dev === 'eth0'));
      // The same again: the first refusal is thrown, with the kernel's reason.
      try { await configureLink(ns, { name: 'eth0', addresses: ['10.9.0.5/32'] }); assert.unreachable(); } catch (e) {
        assert.instance(e, NetlinkError);
        assert.is((e as NetlinkError).code, 'EEXIST');
        assert.match((e as Error).message, new RegExp(`^add address 10.9.0.5/32 to eth0 in ${ns} failed: EEXIST \\(.+\\)$`));
      }
    } finally { await deleteLinkIfExists(host); }
  });
});

test('createVethPair: the pod end\'s MAC and GSO limit as given, both MTUs; ip reads them back', async () => {
  await withNetns(async (ns) => {
    const host = `tvh${rnd()}`;
    try {
      await createVethPair({ hostName: host, podName: 'eth1', netns: ns, mtu: 1450, podMac: '02:fe:12:34:56:78', noGso: true });
      const [p] = await ipj(['-d', 'link', 'show', 'dev', 'eth1'], ns);
      assert.equal([p.address, p.mtu, p.gso_max_segs], ['02:fe:12:34:56:78', 1450, 1]);
      const [h] = await ipj(['-d', 'link', 'show', 'dev', host]);
      assert.is(h.mtu, 1450);
      assert.is.not(h.gso_max_segs, 1, 'the host end keeps the default');
      assert.not.ok(h.flags.includes('UP'), 'not up unless asked');
    } finally { await deleteLinkIfExists(host); }
  });
});

test('policy routing: a rule and routes in another table, as ip lists them', async () => {
  await withNetns(async (ns) => {
    const host = `tvh${rnd()}`;
    try {
      await createVethPair({ hostName: host, podName: 'eth0', netns: ns });
      await configureLink(ns, { name: 'eth0', up: true, addresses: ['10.8.0.5/32'], routes: [{ dst: '10.8.0.1', scope: 'link', table: 100 }, { dst: 'default', via: '10.8.0.1', table: 100 }, { dst: '10.9.0.0/16', via: '10.8.0.1', onlink: true, table: 1000 }] });
      await addRule(ns, { from: '10.8.0.5', table: 100, priority: 100 });
      await addRule(ns, { from: '10.8.0.0/24', table: 1000, priority: 101 });
      assert.equal(await listRules(ns), await ipj(['rule', 'show'], ns));
      assert.ok((await listRules(ns)).some((r) => r.priority === 100 && r.src === '10.8.0.5' && r.table === '100'));
      for (const t of [100, 1000]) {
        const theirs = await ipj(['route', 'show', 'table', String(t)], ns);
        assert.ok(theirs.length > 0, `table ${t} has routes`);
        assert.equal(await listRoutes(ns, t), theirs.map((r) => ({ dst: r.dst, ...(r.gateway ? { gateway: r.gateway } : {}), dev: r.dev, ...(r.scope ? { scope: r.scope } : {}), flags: r.flags })));
      }
      assert.not.ok((await listRoutes(ns)).some((r) => r.dst === 'default'), 'the main table has no default route');
      try { await addRule(ns, { from: '10.8.0.5', table: 100, priority: 100 }); assert.unreachable(); } catch (e) {
        assert.match((e as Error).message, new RegExp(`^add rule from 10.8.0.5 lookup 100 priority 100 in ${ns} failed: EEXIST`));
      }
    } finally { await deleteLinkIfExists(host); }
  });
});

test('a netns given as /proc/PID/ns/net works', async () => {
  await withNetns(async (ns) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'sleep', '30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      // ip netns exec runs sleep in its own process after exec: the pid is in the namespace.
      const path = `/proc/${child.pid}/ns/net`;
      await createTapDevice('tap1', path);
      assert.ok((await listLinks(path)).some((l) => l.ifname === 'tap1'));
      const [t] = await ipj(['-d', 'link', 'show', 'dev', 'tap1'], ns);
      assert.is(t.linkinfo.info_kind, 'tun');
      assert.is(t.linkinfo.info_data.type, 'tap');
      assert.is(t.linkinfo.info_data.persist, true, JSON.stringify(t.linkinfo.info_data));
      await deleteLink('tap1', path);
      assert.is(await getLink('tap1', ns), undefined);
    } finally { child.kill(); }
  });
});

test('moveLink: a tap held by an fd moves into a netns at a 100-byte path under its final name, and goes when the fd closes', async () => {
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

test('errors name the operation, the link, the namespace and the errno', async () => {
  await withNetns(async (ns) => {
    try { await setLinkUp('nosuchdev0', true, ns); assert.unreachable(); } catch (e) {
      assert.instance(e, NetlinkError);
      assert.is((e as NetlinkError).code, 'ENODEV');
      assert.is((e as Error).message, `set link nosuchdev0 up in ${ns} failed: ENODEV`);
    }
    try { await addRoute(ns, { dst: '10.0.0.0/8', via: '10.255.0.1', dev: 'lo' }); assert.unreachable(); } catch (e) {
      assert.match((e as Error).message, new RegExp(`add route 10.0.0.0/8 via 10.255.0.1 dev lo in ${ns} failed: ENETUNREACH \\(.+\\)`));
    }
    try { await addAddress(ns, 'lo', '10.0.0.300/8'); assert.unreachable(); } catch (e) {
      assert.match((e as Error).message, /"10.0.0.300" is not an IPv4 address/);
    }
  });
  const gone = `tsvpp-test-none-${rnd()}`;
  assert.not.ok(await netnsExists(gone));
  try { await listLinks(gone); assert.unreachable(); } catch (e) {
    assert.instance(e, SysError);
    assert.match((e as Error).message, new RegExp(`open \\(netns /var/run/netns/${gone}\\) failed: ENOENT`));
  }
  assert.not.ok(await deleteLinkIfExists('eth0', gone), 'nothing to delete in a namespace that is gone');
  try { await createVethPair({ hostName: `tvh${rnd()}`, podName: 'eth0', netns: gone }); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, new RegExp(`open \\(netns /var/run/netns/${gone}\\) failed: ENOENT`));
  }
});

test('many namespaces at once: concurrent pods get their links, nothing leaks', async () => {
  const pods = Array.from({ length: 12 }, (_, i) => ({ ns: `tsvpp-test-${rnd()}-${i}`, host: `tvh${rnd()}${i.toString(16)}` }));
  await Promise.all(pods.map((p) => addNetns(p.ns)));
  try {
    await Promise.all(pods.map(async (p, i) => {
      await createVethPair({ hostName: p.host, podName: 'eth0', netns: p.ns, up: true });
      await configureLink(p.ns, { name: 'eth0', up: true, addresses: [`10.77.0.${i + 2}/32`], routes: [{ dst: '10.77.0.1', scope: 'link' }, { dst: 'default', via: '10.77.0.1' }] });
    }));
    for (const [i, p] of pods.entries()) {
      const a = await ipj(['addr', 'show', 'dev', 'eth0'], p.ns);
      assert.ok(a[0].addr_info.some((x: any) => x.local === `10.77.0.${i + 2}`), `${p.ns} has its own address`);
    }
  } finally {
    await Promise.all(pods.map((p) => deleteLinkIfExists(p.host)));
    await Promise.all(pods.map((p) => deleteNetns(p.ns)));
  }
  for (const p of pods) assert.is(await getLink(p.host), undefined);
});

test('no file descriptor is left open by all of the above (up to 4 idle sockets are kept; closed here)', () => {
  closeIdleSockets();
  assert.ok(openFdCount() <= fdsAtStart - 1, `${openFdCount()} fds open, ${fdsAtStart} after the first use (one idle socket)`);
});

test.run();
