// End to end on this host (root): the real tsvpp-cni executable → the agent over its unix socket →
// VppVswitch over the vppapi client → the VPP emulator (test double) with real kernel taps (which
// the agent moves into the pod netns); real veth pairs, real host-local, real network namespaces.
// Everything created is removed in finally blocks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { startVppEmulator, type EmulatorHooks, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { addNetns, deleteLinkIfExists, deleteNetns, listAddresses, listLinks, listRoutes, listRules } from '../../src/cni/linux/ip.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = resolve(here, '../../src/cni/cni-main.cjs');
const API_DIR = shippedApiDir();

const rnd = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-cni-e2e-'));
const manifests = join(dir, 'manifests');
const podNs = `tsvpp-test-${rnd}`;
const podNsPath = `/var/run/netns/${podNs}`;
let emu: VppEmulator;
let agent: Agent | undefined;
let registry: ApiRegistry;
const hooks: EmulatorHooks = {};

const config: AgentConfig = {
  ...DEFAULT_CONFIG,
  stateDir: join(dir, 'state'), memifSocketDir: join(dir, 'memif'), cniSocket: join(dir, 'cni.sock'),
  vppApiSocket: join(dir, 'api.sock'), podManifests: manifests, nodeName: 'node-e2e', maxCustomInterfaces: 4, eth0Kind: 'tap',
  // Veths made at ADD (the failure tests inject them); the pool has test/system/cni-veth-pool.test.ts.
  vethPoolSize: 0,
};

async function bootAgent(): Promise<Agent> {
  const client = await VppClient.connect({ socket: config.vppApiSocket, registry, name: 'cni-e2e', reconnect: false });
  const a = await startAgent(config, { vswitch: new VppVswitch(client), pods: new ManifestPodSource(manifests), log: () => {}, vhostNet: true /* the emulator's kernel taps need none */ });
  const close = a.close.bind(a);
  a.close = async () => { await close(); await client.close(); };
  return a;
}

// Container ids carry this run's random suffix: the veth host ends are named after them in the
// host namespace, which parallel runs share.
const cid = (id: string) => `${id}-${rnd}`;
const usedIds = new Set<string>();

function cni(command: string, pod: string, id: string, extraConf: Record<string, unknown> = {}, netns = podNsPath): Promise<{ code: number; out: any; stderr: string }> {
  const containerId = cid(id);
  usedIds.add(containerId);
  return new Promise((res) => {
    const child = spawn(process.execPath, [CNI_MAIN], {
      env: {
        PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${containerId}`, CNI_PATH: '/usr/lib/cni',
      },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => res({ code: code ?? -1, out: stdout.trim() ? JSON.parse(stdout) : undefined, stderr }));
    child.stdin.end(JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: config.cniSocket, ...extraConf }));
  });
}

const podLinks = async () => (await listLinks(podNs)).map((l) => l.ifname).sort();
// Host ends of this run's veths only: other tests (and parallel runs of this one) have tsv* veths too.
const hostVeths = async () => {
  const ours = new Set([...usedIds].flatMap((c) => ['eth0', 'tap1', 'veth1'].map((n) => vethHostName(c, n))));
  return (await listLinks()).map((l) => l.ifname).filter((n) => ours.has(n));
};
const podIfsInEmu = () => [...emu.state.interfaces.values()].filter((i) => i.tag.startsWith('tsvpp:'));

test.before(async () => {
  mkdirSync(manifests);
  // The cluster gave this node 10.1.3.0/24 (spec.podCIDR); the address is data only, nothing is sent to it.
  writeFileSync(join(manifests, 'node.yaml'), nodeManifest({ name: 'node-e2e', internalIp: '192.0.2.3', podCIDR: '10.1.3.0/24' }));
  writeFileSync(join(manifests, 'pods.yaml'), `apiVersion: v1
kind: Pod
metadata:
  name: multi-if-pod
  annotations:
    contivpp.io/custom-if: tap1/tap, veth1/veth
spec:
  containers:
    - name: nginx
      image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: svc-pod
  annotations:
    contivpp.io/custom-if: tap1/tap, m1/memif/l3net
    contivpp.io/service-endpoint-if: tap1
spec:
  containers:
    - name: c
      image: x
      resources:
        limits:
          contivpp.io/memif: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: bad-pod
  annotations:
    contivpp.io/custom-if: tap1/tap, veth1/vhost
spec:
  containers: [{name: c, image: x}]
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata:
  name: l3net
spec:
  type: L3
  subnetCIDR: 10.99.0.0/16
  subnetOneNodePrefixLen: 24
`);
  registry = ApiRegistry.fromDir(API_DIR);
  emu = await startVppEmulator({
    socketPath: config.vppApiSocket, registry, runtimeDir: dir, vhostNet: true,
    hooks, kernelTaps: true, // what real VPP does for tap_create_v2
  });
  await addNetns(podNs);
});

test.after(async () => {
  try { await agent?.close(); } catch { /* already closed */ }
  try { await emu?.close(); } catch { /* ignore */ }
  for (const v of await hostVeths()) await deleteLinkIfExists(v);
  await deleteNetns(podNs).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('seed example: ADD gives lo, eth0, tap1, veth1; CHECK passes; agent restart; DEL leaves nothing', async () => {
  agent = await bootAgent();
  const add = await cni('ADD', 'multi-if-pod', 'e2e1');
  assert.is(add.code, 0, JSON.stringify(add.out) + add.stderr);
  assert.equal(await podLinks(), ['eth0', 'lo', 'tap1', 'veth1']);
  assert.equal(add.out.interfaces.slice(0, 3), [
    { name: 'eth0', sandbox: podNsPath }, { name: 'tap1', sandbox: podNsPath }, { name: 'veth1', sandbox: podNsPath },
  ]);
  assert.equal(add.out.ips, [
    { address: '10.1.3.2/32', gateway: '10.1.3.1', interface: 0 },
    { address: '10.1.3.3/32', gateway: '10.1.3.1', interface: 1 },
    { address: '10.1.3.4/32', gateway: '10.1.3.1', interface: 2 },
  ]);
  const addrs = await listAddresses(podNs);
  assert.ok(addrs.find((a) => a.ifname === 'eth0')!.addr_info.some((i) => i.local === '10.1.3.2' && i.prefixlen === 32));
  assert.ok((await listRoutes(podNs)).some((r) => r.dst === 'default' && r.gateway === '10.1.3.1' && r.dev === 'eth0'));
  assert.is(podIfsInEmu().length, 3);
  assert.equal(podIfsInEmu().map((i) => i.kind).sort(), ['af_packet', 'tap', 'tap']);
  assert.ok(podIfsInEmu().every((i) => i.adminUp));
  assert.is((await hostVeths()).length, 1);

  const check = await cni('CHECK', 'multi-if-pod', 'e2e1', { prevResult: add.out });
  assert.is(check.code, 0, JSON.stringify(check.out));

  // Agent restart between ADD and DEL (VPP keeps running).
  await agent.close();
  agent = await bootAgent();
  const check2 = await cni('CHECK', 'multi-if-pod', 'e2e1', { prevResult: add.out });
  assert.is(check2.code, 0, JSON.stringify(check2.out));

  const del = await cni('DEL', 'multi-if-pod', 'e2e1', { prevResult: add.out });
  assert.is(del.code, 0, JSON.stringify(del.out));
  assert.equal(await podLinks(), ['lo']);
  assert.equal(podIfsInEmu(), []);
  assert.equal(await hostVeths(), []);
  assert.equal(readdirSync(join(config.stateDir, 'pods')), []);
  assert.equal(readdirSync(join(config.stateDir, 'ipam', 'tsvpp-default')).filter((f) => /^\d/.test(f)), []);
  const again = await cni('DEL', 'multi-if-pod', 'e2e1');
  assert.is(again.code, 0, 'DEL is idempotent');
});

test('CHECK reports what disappeared', async () => {
  const add = await cni('ADD', 'multi-if-pod', 'e2e2');
  assert.is(add.code, 0, JSON.stringify(add.out));
  await deleteLinkIfExists('tap1', podNs); // behind the agent's back (VPP still has its tap)
  const check = await cni('CHECK', 'multi-if-pod', 'e2e2', { prevResult: add.out });
  assert.is.not(check.code, 0);
  assert.is(check.out.code, 104);
  assert.match(check.out.details, /interface tap1 is missing in \/var\/run\/netns\//);
  const del = await cni('DEL', 'multi-if-pod', 'e2e2');
  assert.is(del.code, 0, JSON.stringify(del.out));
  assert.equal(await podLinks(), ['lo']);
  assert.equal(podIfsInEmu(), []);
});

test('service endpoint (replies routed back through it, service NAT on the default network) and an L3 memif; all removed on DEL', async () => {
  const add = await cni('ADD', 'svc-pod', 'e2e3');
  assert.is(add.code, 0, JSON.stringify(add.out));
  const sepIp = add.out.ips[1].address.split('/')[0];
  const rules = await listRules(podNs);
  assert.ok(rules.some((r) => r.src === sepIp && r.table === '100'), `rule from ${sepIp} lookup 100: ${JSON.stringify(rules)}`);
  assert.ok((await listRoutes(podNs, 100)).some((r) => r.dst === 'default' && r.dev === add.out.interfaces[add.out.ips[1].interface].name));
  const podIfs = podIfsInEmu();
  const onDefault = podIfs.filter((i) => i.kind !== 'memif').map((i) => i.swIfIndex).sort((x, y) => x - y);
  assert.equal([...emu.state.cnat.featureIfs.keys()].filter((x) => podIfs.some((i) => i.swIfIndex === x)).sort((x, y) => x - y), onDefault, 'service NAT on the default network\'s interfaces, not the L3 memif');
  assert.ok(emu.state.cnat.snat, 'the service NAT\'s source address is set');
  const memif = podIfsInEmu().find((i) => i.kind === 'memif')!;
  assert.ok(memif, 'VPP-side memif');
  assert.is(memif.memif!.role, 0, 'master');
  assert.is(memif.memif!.id, 1);
  assert.is(add.out.ips[2].address, '10.99.3.2/32');
  const del = await cni('DEL', 'svc-pod', 'e2e3');
  assert.is(del.code, 0, JSON.stringify(del.out));
  assert.equal(podIfsInEmu(), []);
  assert.not.ok(existsSync(join(config.memifSocketDir, cid('e2e3'))));
});

test('an invalid annotation fails ADD with a CNI error naming the item, nothing left behind', async () => {
  const add = await cni('ADD', 'bad-pod', 'e2e4');
  assert.is.not(add.code, 0);
  assert.is(add.out.code, 100);
  assert.match(add.out.details, /contivpp\.io\/custom-if: item 2 "veth1\/vhost": unknown interface type "vhost"/);
  assert.equal(await podLinks(), ['lo']);
  assert.equal(podIfsInEmu(), []);
  assert.equal(readdirSync(join(config.stateDir, 'pods')), []);
});

test('VPP failure mid-ADD rolls back real devices and leases', async () => {
  // af_packet on the veth host end fails: the tap, the veth pair and the leases must go away again.
  hooks.onAfPacketCreate = () => { throw new Error('injected af_packet failure'); };
  try {
    const add = await cni('ADD', 'multi-if-pod', 'e2e5');
    assert.is.not(add.code, 0);
    assert.is(add.out.code, 103);
    assert.match(add.out.details, /af_packet/);
  } finally { delete hooks.onAfPacketCreate; }
  assert.equal(await podLinks(), ['lo']);
  assert.equal(podIfsInEmu(), []);
  assert.equal(await hostVeths(), []);
  assert.equal(readdirSync(join(config.stateDir, 'ipam', 'tsvpp-default')).filter((f) => /^\d/.test(f)), []);
});

test('a tap VPP cannot create (retval -11, the open of /dev/vhost-net): the CNI error names the likely cause; nothing left', async () => {
  const make = hooks.onTapCreate;
  hooks.onTapCreate = () => { throw Object.assign(new Error('open /dev/vhost-net: No such file or directory'), { retval: -11 }); };
  try {
    const add = await cni('ADD', 'multi-if-pod', 'e2e6');
    assert.is(add.out.code, 103, JSON.stringify(add.out));
    assert.match(add.out.details, /^eth0 \(tap, network default\): create tap: tap_create_v2: VPP returned -11 VNET_API_ERROR_SYSCALL_ERROR_1 \(System call error #1\): VPP.*\/dev\/vhost-net/, add.out.details);
  } finally { hooks.onTapCreate = make; }
  assert.equal(await podLinks(), ['lo']);
  assert.equal(podIfsInEmu(), []);
});

test.run();
