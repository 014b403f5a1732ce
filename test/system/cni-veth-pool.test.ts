// The veth pool (src/cni/agent/veth-pool.ts) end to end on this host (root): the real tsvpp-cni
// executable, the agent (in this process, and as `tsvpp agent` in a child for SIGKILL and
// restart), the VPP emulator (test double), real veths, netns and host-local. What is checked:
// members are complete (both ends up, the af_packet tagged for the pool, admin up, MTU lowered);
// ADD lends them (the pod's own veth made in its netns, its host end and the member's peer
// redirected to each other, the af_packet recorded and re-tagged), makes a member for the pod when
// the pool is empty, and a veth of the pod's own for a CustomNetwork; the refill after ADD; DEL
// hands the members back and the pool is trimmed to its size once requests stop; broken members
// (peer gone, af_packet gone) are deleted, never handed to a pod; a restart after SIGKILL keeps
// the complete members and deletes the rest and what the pool does not know; shutdown and
// `tsvpp agent teardown` leave nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CniRig } from '../../perf/soak/cni-rig.js';
import { TSVPP_MAIN } from '../../perf/soak/common.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { POOL_FILE, poolLinkPrefixes, type PoolMember } from '../../src/cni/agent/veth-pool.js';
import { poolTag, POOL_TAG_PREFIX } from '../../src/cni/agent/vswitch.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { addNetns, createVeth, deleteNetns, ingressRedirectTarget, listLinks, moveLink, setLinkUp } from '../../src/cni/linux/ip.js';
import type { PodRecord } from '../../src/cni/agent/state.js';

const run = promisify(execFile);

const PODS = `apiVersion: v1
kind: Pod
metadata: {name: pool-eth0}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: pool-two
  annotations: {contivpp.io/custom-if: veth1/veth}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: pool-four
  annotations: {contivpp.io/custom-if: "veth1/veth, veth2/veth, l2v/veth/l2net"}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata: {name: l2net}
spec: {type: L2}
`;

async function waitFor<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const v = await f();
    if (v !== undefined) return v;
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

const poolIfs = (rig: CniRig) => [...rig.emu.state.interfaces.values()].filter((i) => i.tag.startsWith(POOL_TAG_PREFIX));
const listed = (rig: CniRig): Array<Partial<PoolMember> & { hostName: string; peerName: string }> => {
  const f = join(rig.config.stateDir, POOL_FILE);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { members: PoolMember[] }).members : [];
};
const poolLinks = async (rig: CniRig) => {
  const { host, peer } = poolLinkPrefixes(rig.config.stateDir);
  return (await listLinks()).filter((l) => l.ifname.startsWith(host) || l.ifname.startsWith(peer));
};
const record = (rig: CniRig, id: string) => JSON.parse(readFileSync(join(rig.config.stateDir, 'pods', `${id}.json`), 'utf8')) as PodRecord;
const hostEnds = (rec: PodRecord) => Object.fromEntries(rec.resources.flatMap((r) => (r.kind === 'veth' ? [[r.ifName, r.hostName]] : [])));
/** The host interface each pod interface's af_packet is on (a lent member's host end, or the pod veth's). */
const carriers = (rec: PodRecord) => Object.fromEntries(rec.resources.flatMap((r) => (r.kind === 'afpacket' ? [[r.ifName, r.hostIfName]] : [])));
const afpackets = (rec: PodRecord) => Object.fromEntries(rec.resources.flatMap((r) => (r.kind === 'afpacket' ? [[r.ifName, r.swIfIndex]] : [])));

async function noLeftovers(rig: CniRig): Promise<void> {
  for (const [what, items] of Object.entries(await rig.leftovers({ etcd: false }))) {
    if (what !== 'netns') assert.equal(items, [], what);
  }
}

test('in-process agent: members made at start, taken by ADD, refilled after; an empty pool makes members for the pod, CustomNetworks veths; broken members dropped; shutdown removes the pool', async () => {
  // Members beyond the pool's size are kept 1 s after the last request (60 by default).
  const rig = await CniRig.start({ config: { eth0Kind: 'veth-afpacket', vethPoolSize: 2, vethPoolIdleSeconds: 1 } });
  const scratch = `tsvpp-pool-${rig.rnd}`;
  try {
    writeFileSync(join(rig.config.podManifests!, 'pool.yaml'), PODS);
    const pool = rig.agent.pool!;
    assert.ok(pool, 'the agent has a pool');
    // eth0 is a veth: filled from the start, one member at a time.
    await waitFor('the pool filled at start', () => (pool.members().length === 2 ? true : undefined));
    const first = [...pool.members()];
    const { host, peer } = poolLinkPrefixes(rig.config.stateDir);
    const links = new Map((await listLinks()).map((l) => [l.ifname, l]));
    for (const m of first) {
      assert.ok(m.hostName.startsWith(host) && m.hostName.length === 15, m.hostName);
      assert.ok(m.peerName.startsWith(peer) && m.peerName.length === 15, m.peerName);
      assert.ok(links.get(m.hostName)?.flags.includes('UP'), `${m.hostName} is up`);
      assert.ok(links.get(m.peerName)?.flags.includes('UP'), `${m.peerName} is up`);
      const i = rig.emu.state.interfaces.get(m.swIfIndex)!;
      assert.is(i.kind, 'af_packet');
      assert.is(i.name, `host-${m.hostName}`);
      assert.is(i.tag, poolTag(m.hostName));
      assert.is(i.adminUp, true, 'up already, so that the ADD\'s admin-up changes nothing (VPP would wait for rtnl)');
      assert.is(i.mtu, 1500, 'VPP\'s MTU lowered to the veth\'s');
    }
    assert.equal(listed(rig).map((m) => m.hostName).sort(), first.map((m) => m.hostName).sort(), 'the pool file lists them');

    // ADD of eth0 + veth1: both carried by pool members, re-tagged; the pod's veths made in its netns.
    const ns1 = await rig.newNetns();
    const add = await rig.cni('ADD', `pool1${rig.rnd}`, ns1, {}, 'pool-two');
    assert.is(add.code, 0, JSON.stringify(add.out) + add.stderr);
    assert.equal((await listLinks(ns1)).map((l) => l.ifname).sort(), ['eth0', 'lo', 'veth1']);
    const rec = record(rig, `pool1${rig.rnd}`);
    assert.equal(Object.values(carriers(rec)).sort(), first.map((m) => m.hostName).sort(), 'the pod\'s af_packets are the members\'');
    assert.equal(Object.values(afpackets(rec)).sort(), first.map((m) => m.swIfIndex).sort(), 'at their sw_if_indexes');
    assert.equal(hostEnds(rec), { eth0: vethHostName(`pool1${rig.rnd}`, 'eth0'), veth1: vethHostName(`pool1${rig.rnd}`, 'veth1') }, 'the pod\'s own veths');
    const index = new Map((await listLinks()).map((l) => [l.ifname, l.ifindex]));
    for (const [ifName, member] of Object.entries(carriers(rec))) {
      const m = first.find((x) => x.hostName === member)!, end = hostEnds(rec)[ifName]!;
      assert.is(await ingressRedirectTarget(end), index.get(m.peerName), `${end} redirects to ${m.peerName}`);
      assert.is(await ingressRedirectTarget(m.peerName), index.get(end), `and back`);
    }
    for (const [ifName, sw] of Object.entries(afpackets(rec))) {
      assert.is(rig.emu.state.interfaces.get(sw)!.tag, `tsvpp:pool1${rig.rnd}:${ifName}`);
      assert.is(rig.emu.state.interfaces.get(sw)!.adminUp, true);
    }
    assert.ok((await listLinks(ns1)).filter((l) => l.ifname !== 'lo').every((l) => l.flags.includes('UP')));
    assert.equal(add.out.interfaces.filter((i: { sandbox?: string }) => !i.sandbox).map((i: { name: string }) => i.name).sort(), Object.values(hostEnds(rec)).sort(), 'the CNI result names the host ends');
    assert.is(rig.log.filter((l) => /is carried by pool member/.test(l)).length, 2);
    const check = await rig.cni('CHECK', `pool1${rig.rnd}`, ns1, { prevResult: add.out }, 'pool-two');
    assert.is(check.code, 0, JSON.stringify(check.out));
    // Refilled after the ADD answered, with new members.
    await waitFor('the refill', () => (pool.members().length === 2 ? true : undefined));
    assert.ok(pool.members().every((m) => !first.some((f) => f.hostName === m.hostName)), JSON.stringify({ first, now: pool.members() }));

    // Four veths, a pool of two: eth0 and veth1 are taken, a member is made for veth2 (the pool
    // is empty), l2v on a CustomNetwork is always a veth of its own (its pod end sends no GSO).
    const taken = pool.members().map((m) => m.hostName).sort();
    const ns2 = await rig.newNetns();
    const id2 = `pool2${rig.rnd}`;
    const add2 = await rig.cni('ADD', id2, ns2, {}, 'pool-four');
    assert.is(add2.code, 0, JSON.stringify(add2.out) + add2.stderr);
    const ends = carriers(record(rig, id2));
    assert.equal([ends.eth0, ends.veth1].sort(), taken);
    assert.ok(ends.veth2!.startsWith(host) && !taken.includes(ends.veth2!) && !first.some((f) => f.hostName === ends.veth2), `a member made for veth2 (${ends.veth2})`);
    assert.is(ends.l2v, vethHostName(id2, 'l2v'));
    assert.is((await rig.cni('CHECK', id2, ns2, { prevResult: add2.out }, 'pool-four')).code, 0);

    // Broken members: one whose peer left the agent's namespace, one whose af_packet VPP lost.
    await waitFor('the refill', () => (pool.members().length === 2 ? true : undefined));
    const [a, b] = pool.members();
    await addNetns(scratch);
    await moveLink({ name: a!.peerName, netns: scratch, newName: 'gone' });
    await new VppVswitch(rig.client).deleteAfPacket({ hostIfName: b!.hostName, swIfIndex: b!.swIfIndex });
    const ns3 = await rig.newNetns();
    const id3 = `pool3${rig.rnd}`;
    const add3 = await rig.cni('ADD', id3, ns3, {}, 'pool-eth0');
    assert.is(add3.code, 0, JSON.stringify(add3.out) + add3.stderr);
    const eth03 = carriers(record(rig, id3)).eth0!;
    assert.ok(eth03.startsWith(host) && eth03 !== a!.hostName && eth03 !== b!.hostName, `eth0 on a member made for it, not a broken one (${eth03})`);
    assert.is(rig.log.filter((l) => /veth pool: .* is broken/.test(l)).length, 2, rig.log.join('\n'));
    const names = new Set((await listLinks()).map((l) => l.ifname));
    assert.not.ok(names.has(a!.hostName) || names.has(b!.hostName) || names.has(b!.peerName), 'the broken members\' veths are deleted');
    assert.equal((await listLinks(scratch)).map((l) => l.ifname), ['lo'], 'with the moved peer');
    assert.not.ok([...rig.emu.state.interfaces.values()].some((i) => i.name === `host-${a!.hostName}`), 'its af_packet too');

    // DEL hands lent members back (their af_packets kept, re-tagged for the pool), those made for
    // pods too; the pool is trimmed back to its size once no request came for 1 s.
    const lent = [...Object.values(carriers(record(rig, `pool1${rig.rnd}`))), ends.eth0!, ends.veth1!, ends.veth2!, eth03];
    for (const [id, ns, pod] of [[`pool1${rig.rnd}`, ns1, 'pool-two'], [id2, ns2, 'pool-four'], [id3, ns3, 'pool-eth0']] as const) {
      const del = await rig.cni('DEL', id, ns, {}, pod);
      assert.is(del.code, 0, JSON.stringify(del.out));
      assert.equal((await listLinks(ns)).map((l) => l.ifname), ['lo']);
    }
    for (const h of lent) assert.ok(rig.log.some((l) => l.includes(`veth pool: ${h} is back`)), `${h} is back in the pool`);
    await noLeftovers(rig);
    await waitFor('the trim', () => (pool.members().length === 2 && poolIfs(rig).length === 2 ? true : undefined));
    assert.is((await poolLinks(rig)).length, 4, 'the members beyond the pool\'s size are deleted, their veths too');

    // Shutdown removes the pool: links, af_packets, the file.
    await rig.agent.close();
    assert.equal(await poolLinks(rig), []);
    assert.equal(poolIfs(rig), []);
    assert.not.ok(existsSync(join(rig.config.stateDir, POOL_FILE)));
    await noLeftovers(rig);
  } finally {
    await deleteNetns(scratch).catch(() => undefined);
    await rig.close();
  }
});

test('agent process: after SIGKILL the restart keeps complete members and deletes broken and unknown ones; teardown removes the pool', async () => {
  const rig = await CniRig.start({ agentProcess: true, config: { vethPoolSize: 2, vethPoolIdleSeconds: 1 } });
  const client = await VppClient.connect({ socket: rig.config.vppApiSocket, registry: rig.registry, name: 'pool-test', reconnect: false });
  const podNs = `poolk-pod-${rig.rnd}`;
  try {
    writeFileSync(join(rig.config.podManifests!, 'pool.yaml'), PODS);
    await waitFor('the pool filled at start', () => (listed(rig).filter((m) => m.swIfIndex !== undefined).length === 2 ? true : undefined));
    const [a, b] = listed(rig) as PoolMember[];
    await rig.killAgentProcess();

    // While the agent is down: b's af_packet goes, and a pool veth and af_packet nobody lists appear,
    // the peer already in a pod's netns: an ADD killed after it took the member and began the move,
    // before the pod's record was saved.
    const vs = new VppVswitch(client);
    await vs.deleteAfPacket({ hostIfName: b!.hostName, swIfIndex: b!.swIfIndex });
    await setLinkUp(a!.peerName, false); // as agents before the redirects left a member's peer
    const { host, peer } = poolLinkPrefixes(rig.config.stateDir);
    const stray = { hostName: `${host}0000000`, peerName: `${peer}0000000` };
    await createVeth({ name: stray.hostName, peer: stray.peerName, up: true });
    await vs.createAfPacket({ hostIfName: stray.hostName, tag: poolTag(stray.hostName) });
    await addNetns(podNs);
    await moveLink({ name: stray.peerName, netns: podNs, newName: 'eth0' });

    await rig.startAgentProcess();
    const out = rig.agentProc!.output();
    assert.match(out, /veth pool: deleted /);
    const kept = listed(rig).find((m) => m.hostName === a!.hostName);
    assert.ok(kept, `${a!.hostName} kept:\n${out}`);
    assert.is(kept!.swIfIndex, a!.swIfIndex);
    assert.is(rig.emu.state.interfaces.get(a!.swIfIndex)!.tag, poolTag(a!.hostName));
    assert.ok((await listLinks()).find((l) => l.ifname === a!.peerName)?.flags.includes('UP'), 'the kept member\'s peer is up again');
    const names = new Set((await listLinks()).map((l) => l.ifname));
    for (const n of [b!.hostName, b!.peerName, stray.hostName, stray.peerName]) assert.not.ok(names.has(n), `${n} deleted`);
    assert.equal((await listLinks(podNs)).map((l) => l.ifname), ['lo'], 'the stray\'s peer in the pod\'s netns went with it');
    // (VPP reuses the index for the refill: looked for by name.)
    assert.not.ok([...rig.emu.state.interfaces.values()].some((i) => i.name === `host-${stray.hostName}` || i.name === `host-${b!.hostName}`), 'the unknown and the broken af_packet are deleted');
    await waitFor('the refill', () => (listed(rig).filter((m) => m.swIfIndex !== undefined).length === 2 ? true : undefined));

    // The adopted member serves a pod.
    const ns = await rig.newNetns();
    const id = `poolk${rig.rnd}`;
    const add = await rig.cni('ADD', id, ns, {}, 'pool-two');
    assert.is(add.code, 0, JSON.stringify(add.out) + add.stderr);
    assert.ok(Object.values(carriers(record(rig, id))).includes(a!.hostName));
    assert.is((await rig.cni('CHECK', id, ns, { prevResult: add.out }, 'pool-two')).code, 0);
    assert.is((await rig.cni('DEL', id, ns, {}, 'pool-two')).code, 0);
    await noLeftovers(rig);

    // Killed again with a full pool (the pod's two members back, then trimmed 1 s after the DEL):
    // `tsvpp agent teardown` removes it.
    await waitFor('the trim', () => (listed(rig).filter((m) => m.swIfIndex !== undefined).length === 2 ? true : undefined));
    await rig.killAgentProcess();
    assert.is((await poolLinks(rig)).length, 4);
    const td = await run(process.execPath, [TSVPP_MAIN, 'agent', 'teardown', '--state-dir', rig.config.stateDir, '--vpp-api-socket', rig.config.vppApiSocket,
      '--vpp-api-dir', shippedApiDir(), '--node-name', rig.config.nodeName]);
    assert.is((td.stdout.match(/removed veth pool member /g) ?? []).length, 2, td.stdout + td.stderr);
    assert.equal(await poolLinks(rig), []);
    assert.equal(poolIfs(rig), []);
    assert.not.ok(existsSync(join(rig.config.stateDir, POOL_FILE)));
    await noLeftovers(rig);
  } finally {
    await deleteNetns(podNs).catch(() => undefined);
    await client.close().catch(() => undefined);
    await rig.close();
  }
});

test.run();
