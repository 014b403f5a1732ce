// The CNI on real VPP: the agent and tsvpp-cni wire two pods with every interface kind and network
// (eth0 as veth + af_packet on a node without /dev/vhost-net), real packets go pod -> gateway,
// pod -> pod (exactly one packet, no loss to neighbour resolution), VPP -> a custom interface, over
// the L3 and L2 custom networks and through the memif of a contivpp.io/memif pod; the stub has no
// IP; the service endpoint's reply routing is in the pod and service NAT on the default network's
// VPP interfaces; CHECK passes; DEL leaves nothing in VPP or
// Linux. tap needs /dev/vhost-net: where it is missing, ADD and the agent say so.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniNode } from './support/cni-node.js';
import { poolLinkPrefixes } from '../../src/cni/agent/veth-pool.js';
import { poolTag } from '../../src/cni/agent/vswitch.js';
import type { PodRecord } from '../../src/cni/agent/state.js';
import { GATEWAY, MANIFESTS, TwoPods, ipOf } from './support/cni-pods.js';
import { LibcniStandin } from '../../src/testing/libcni-standin.js';
import { tsvppCniShim } from '../../src/cni/invocation.js';

const VHOST_NET = existsSync('/dev/vhost-net');
const CNI_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cni/cni-main.cjs');
let node: CniNode;

// Members beyond the pool's size are trimmed 1 s after the last request (60 by default): a test below waits for it.
test.before(async () => { node = await CniNode.start(MANIFESTS, { vethPoolIdleSeconds: 1 }); });
test.after(async () => { await node?.close(); });

/** The host interface each pod interface's af_packet is on (a lent pool member's host end, or the pod veth's). */
const carriers = (rec: PodRecord) => Object.fromEntries(rec.resources.flatMap((r) => (r.kind === 'afpacket' ? [[r.ifName, r.hostIfName]] : [])));
/** Pool members pod c had. */
const lent: string[] = [];

const empty = (left: Record<string, string[]>) => Object.fromEntries(Object.entries(left).filter(([, v]) => v.length > 0));

test('eth0Kind auto: decided at agent start from /dev/vhost-net, and logged', () => {
  const line = node.agentLog.find((l) => /eth0/.test(l) && /auto/.test(l));
  assert.ok(line, `agent log: ${node.agentLog.join('\n')}`);
  assert.match(line!, VHOST_NET ? /tap/ : /veth-afpacket.*\/dev\/vhost-net/);
});

test('two pods, every kind and network: traffic, stub, service endpoint, static neighbours, CHECK, DEL leaves nothing', async () => {
  // eth0 is a veth here: the agent's veth pool fills from the start.
  if (!VHOST_NET) await node.waitFor('the veth pool', async () => (node.agent!.pool!.members().length === node.config.vethPoolSize ? true : undefined));
  const pods = await TwoPods.add(node, 'c');
  try {
    const { a, b } = pods;
    if (!VHOST_NET) {
      // Pod a's eth0 and veth1 are carried by pool members (the traffic checks below go through
      // their tc redirects); v3 and v2, on CustomNetworks, are made at ADD.
      const ends = carriers((await node.agent!.store.loadPod(a.id))!);
      const { host } = poolLinkPrefixes(node.config.stateDir);
      assert.ok(ends.eth0!.startsWith(host) && ends.veth1!.startsWith(host), JSON.stringify(ends));
      assert.ok(!ends.v3!.startsWith(host) && !ends.v2!.startsWith(host), JSON.stringify(ends));
      const b = carriers((await node.agent!.store.loadPod(pods.b.id))!);
      lent.push(...[...Object.values(ends), ...Object.values(b)].filter((h) => h.startsWith(host)));
    }
    assert.equal(a.add.interfaces.filter((i: any) => i.sandbox).map((i: any) => i.name), ['eth0', 'veth1', 'v3', 'v2', 'vs']);
    assert.ok(a.add.interfaces.some((i: any) => i.name === 'm1' && !i.sandbox), 'the memif is in the result, outside the sandbox');

    // VPP: one interface per pod interface, tagged, up; af_packet ones named host-<veth host end>.
    const rec = (await node.agent!.store.loadPod(a.id))!;
    const ifs = await node.vppInterfaces();
    for (const st of rec.interfaces) {
      const i = ifs.get(st.swIfIndex!);
      assert.ok(i?.up, `${st.name}: VPP interface ${st.swIfIndex} up`);
      assert.is(i!.tag, `tsvpp:${a.id}:${st.name}`);
      if (st.type === 'veth') assert.match(i!.name, /^host-tsvp?[0-9a-f]{11}$/); // a pod veth's, or a veth pool member's
      if (st.type === 'memif') assert.match(i!.name, /^memif\d+\/1$/);
    }

    // Static neighbours for every pod address on a Linux interface, before any traffic.
    const neigh = await node.vppNeighbors();
    for (const [p, names] of [[a, ['eth0', 'veth1', 'v3']], [b, ['eth0', 'v3']]] as const) {
      for (const n of names) {
        const e = neigh.find((x) => x.ip === ipOf(p.add, n));
        assert.ok(e?.static, `${p.name} ${n}: static neighbour in VPP (${JSON.stringify(neigh)})`);
      }
    }

    await pods.addressL2();
    await pods.checkTraffic('after ADD');
    await pods.checkStub();

    // service-endpoint-if veth1: what leaves from veth1's address goes back out of veth1 (the
    // Service traffic itself: services.test.ts); service NAT on the default network's interfaces.
    assert.match(await node.inNetns(a.ns, ['ip', 'rule', 'show']), new RegExp(`from ${ipOf(a.add, 'veth1')} lookup 100`));
    assert.match(await node.inNetns(a.ns, ['ip', 'route', 'show', 'table', '100']), /default via 10\.1\.9\.1 dev veth1/);
    for (const st of rec.interfaces) {
      const f = await node.vpp.cli(`show interface features ${ifs.get(st.swIfIndex!)!.name}`);
      assert.is(/cnat-input-ip4/.test(f), st.network === 'default', `${st.name} (${st.network}): service NAT only on the default network`);
    }

    await pods.check();
    const addrs = pods.addresses();
    await pods.del();
    assert.equal(empty(await node.leftovers(addrs)), {}, 'nothing left in VPP or Linux');
    // DEL handed the members back: their af_packets kept, re-tagged for the pool, with nothing of
    // the pod left in VPP (service NAT's features are checked here: the agent cannot read them).
    const after = await node.vppInterfaces();
    for (const h of lent) {
      const i = [...after.values()].find((x) => x.name === `host-${h}`);
      assert.is(i?.tag, poolTag(h), `${h} is back in the pool`);
      assert.not.match(await node.vpp.cli(`show interface features host-${h}`), /cnat/, `${h}: service NAT off`);
      assert.is((await node.vpp.cli(`show interface addr host-${h}`)).includes('unnumbered'), false, `${h}: not unnumbered`);
    }
  } finally {
    pods.slave?.close();
  }
});

test('members handed back carry the next pods: traffic through them again, DEL leaves nothing', async () => {
  if (VHOST_NET) return; // eth0 is a tap there: no pool unless a pod asks for a veth
  // Once no request comes the pool is trimmed back to its size, the oldest members first: those
  // left are the ones pods c had, which pods d take (as many as the pool holds).
  const pool = node.agent!.pool!;
  await node.waitFor('the pool trimmed', async () => (pool.members().length === node.config.vethPoolSize ? true : undefined));
  assert.ok(pool.members().every((m) => lent.includes(m.hostName)), JSON.stringify({ lent, pool: pool.members() }));
  const pods = await TwoPods.add(node, 'd');
  try {
    const { host } = poolLinkPrefixes(node.config.stateDir);
    const taken = [
      ...Object.values(carriers((await node.agent!.store.loadPod(pods.a.id))!)),
      ...Object.values(carriers((await node.agent!.store.loadPod(pods.b.id))!)),
    ].filter((h) => h.startsWith(host));
    assert.ok(taken.length > 0 && taken.every((h) => lent.includes(h)), `members pods c had carry pods d (${JSON.stringify({ lent, taken })})`);
    await pods.addressL2();
    await pods.checkTraffic('through handed-back members');
    const addrs = pods.addresses();
    await pods.del();
    assert.equal(empty(await node.leftovers(addrs)), {}, 'nothing left in VPP or Linux');
  } finally {
    pods.slave?.close();
  }
});

test('CNI 1.1: STATUS is ready while VPP answers; GC takes a pod the runtime no longer lists (every kind and network, its memif) out of VPP and Linux as its DEL would, the listed pod keeps its traffic', async () => {
  // As a runtime on libcni 1.2+ runs deploy/'s conflist (cniVersions up to 1.1.0), through the shim.
  const bin = join(node.dir, 'cni-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'tsvpp-cni'), tsvppCniShim({ cniSocket: node.config.cniSocket, node: process.execPath, cniMain: CNI_MAIN }), { mode: 0o755 });
  const cni = new LibcniStandin({ cniVersion: '1.0.0', cniVersions: ['1.0.0', '1.1.0'], name: 'tsvpp', plugins: [{ type: 'tsvpp-cni', agentSocket: node.config.cniSocket }] }, [bin]);
  const st = await cni.status();
  assert.is(st, undefined, st && JSON.stringify(st.out));
  const pods = await TwoPods.add(node, 'g');
  try {
    const runs = await cni.gc([{ containerID: pods.b.id, ifname: 'eth0' }]);
    assert.equal(runs.map((r) => [r.code, r.out]), [[0, undefined]], runs.map((r) => r.stderr).join(' | '));
    assert.equal((await node.agent!.store.listPods()).map((r) => r.containerId), [pods.b.id]);
    const tags = [...(await node.vppInterfaces()).values()].map((i) => i.tag);
    assert.not.ok(tags.some((t) => t.includes(pods.a.id)), `pod-a's interfaces gone from VPP: ${tags.join(', ')}`);
    assert.equal((await node.inNetns(pods.a.ns, ['ip', '-o', 'link', 'show'])).trim().split('\n').length, 1, 'only lo in pod-a');
    const gw = await node.ping(pods.b.ns, GATEWAY);
    assert.is(gw.received, 1, `pod-b -> gateway after the GC\n${gw.output}`);
    const addrs = pods.addresses();
    await pods.del();
    assert.equal(empty(await node.leftovers(addrs)), {}, 'nothing left in VPP or Linux');
  } finally {
    pods.slave?.close();
  }
});

test('tap: works where /dev/vhost-net exists; elsewhere ADD fails naming it and leaves nothing', async () => {
  const ns = await node.newNetns();
  const r = await node.cni('ADD', 'pod-tap', `tap${node.rnd}`, ns);
  if (VHOST_NET) {
    assert.is(r.code, 0, JSON.stringify(r.out));
    assert.ok(await node.vppPing(ipOf(r.out, 'tap1')), 'VPP -> tap1');
    assert.is((await node.cni('DEL', 'pod-tap', `tap${node.rnd}`, ns)).code, 0);
  } else {
    assert.is(r.code, 1);
    assert.is(r.out.code, 103, JSON.stringify(r.out));
    assert.match(r.out.details, /^tap1 \(tap, network default\): create tap: tap_create_v2: VPP returned -11 .*: VPP's tap v2 needs \/dev\/vhost-net, which this node does not have/);
  }
  const left = empty(await node.leftovers());
  assert.equal(left, {});
  assert.equal((await node.inNetns(ns, ['ip', '-o', 'link', 'show'])).trim().split('\n').length, 1, 'only lo in the pod');
  await node.dropNetns(ns);
});

test('eth0Kind tap set explicitly: the agent starts where /dev/vhost-net exists, elsewhere stops at start naming what is missing', async () => {
  await node.stopAgent();
  try {
    const started = await node.startAgent({ ...node.config, eth0Kind: 'tap' }).then(() => null, (e: Error) => e);
    if (VHOST_NET) assert.is(started, null);
    else {
      assert.instance(started, Error);
      assert.match(started!.message, /\/dev\/vhost-net/);
      assert.match(started!.message, /eth0Kind/);
      assert.match(started!.message, /veth-afpacket|auto/);
    }
  } finally {
    await node.stopAgent();
    await node.startAgent();
  }
});

test.run();
