// The tc ingress redirect and link-group deletion of src/cni/linux/ip.ts against the real kernel
// (root), checked with iproute2's `ip` and `tc` as independent readers. The layout is the CNI's
// "tcfilter" model: a pod's veth X/X' (X' created in the pod's namespace, in a link group) and a
// long-lived veth P/P' (P' where VPP would attach, here a second namespace with an address), X and
// P in this process's namespace joined by a redirect each way; ping across proves packets pass.
// Random names; everything created is removed in finally blocks.
import { test } from 'uvu';
import { ipj, run } from './iproute2.js';
import * as assert from 'uvu/assert';
import { randomBytes, randomInt } from 'node:crypto';
import {
  addNetns, clearIngress, closeIdleSockets, configureLink, createVethPair, deleteLinkGroup, deleteLinkIfExists, deleteNetns, getLink, ingressRedirectTarget,
  listIngressFilters, listLinks, redirectIngress, setLinkUp,
} from '../../src/cni/linux/ip.js';
import { NetlinkError, openFdCount, openNetlinkIn, rtnl } from '../../src/sys/index.js';

const rnd = () => randomBytes(3).toString('hex');
const ifindex = async (name: string, ns?: string): Promise<number> => (await ipj(['link', 'show', 'dev', name], ns))[0].ifindex as number;
/** `tc filter show dev DEV ingress`, as text. */
const tcShow = async (dev: string): Promise<string> => (await run('tc', ['filter', 'show', 'dev', dev, 'ingress'])).stdout;
/** Whether `ping -c 2 -W 1` from `ns` to `addr` got its answers. */
async function pings(ns: string, addr: string): Promise<boolean> {
  try { await run('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', '2', '-W', '1', addr]); return true; } catch { return false; }
}

let fdsAtStart = 0;
test.before(async () => {
  const ns = `tsvpp-tc-${rnd()}`;
  await addNetns(ns);
  try { await listLinks(ns); await listLinks(); } finally { await deleteNetns(ns); }
  fdsAtStart = openFdCount();
});

test('a redirect each way joins a pod veth to another veth: ping passes, the targets read back, a new redirect replaces the old, a group goes in one delete', async () => {
  const id = rnd(), pod = `tsvpp-tc-pod-${id}`, peer = `tsvpp-tc-vpp-${id}`;
  const x = `ttx${id}`, x2 = `tty${id}`, u = `ttu${id}`, p = `ttp${id}`, q = `ttq${id}`;
  const group = randomInt(1000, 0x7fffffff);
  await addNetns(pod);
  await addNetns(peer);
  try {
    // X/X' and a second grouped pair X2/eth1, an ungrouped U/eth9; P/P' and Q/Q' towards the peer.
    await createVethPair({ hostName: x, podName: 'eth0', netns: pod, group, up: true });
    await createVethPair({ hostName: x2, podName: 'eth1', netns: pod, group, mtu: 1400 });
    await createVethPair({ hostName: u, podName: 'eth9', netns: pod });
    await createVethPair({ hostName: p, podName: 'vpp0', netns: peer, up: true });
    await createVethPair({ hostName: q, podName: 'vpp1', netns: peer, up: true });
    await setLinkUp(q, true);
    await configureLink(pod, { name: 'eth0', up: true, addresses: ['10.213.0.1/24'] });
    await configureLink(peer, { name: 'vpp0', up: true, addresses: ['10.213.0.2/24'] });
    await configureLink(peer, { name: 'vpp1', up: true });

    // Both ends of a grouped pair are in the group, as ip sees them; the ungrouped one is not.
    assert.is((await ipj(['link', 'show', 'dev', 'eth0'], pod))[0].group, String(group));
    assert.is((await ipj(['link', 'show', 'dev', 'eth1'], pod))[0].group, String(group));
    assert.is((await ipj(['link', 'show', 'dev', x]))[0].group, String(group));
    assert.is((await ipj(['link', 'show', 'dev', x2]))[0].group, String(group));
    assert.is((await ipj(['link', 'show', 'dev', x2]))[0].mtu, 1400, 'the other options still apply');
    assert.is((await ipj(['link', 'show', 'dev', 'eth9'], pod))[0].group, 'default');

    const [xi, pi, qi] = [await ifindex(x), await ifindex(p), await ifindex(q)];
    assert.is(await ingressRedirectTarget(x), undefined, 'no qdisc yet: no redirect');
    assert.not.ok(await pings(pod, '10.213.0.2'), 'nothing carries packets from X to P before the redirect');

    await redirectIngress({ dev: x, to: p });
    await redirectIngress({ dev: p, to: x });
    assert.is(await ingressRedirectTarget(x), pi);
    assert.is(await ingressRedirectTarget(p), xi);
    assert.match(await tcShow(x), new RegExp(`match 00000000/00000000 at 0\\s+action order 1: mirred \\(Egress Redirect to device ${p}\\) stolen`));
    assert.ok(await pings(pod, '10.213.0.2'), 'ping from the pod crosses X -> P and back P -> X');

    // Again to the same target, then to another device: still exactly one filter, and it is the new one.
    await redirectIngress({ dev: x, to: p });
    await redirectIngress({ dev: x, to: q });
    assert.is(await ingressRedirectTarget(x), qi);
    const shown = await tcShow(x);
    assert.is(shown.match(/action order/g)?.length, 1, shown);
    assert.is(shown.match(/^filter .* fh 800::/gm)?.length, 1, `one u32 key:\n${shown}`);
    assert.match(shown, new RegExp(`Egress Redirect to device ${q}\\)`));
    assert.equal((await listIngressFilters(x)).filter((f) => f.mirred.length).map((f) => f.mirred), [[{ eaction: 1, ifindex: qi }]]);
    assert.not.ok(await pings(pod, '10.213.0.2'), 'X now sends to Q, whose other end has no address');
    await redirectIngress({ dev: x, to: p });
    assert.ok(await pings(pod, '10.213.0.2'), 'and back to P');

    // clearIngress cuts both redirects in one write: no filter left, no ping; links without a
    // qdisc (U) or not there at all are no error; redirectIngress joins them again.
    await clearIngress([x, p, u, `nx${id}`]);
    assert.equal(await listIngressFilters(x), []);
    assert.equal(await listIngressFilters(p), []);
    assert.is(await ingressRedirectTarget(x), undefined);
    assert.not.ok(await pings(pod, '10.213.0.2'), 'nothing carries packets from X to P once cleared');
    assert.ok(await getLink(x) && await getLink(p), 'no link deleted');
    await redirectIngress({ dev: x, to: p });
    await redirectIngress({ dev: p, to: x });
    assert.ok(await pings(pod, '10.213.0.2'), 'joined again');

    // A device whose qdisc is an `ingress` one (not clsact) takes the filter on it.
    await run('tc', ['qdisc', 'add', 'dev', q, 'ingress']);
    await redirectIngress({ dev: q, to: x });
    assert.is(await ingressRedirectTarget(q), xi);
    assert.match((await run('tc', ['qdisc', 'show', 'dev', q])).stdout, /qdisc ingress ffff:/);

    // Errors name the operation, the devices and the namespace.
    const bad = `nx${id}`;
    for (const [o, re] of [
      [{ dev: bad, to: p }, new RegExp(`^redirect ingress of ${bad} to ${p}: get link ${bad} failed: ENODEV`)],
      [{ dev: 'eth0', to: bad, netns: pod }, new RegExp(`^redirect ingress of eth0 to ${bad} in ${pod}: get link ${bad} failed: ENODEV`)],
    ] as const) {
      try { await redirectIngress(o); assert.unreachable(); } catch (e) {
        assert.instance(e, NetlinkError);
        assert.match((e as Error).message, re);
      }
    }
    try { await ingressRedirectTarget(bad, pod); assert.unreachable(); } catch (e) {
      assert.match((e as Error).message, new RegExp(`^list ingress filters of ${bad} in ${pod}: get link ${bad} failed: ENODEV`));
    }
    try { await deleteLinkGroup(0, pod); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /link group 0: must be an integer from 1/); }

    // The group, deleted in the pod's namespace in one request: both grouped pairs go (their host
    // ends with them), the ungrouped pair stays.
    assert.is(await deleteLinkGroup(group, `/var/run/netns/${pod}`), 2);
    assert.equal((await listLinks(pod)).map((l) => l.ifname).sort(), ['eth9', 'lo']);
    assert.is(await getLink(x), undefined);
    assert.is(await getLink(x2), undefined);
    assert.ok(await getLink(u), 'the ungrouped pair is left alone');
    // P's filter stays, its target cleared by the kernel (index 0): no target until it is rewired.
    assert.equal((await listIngressFilters(p)).filter((f) => f.mirred.length).map((f) => f.mirred), [[{ eaction: 1, ifindex: 0 }]]);
    assert.is(await ingressRedirectTarget(p), undefined);
    assert.is(await deleteLinkGroup(group, pod), 0, 'an empty group is no error');
    assert.is(await deleteLinkGroup(group), 0, 'the host ends went with their peers');
  } finally {
    for (const l of [x, x2, u, p, q]) await deleteLinkIfExists(l);
    await deleteNetns(pod);
    await deleteNetns(peer);
  }
  for (const l of [x, x2, u, p, q]) assert.is(await getLink(l), undefined);
});

test('a socket that joined RTNLGRP_LINK learns the indexes of the links the kernel removes; deleteLinkGroup with `late` returns with the group gone', async () => {
  const id = rnd(), pod = `tsvpp-tc-pod-${id}`;
  const x = `ttx${id}`, x2 = `tty${id}`, u = `ttu${id}`;
  const group = randomInt(1000, 0x7fffffff);
  await addNetns(pod);
  const watch = await openNetlinkIn(`/var/run/netns/${pod}`);
  try {
    watch.join(rtnl.NL.RTNLGRP_LINK);
    await createVethPair({ hostName: x, podName: 'eth0', netns: pod, group, up: true });
    await createVethPair({ hostName: u, podName: 'eth9', netns: pod });
    const [e0, e9] = [await ifindex('eth0', pod), await ifindex('eth9', pod)];
    assert.equal(watch.takeRemovedLinks(), [], 'creating links removes none');
    await run('ip', ['-n', pod, 'link', 'del', 'eth9']);
    // The announcement is queued before `ip` gets its answer.
    assert.equal(watch.takeRemovedLinks(), [e9]);
    assert.equal(watch.takeRemovedLinks(), [], 'read once');

    await createVethPair({ hostName: x2, podName: 'eth1', netns: pod, group });
    const e1 = await ifindex('eth1', pod);
    const late: Error[] = [];
    assert.is(await deleteLinkGroup(group, pod, (e) => late.push(e)), 2);
    // Gone when it returns, both ends (the host ends in this namespace too).
    assert.equal((await listLinks(pod)).map((l) => l.ifname), ['lo']);
    assert.is(await getLink(x), undefined);
    assert.is(await getLink(x2), undefined);
    assert.equal(watch.takeRemovedLinks().sort((a, b) => a - b), [e0, e1].sort((a, b) => a - b));
    assert.is(await deleteLinkGroup(group, pod, (e) => late.push(e)), 0, 'an empty group: nothing to wait for');
    await new Promise((r) => setTimeout(r, 200)); // the kernel's RCU wait, finishing in the background
    assert.equal(late, [], 'nothing reported late');
  } finally {
    watch.close();
    for (const l of [x, x2, u]) await deleteLinkIfExists(l);
    await deleteNetns(pod);
  }
});

test('no file descriptor is left open (idle sockets closed here)', () => {
  closeIdleSockets();
  assert.ok(openFdCount() <= fdsAtStart - 1, `${openFdCount()} fds open, ${fdsAtStart} after the first use (one idle socket)`);
});

test.run();
