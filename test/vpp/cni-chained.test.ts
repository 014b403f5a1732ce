// Chained mode on real VPP: Debian's bridge plugin is the primary CNI (the pod's eth0 on a Linux
// bridge), the agent runs with chainedCniConfDir and writes the chained conflist from the bridge's,
// and a libcni stand-in runs it. Real packets: the pod reaches the bridge's gateway over eth0, and
// over tsvpp's interfaces VPP's gateway, a pod tsvpp wired as the primary CNI (default network) and
// that pod's L3 CustomNetwork interface; VPP reaches the chained pod. CHECK (tsvpp's part) passes;
// DEL in reverse leaves nothing in VPP or Linux.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniNode } from './support/cni-node.js';
import { GATEWAY, MANIFESTS, ipOf } from './support/cni-pods.js';
import { LibcniStandin, type Conflist, type LibcniCall } from '../../src/testing/libcni-standin.js';
import { CHAINED_CONFLIST } from '../../src/cni/agent/chained-conflist.js';
import { deleteLinkIfExists } from '../../src/cni/linux/ip.js';

const CNI_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cni/cni-main.cjs');
const PLUGINS = '/usr/lib/cni';
/** The shared pods and networks (pod-b: v3 on l3net, v2 on l2net), and the chained pod. */
const CHAINED_MANIFESTS = `${MANIFESTS}---
apiVersion: v1
kind: Pod
metadata:
  name: chain-pod
  annotations:
    contivpp.io/custom-if: veth1/veth, v3/veth/l3net
spec:
  containers: [{name: c, image: x}]
`;

let node: CniNode;
let bridge = '';

test.before(async () => {
  for (const p of ['bridge', 'host-local']) if (!existsSync(join(PLUGINS, p))) throw new Error(`${PLUGINS}/${p} is missing: apt-get install containernetworking-plugins`);
  node = await CniNode.start(CHAINED_MANIFESTS);
  bridge = `tsvbr${node.rnd}`;
});
test.after(async () => {
  await node?.close();
  if (bridge) await deleteLinkIfExists(bridge).catch(() => undefined);
});

test('beside bridge: eth0 is the bridge\'s, veth1 and v3 are VPP\'s; pod <-> VPP gateway, a tsvpp pod, its L3 network; CHECK; DEL in reverse leaves nothing', async () => {
  const netd = join(node.dir, 'net.d'), bin = join(node.dir, 'bin');
  mkdirSync(netd); mkdirSync(bin);
  writeFileSync(join(bin, 'tsvpp-cni'), `#!/bin/sh\nexec "${process.execPath}" "${CNI_MAIN}" "$@"\n`);
  chmodSync(join(bin, 'tsvpp-cni'), 0o755);
  const subnet = `10.${200 + (parseInt(node.rnd.slice(0, 2), 16) % 50)}.${parseInt(node.rnd.slice(2, 4), 16)}.0/24`;
  const bridgeGw = subnet.replace(/0\/24$/, '1');
  const primary: Conflist = {
    cniVersion: '1.0.0', name: 'chained',
    plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: join(node.dir, 'bridge-ipam'), routes: [{ dst: '0.0.0.0/0' }] } }],
  };
  writeFileSync(join(netd, '10-bridge.conflist'), JSON.stringify(primary));
  await node.stopAgent();
  await node.startAgent({ ...node.config, chainedCniConfDir: netd });
  const conflist = JSON.parse(readFileSync(join(netd, CHAINED_CONFLIST), 'utf8')) as Conflist;
  assert.equal(conflist.plugins.map((p) => p.type), ['bridge', 'tsvpp-cni']);
  const cni = new LibcniStandin(conflist, [bin, PLUGINS]);

  const ns = await node.newNetns(), peerNs = await node.newNetns();
  const id = `chain${node.rnd}`, peerId = `peer${node.rnd}`;
  node.containerIds.add(id);
  const call: LibcniCall = { containerId: id, netns: `/var/run/netns/${ns}`, args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'chain-pod', K8S_POD_INFRA_CONTAINER_ID: id } };
  const { result: r, failed } = await cni.add(call);
  assert.not.ok(failed, failed && `${failed.type}: ${JSON.stringify(failed.out)} ${failed.stderr}\n${node.agentLog.slice(-10).join('\n')}`);
  const peer = await node.add('pod-b', peerId, peerNs);
  const addrs = [ipOf(r, 'veth1'), ipOf(r, 'v3'), ipOf(peer, 'eth0'), ipOf(peer, 'v3')];
  try {
    assert.ok(ipOf(r, 'eth0').startsWith(subnet.slice(0, -4)), 'eth0 is the bridge\'s');
    assert.match(ipOf(r, 'veth1'), /^10\.1\.9\.\d+$/);
    // The primary's network still works; tsvpp's carries the rest.
    const ping = async (target: string, dev?: string) => (await node.ping(ns, target, { count: 3, ...(dev ? { dev } : {}) })).received;
    assert.is(await ping(bridgeGw, 'eth0'), 3, 'pod -> bridge gateway over eth0');
    assert.is(await ping(GATEWAY), 3, 'pod -> VPP\'s gateway (route to the pod subnet over veth1)');
    assert.is(await ping(ipOf(peer, 'eth0')), 3, 'pod -> a tsvpp pod on the default network');
    assert.is(await ping(ipOf(peer, 'v3')), 3, 'pod -> the tsvpp pod on l3net');
    assert.ok(await node.vppPing(ipOf(r, 'veth1')), 'VPP -> the chained pod');
    const checks = await cni.check(call, r!);
    assert.is(checks[1]!.code, 0, `tsvpp-cni CHECK: ${JSON.stringify(checks[1]!.out)}`);
  } finally {
    const dels = await cni.del(call, r!);
    assert.equal(dels.map((d) => d.code), [0, 0], dels.map((d) => d.stderr).join(' | '));
    assert.is((await node.cni('DEL', 'pod-b', peerId, peerNs)).code, 0);
  }
  assert.equal((await node.inNetns(ns, ['ip', '-o', 'link', 'show'])).trim().split('\n').length, 1, 'only lo in the pod');
  const left = Object.fromEntries(Object.entries(await node.leftovers(addrs)).filter(([, v]) => v.length));
  assert.equal(left, {}, 'nothing left in VPP or Linux');
});

test.run();
