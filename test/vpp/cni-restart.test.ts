// Pods in place while the agent restarts, then while VPP restarts: after an agent restart CHECK
// passes and traffic flows as before; after a VPP restart the agent's client reconnects and the
// agent re-wires every pod interface (af_packet on the surviving veths, the memif master on the
// pod's socket, routes, static neighbours, service NAT on the default network's interfaces, the networks' loopbacks and bridge
// domain), after which CHECK passes, the first packet between pods arrives, and the memif pod's
// slave is connected again. DEL then leaves nothing.
import { test } from 'uvu';
import { POOL_TAG_PREFIX } from '../../src/cni/agent/vswitch.js';
import * as assert from 'uvu/assert';
import { sleep } from '../../perf/soak/common.js';
import { CniNode } from './support/cni-node.js';
import { CniError } from '../../src/cni/spec.cjs';
import { MANIFESTS, TwoPods, ipOf } from './support/cni-pods.js';

let node: CniNode;
let pods: TwoPods | undefined;

test.before(async () => {
  node = await CniNode.start(MANIFESTS);
  pods = await TwoPods.add(node, 'r');
  await pods.addressL2();
});
test.after(async () => {
  pods?.slave?.close();
  await node?.close();
});

test('agent restart with pods in place: CHECK passes, traffic flows, VPP untouched', async () => {
  await pods!.checkTraffic('before the agent restart');
  const before = await node.vppInterfaces();
  await node.stopAgent();
  await node.startAgent();
  await pods!.check();
  const after = await node.vppInterfaces();
  // The veth pool's members (tagged for the pool, or untagged while being made) are the agent's
  // own: removed at shutdown and made again after the start. The pods' interfaces stay.
  const notPool = (m: Map<number, { tag: string; name: string }>) => [...m].filter(([, i]) => !i.tag.startsWith(POOL_TAG_PREFIX) && !(i.tag === '' && /^host-tsvp/.test(i.name))).map(([k]) => k).sort();
  assert.equal(notPool(after), notPool(before), 'the agent restart changed nothing of the pods in VPP');
  await pods!.checkTraffic('after the agent restart');
});

test('VPP restart with pods in place: STATUS says so while VPP is away (51); the agent re-wires them; CHECK, the first packet, memif and service NAT are back', async () => {
  const { a } = pods!;
  let whileDown: unknown;
  await node.vpp.restart(async () => { whileDown = await node.agent!.pipeline.status().then(() => 'ready', (e: unknown) => e); });
  assert.instance(whileDown, CniError);
  assert.is((whileDown as CniError).code, 51, String(whileDown));
  assert.match((whileDown as CniError).message, /tsvpp is not available: VPP does not answer its API/);
  await node.api.waitConnected(30_000);
  // The agent re-wires in the background once its client is back: wait (bounded) for CHECK.
  let last = '';
  for (const end = Date.now() + 60_000; ;) {
    const c = await node.cni('CHECK', a.name, a.id, a.ns, { prevResult: a.add });
    if (c.code === 0) break;
    last = JSON.stringify(c.out);
    if (Date.now() > end) throw new Error(`pod-a not re-wired 60 s after the VPP restart: ${last}\nagent log:\n${node.agentLog.slice(-20).join('\n')}`);
    await sleep(500);
  }
  await pods!.check();
  const neigh = await node.vppNeighbors();
  for (const n of ['eth0', 'veth1', 'v3']) assert.ok(neigh.find((x) => x.ip === ipOf(a.add, n))?.static, `static neighbour for pod-a ${n} restored`);
  const rec = (await node.agent!.store.loadPod(a.id))!;
  const ifs = await node.vppInterfaces();
  for (const n of ['eth0', 'veth1']) {
    const sw = rec.interfaces.find((i) => i.name === n)!.swIfIndex!;
    assert.match(await node.vpp.cli(`show interface features ${ifs.get(sw)!.name}`), /cnat-input-ip4/, `service NAT on pod-a ${n} restored`);
  }
  await pods!.checkTraffic('after the VPP restart');
  await pods!.checkStub();
  await node.agent!.pipeline.status(); // ready again
});

test('DEL after the restarts leaves nothing in VPP or Linux', async () => {
  const addrs = pods!.addresses();
  await pods!.del();
  pods = undefined;
  const left = Object.fromEntries(Object.entries(await node.leftovers(addrs)).filter(([, v]) => v.length > 0));
  assert.equal(left, {});
});

test.run();
