// Chained mode on this host (root): Debian's bridge plugin (with host-local) is the primary CNI
// and makes the pod's eth0; the agent, started with chainedCniConfDir, derives the chained conflist
// from the bridge's conflist in that dir, and a libcni stand-in runs it (ADD in order, each result
// the next plugin's prevResult; CHECK in order and DEL in reverse with the final result), with real
// executables, a real network namespace and the agent on the VPP emulator making real taps
// (kernelTaps). At cniVersion 1.0.0 and at 0.3.1 (what Calico, Cilium and flannel write). Everything
// created is removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { LibcniStandin, type Conflist, type LibcniCall } from '../../src/testing/libcni-standin.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { CHAINED_CONFLIST, tsvppPluginConf } from '../../src/cni/agent/chained-conflist.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { addNetns, deleteLinkIfExists, deleteNetns, listAddresses, listLinks, listRoutes } from '../../src/cni/linux/ip.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = resolve(here, '../../src/cni/cni-main.cjs');
const TSVPP = resolve(here, '../../src/cli/main.js');
const PLUGINS = '/usr/lib/cni';
for (const p of ['bridge', 'host-local']) {
  if (!existsSync(join(PLUGINS, p))) throw new Error(`${PLUGINS}/${p} is missing: apt-get install containernetworking-plugins`);
}

const rnd = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-chained-'));
const manifests = join(dir, 'manifests');
const bin = join(dir, 'bin');
const netd = join(dir, 'net.d');
const podNs = `tsvpp-chain-${rnd}`;
const podNsPath = `/var/run/netns/${podNs}`;
const bridge = `tsvbr${rnd}`;
const bridgeSubnet = `10.${200 + (parseInt(rnd.slice(0, 2), 16) % 50)}.${parseInt(rnd.slice(2, 4), 16)}.0/24`;
const bridgeGw = bridgeSubnet.replace(/0\/24$/, '1');
let emu: VppEmulator;
let agent: Agent | undefined;
let client: VppClient | undefined;
const agentLog: string[] = [];

const config: AgentConfig = {
  ...DEFAULT_CONFIG,
  stateDir: join(dir, 'state'), memifSocketDir: join(dir, 'memif'), cniSocket: join(dir, 'cni.sock'),
  vppApiSocket: join(dir, 'api.sock'), podManifests: manifests, nodeName: 'node-chained', maxCustomInterfaces: 4, eth0Kind: 'tap',
  chainedCniConfDir: netd,
};

/**
 * The primary's conflist, as a bridge-based CNI writes it into the CNI config dir: deploy/'s
 * example without tsvpp-cni, on this run's bridge, subnet and lease dir, without masquerading.
 */
const example = JSON.parse(readFileSync(resolve(here, '../../../deploy/00-tsvpp-chained.conflist.example'), 'utf8')) as Conflist;
const bridgeConflist = (cniVersion: string): Conflist => ({
  cniVersion,
  name: 'chained',
  plugins: [
    { ...example.plugins[0]!, bridge, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: bridgeSubnet }]], dataDir: join(dir, 'bridge-ipam'), routes: [{ dst: '0.0.0.0/0' }] } },
  ],
});
if (example.plugins.length !== 2 || example.plugins[0]!.type !== 'bridge') throw new Error('deploy/00-tsvpp-chained.conflist.example: expected bridge, then tsvpp-cni');
const writePrimary = (c: Conflist) => writeFileSync(join(netd, '10-bridge.conflist'), JSON.stringify(c, null, 2));

/** The chained conflist the agent wrote, once it is the primary's `cniVersion`. */
async function chainedConflist(cniVersion: string): Promise<Conflist> {
  const f = join(netd, CHAINED_CONFLIST);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const c = existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) as Conflist : undefined;
    if (c?.cniVersion === cniVersion) return c;
    if (Date.now() > deadline) throw new Error(`${f} is ${c ? `at ${c.cniVersion}` : 'missing'}\nagent log:\n${agentLog.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const call = (containerId: string, pod: string): LibcniCall => ({
  containerId, netns: podNsPath, args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: pod, K8S_POD_INFRA_CONTAINER_ID: containerId },
});

test.before(async () => {
  mkdirSync(manifests);
  mkdirSync(bin);
  mkdirSync(netd);
  writeFileSync(join(bin, 'tsvpp-cni'), `#!/bin/sh\nexec "${process.execPath}" "${CNI_MAIN}" "$@"\n`);
  chmodSync(join(bin, 'tsvpp-cni'), 0o755);
  writePrimary(bridgeConflist('1.0.0'));
  writeFileSync(join(manifests, 'node.yaml'), nodeManifest({ name: 'node-chained', internalIp: '192.0.2.5', podCIDR: '10.1.5.0/24' }));
  writeFileSync(join(manifests, 'pods.yaml'), `apiVersion: v1
kind: Pod
metadata:
  name: vnf
  annotations:
    contivpp.io/custom-if: tap1/tap, veth1/veth/l3net
spec:
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata:
  name: plain
spec:
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata:
  name: svc
  annotations:
    contivpp.io/custom-if: tap1/tap
    contivpp.io/service-endpoint-if: tap1
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
  const registry = ApiRegistry.fromDir(shippedApiDir());
  emu = await startVppEmulator({ socketPath: config.vppApiSocket, registry, runtimeDir: dir, vhostNet: true, kernelTaps: true /* real taps, as VPP's tap v2 makes them */ });
  client = await VppClient.connect({ socket: config.vppApiSocket, registry, name: 'cni-chained', reconnect: false });
  agent = await startAgent(config, { vswitch: new VppVswitch(client), pods: new ManifestPodSource(manifests), log: (m) => agentLog.push(m), vhostNet: true });
  await addNetns(podNs);
});

test.after(async () => {
  await agent?.close();
  await client?.close();
  await emu?.close();
  await deleteNetns(podNs).catch(() => undefined);
  await deleteLinkIfExists(bridge).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const podIfsInEmu = () => [...emu.state.interfaces.values()].filter((i) => i.tag.startsWith('tsvpp:'));
const bridgeLeases = () => readdirSync(join(dir, 'bridge-ipam', 'chained')).filter((f) => /^\d/.test(f));

test('the agent writes the chained conflist: the bridge\'s network with tsvpp-cni appended, ahead of it in the dir', async () => {
  const c = await chainedConflist('1.0.0');
  assert.equal(c, { ...bridgeConflist('1.0.0'), plugins: [...bridgeConflist('1.0.0').plugins, tsvppPluginConf(config)] });
  assert.equal(readdirSync(netd).filter((f) => f.endsWith('.conflist')).sort(), [CHAINED_CONFLIST, '10-bridge.conflist'], 'the runtime takes ours first; the primary\'s file is untouched');
  assert.ok(agentLog.some((l) => l.includes(`chained mode: ${join(netd, CHAINED_CONFLIST)} = ${join(netd, '10-bridge.conflist')} + tsvpp-cni`)), agentLog.join('\n'));
});

test('bridge then tsvpp-cni: eth0 is the bridge\'s, the custom interfaces are tsvpp\'s, the result is prevResult extended; CHECK; DEL in reverse leaves nothing', async () => {
  const cni = new LibcniStandin(await chainedConflist('1.0.0'), [bin, PLUGINS]);
  const id = `chain1${rnd}`;
  const { result: r, failed } = await cni.add(call(id, 'vnf'));
  assert.not.ok(failed, failed && `${failed.type}: ${failed.stderr} ${JSON.stringify(failed.out)}`);
  const names = r!.interfaces!.map((i) => i.name);
  assert.is(names[0], bridge, 'the bridge\'s interfaces first, as it returned them');
  const eth0 = names.indexOf('eth0'), tap1 = names.indexOf('tap1'), veth1 = names.indexOf('veth1');
  assert.ok(eth0 >= 0 && tap1 > eth0 && veth1 > tap1, names.join(' '));
  assert.is(r!.interfaces![tap1]!.sandbox, podNsPath);
  const ips = new Map(r!.ips!.map((ip) => [ip.interface, ip]));
  assert.ok(ips.get(eth0)!.address.startsWith(bridgeSubnet.slice(0, -4)), JSON.stringify(r!.ips));
  assert.is(r!.ips![0]!.interface, eth0, 'the pod IP the runtime reports (the first) is still eth0\'s');
  assert.equal([ips.get(tap1)!.address, ips.get(tap1)!.gateway], ['10.1.5.2/32', '10.1.5.1']);
  assert.equal([ips.get(veth1)!.address, ips.get(veth1)!.gateway], ['10.99.5.2/32', '10.99.5.1']);
  assert.ok(r!.routes!.some((x) => x.dst === '10.1.0.0/16' && x.gw === '10.1.5.1'));
  assert.ok(r!.routes!.some((x) => x.dst === '10.99.0.0/16' && x.gw === '10.99.5.1'));

  // In the pod: eth0 as the bridge made it (its address, the default route through the bridge).
  const links = (await listLinks(podNs)).map((l) => l.ifname).sort();
  assert.equal(links, ['eth0', 'lo', 'tap1', 'veth1']);
  const addrs = await listAddresses(podNs);
  const addrOf = (n: string) => addrs.find((a) => a.ifname === n)!.addr_info.filter((i) => i.family === 'inet').map((i) => `${i.local}/${i.prefixlen}`);
  assert.equal(addrOf('eth0'), [ips.get(eth0)!.address]);
  assert.equal(addrOf('tap1'), ['10.1.5.2/32']);
  const routes = await listRoutes(podNs);
  assert.ok(routes.some((x) => x.dst === 'default' && x.gateway === bridgeGw && x.dev === 'eth0'), JSON.stringify(routes));
  assert.ok(routes.some((x) => x.dst === '10.1.0.0/16' && x.gateway === '10.1.5.1' && x.dev === 'tap1'), JSON.stringify(routes));
  assert.not.ok(routes.some((x) => x.dst === 'default' && x.dev !== 'eth0'), 'the default route stays the primary\'s');
  assert.is(podIfsInEmu().length, 2, 'VPP has tap1 and veth1, nothing for eth0');
  const shown = execFileSync(process.execPath, [TSVPP, 'agent', 'pods', '--state-dir', config.stateDir]).toString();
  assert.match(shown, `default/vnf  container ${id}  ready`);
  assert.match(shown, '  chained after another CNI (eth0 is that CNI\'s)\n  tap1 ');

  const checks = await cni.check(call(id, 'vnf'), r!);
  assert.is(checks[1]!.code, 0, `tsvpp-cni CHECK: ${checks[1]!.stderr}`);
  // The reference plugins' CHECK looks for every ips entry on CNI_IFNAME, whatever interface the
  // entry names (upstream behaviour, seen with every chained plugin that adds addresses): bridge's
  // CHECK of a chained result fails on our first address. It passes only once that is fixed there.
  assert.ok(checks[0]!.code === 0 || /Failed to match addr 10\.1\.5\.2\/32 on interface eth0/.test(checks[0]!.out?.msg ?? ''), JSON.stringify(checks[0]!.out));
  await deleteLinkIfExists('tap1', podNs).catch(() => undefined); // a tap deleted under us
  const broken = await cni.check(call(id, 'vnf'), r!);
  assert.is(broken[1]!.code, 1);
  assert.is(broken[1]!.out.code, 104);
  assert.match(broken[1]!.out.details, /interface tap1 is missing/);

  const dels = await cni.del(call(id, 'vnf'), r!);
  assert.equal(dels.map((d) => [d.type, d.code]), [['tsvpp-cni', 0], ['bridge', 0]], dels.map((d) => d.stderr).join(' | '));
  assert.equal((await listLinks(podNs)).map((l) => l.ifname), ['lo']);
  assert.is(podIfsInEmu().length, 0);
  assert.equal(await agent!.store.listPods(), []);
  assert.equal(bridgeLeases(), [], 'the bridge\'s address is released too');
  // DEL again (the runtime retries): still fine.
  assert.equal((await cni.del(call(id, 'vnf'), r!)).map((d) => d.code), [0, 0]);
});

test('a 0.3.1 primary (as Calico, Cilium and flannel write): the chained file follows it; ADD gets a 0.3.1 result, DEL without prevResult cleans up; a pod without custom interfaces gets the primary\'s result', async () => {
  writePrimary(bridgeConflist('0.3.1'));
  const cni = new LibcniStandin(await chainedConflist('0.3.1'), [bin, PLUGINS]);
  const id = `chain3${rnd}`;
  const { result: r, failed } = await cni.add(call(id, 'vnf'));
  assert.not.ok(failed, failed && `${failed.type}: ${failed.stderr} ${JSON.stringify(failed.out)}`);
  assert.is(r!.cniVersion, '0.3.1');
  const tap1 = r!.interfaces!.findIndex((i) => i.name === 'tap1');
  const tapIp = r!.ips!.find((ip) => ip.interface === tap1)!;
  assert.match(tapIp.address, /^10\.1\.5\.\d+\/32$/);
  assert.equal({ ...tapIp, address: '' }, { address: '', gateway: '10.1.5.1', interface: tap1, version: '4' });
  assert.ok(r!.ips!.every((ip) => ip.version === '4'), JSON.stringify(r!.ips));
  assert.equal((await listLinks(podNs)).map((l) => l.ifname).sort(), ['eth0', 'lo', 'tap1', 'veth1']);
  assert.equal(await cni.check(call(id, 'vnf'), r!).catch((e: Error) => e.message), 'configuration version "0.3.1" does not support the CHECK command');
  const dels = await cni.del(call(id, 'vnf'), r!);
  assert.equal(dels.map((d) => d.code), [0, 0], dels.map((d) => d.stderr).join(' | '));
  assert.equal((await listLinks(podNs)).map((l) => l.ifname), ['lo']);
  assert.is(podIfsInEmu().length, 0);
  assert.equal(await agent!.store.listPods(), []);

  // No custom interfaces: tsvpp-cni passes the bridge's result on as it is.
  const plainId = `chain4${rnd}`;
  const plain = await cni.add(call(plainId, 'plain'));
  assert.not.ok(plain.failed, JSON.stringify(plain.failed));
  // The bridge's: the bridge, the host end of the veth, eth0; one address; its routes.
  assert.equal(plain.result!.interfaces!.map((i) => i.name).filter((n) => n === bridge || n === 'eth0'), [bridge, 'eth0']);
  assert.is(plain.result!.interfaces!.length, 3);
  assert.is(plain.result!.ips!.length, 1);
  assert.equal(plain.result!.routes!.map((x) => x.dst), ['0.0.0.0/0']);
  assert.equal((await listLinks(podNs)).map((l) => l.ifname).sort(), ['eth0', 'lo']);
  assert.is(podIfsInEmu().length, 0);
  assert.equal((await cni.del(call(plainId, 'plain'), plain.result)).map((d) => d.code), [0, 0]);
  assert.equal(await agent!.store.listPods(), []);
  assert.equal(bridgeLeases(), []);
  writePrimary(bridgeConflist('1.0.0'));
  await chainedConflist('1.0.0');
});

test('chained: a service endpoint is refused (Services are the primary\'s); the runtime\'s DEL cleans up the primary\'s eth0', async () => {
  const cni = new LibcniStandin(await chainedConflist('1.0.0'), [bin, PLUGINS]);
  const id = `chain2${rnd}`;
  const { failed } = await cni.add(call(id, 'svc'));
  assert.is(failed?.type, 'tsvpp-cni');
  assert.is(failed!.out.code, 100);
  assert.match(failed!.out.details, /service-endpoint-if: not available in chained mode/);
  assert.equal((await cni.del(call(id, 'svc'))).map((d) => d.code), [0, 0]);
  assert.equal((await listLinks(podNs)).map((l) => l.ifname), ['lo']);
  assert.is(podIfsInEmu().length, 0);
});

test('the primary\'s conflist gone: the chained one goes too (it must not outlive the network it extends)', async () => {
  rmSync(join(netd, '10-bridge.conflist'));
  const deadline = Date.now() + 15_000;
  while (existsSync(join(netd, CHAINED_CONFLIST))) {
    if (Date.now() > deadline) assert.unreachable(`${CHAINED_CONFLIST} still there:\n${agentLog.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(readdirSync(netd), []);
});

test.run();
