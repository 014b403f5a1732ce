// What a container runtime does that the other CNI tests on real VPP do not (containerd, issue 12):
// the pod netns pinned at a path longer than tap_create_v2's 64-byte host_namespace (containerd's
// netns under its state dir), the pod's annotations handed over in runtimeConfig (the pod is in no
// manifest), and both DELs of a pod (StopPodSandbox with the netns and prevResult,
// RemovePodSandbox without a netns) while the agent is down: tsvpp-cni records the DEL and
// succeeds, the runtime drops the netns, and the agent, back, carries the DEL out before anything
// else, leaving nothing in VPP or Linux. Where /dev/vhost-net exists the pod also gets a tap (VPP
// creates it in its own namespace, the agent moves it in by the path); where it does not, VPP
// cannot make taps at all (cni.test.ts checks that error).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { listPendingDels } from '../../src/cni/pending-del.js';
import { POD_ANNOTATIONS_CAPABILITY } from '../../src/cni/agent/pod-metadata.js';
import { CniNode } from './support/cni-node.js';
import { GATEWAY, L3_GATEWAY, MANIFESTS, ipOf } from './support/cni-pods.js';

const VHOST_NET = existsSync('/dev/vhost-net');
const POD_IFS = ['eth0', 'veth1', 'v3', 'v2', ...(VHOST_NET ? ['tap1'] : [])];
const ANNOTATIONS = { 'contivpp.io/custom-if': `veth1/veth, v3/veth/l3net, v2/veth/l2net${VHOST_NET ? ', tap1/tap' : ''}`, 'example.com/other': 'x' };

let node: CniNode;
let netns: { name: string; path: string };
let add: any;
let id: string;
/** The plugin configuration as deploy/'s conflist has it, and what containerd adds for the capability. */
const conf = () => ({
  agentStateDir: node.config.stateDir,
  capabilities: { [POD_ANNOTATIONS_CAPABILITY]: true },
  runtimeConfig: { [POD_ANNOTATIONS_CAPABILITY]: ANNOTATIONS },
});

test.before(async () => {
  node = await CniNode.start(MANIFESTS);
  id = `rt${node.rnd}`;
});
test.after(async () => { await node?.close(); });

test('a pod no pod source knows, annotations from the runtime, netns at a path over 64 bytes: wired, traffic flows, CHECK passes', async () => {
  netns = await node.newLongNetns();
  assert.ok(netns.path.length > 64, `${netns.path}: ${netns.path.length} bytes`);
  const r = await node.cni('ADD', 'pod-runtime', id, netns.path, conf());
  assert.is(r.code, 0, `${JSON.stringify(r.out)} ${r.stderr}\n${node.agentLog.slice(-10).join('\n')}`);
  add = r.out;
  assert.equal(add.interfaces.filter((i: any) => i.sandbox === netns.path).map((i: any) => i.name), POD_IFS);
  assert.equal((await node.inNetns(netns.name, ['ip', '-o', 'link', 'show'])).trim().split('\n').map((l) => l.split(':')[1]!.trim().split('@')[0]).sort(), ['lo', ...POD_IFS].sort());

  const rec = (await node.agent!.store.loadPod(id))!;
  assert.equal(rec.metadataSources, { annotations: 'runtime' });
  assert.ok(node.agentLog.some((l) => l.startsWith(`ADD ${id} default/pod-runtime (annotations from the runtime)`)), node.agentLog.join('\n'));
  const ifs = await node.vppInterfaces();
  for (const st of rec.interfaces) assert.ok(ifs.get(st.swIfIndex!)?.up, `${st.name}: VPP interface up`);

  const gw = await node.ping(netns.name, GATEWAY);
  assert.is(gw.received, 1, `pod -> gateway\n${gw.output}`);
  for (const n of POD_IFS.filter((x) => x !== 'v2' && x !== 'v3')) assert.ok(await node.vppPing(ipOf(add, n)), `VPP -> pod ${n}`);
  const l3 = await node.ping(netns.name, L3_GATEWAY, { dev: 'v3' });
  assert.is(l3.received, 1, `pod -> L3 custom network gateway\n${l3.output}`);
  const c = await node.cni('CHECK', 'pod-runtime', id, netns.path, { ...conf(), prevResult: add });
  assert.is(c.code, 0, JSON.stringify(c.out));
});

test('agent down at StopPodSandbox and RemovePodSandbox: both DELs succeed, recorded once; the netns goes; the agent back carries the DEL out first: nothing left', async () => {
  const addrs = add.ips.map((x: any) => x.address);
  await node.stopAgent();
  const stop = await node.cni('DEL', 'pod-runtime', id, netns.path, { ...conf(), prevResult: add });
  assert.is(stop.code, 0, `${JSON.stringify(stop.out)} ${stop.stderr}`);
  assert.match(stop.stderr, /tsvpp agent is not reachable.*DEL recorded in /);
  const remove = await node.cni('DEL', 'pod-runtime', id, '', conf());
  assert.is(remove.code, 0, `${JSON.stringify(remove.out)} ${remove.stderr}`);
  assert.equal((await listPendingDels(node.config.stateDir)).map((p) => [p.containerId, p.record?.request.netns]), [[id, netns.path]], 'the first DEL (with the netns) is kept');
  assert.is([...(await node.vppInterfaces()).values()].filter((i) => i.tag.startsWith(`tsvpp:${id}:`)).length, POD_IFS.length, 'VPP keeps them while the agent is away');
  await node.dropNetns(netns.name); // the runtime removes the sandbox and its netns

  await node.startAgent();
  assert.equal(await listPendingDels(node.config.stateDir), [], 'carried out at start');
  assert.ok(node.agentLog.some((l) => l.startsWith(`recorded DELs: carried out 1 (${id})`)), node.agentLog.slice(-10).join('\n'));
  const left = Object.fromEntries(Object.entries(await node.leftovers(addrs)).filter(([, v]) => v.length > 0));
  assert.equal(left, {}, 'nothing left in VPP or Linux');
});

test.run();
