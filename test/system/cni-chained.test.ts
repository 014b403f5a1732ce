// Chained mode on this host (root): Debian's bridge plugin (with host-local) makes the pod's eth0,
// then tsvpp-cni adds the pod's custom interfaces, run through a conflist the way libcni runs one
// (ADD in order with each result passed on as the next plugin's prevResult, CHECK in order and DEL
// in reverse with the cached result as prevResult), real executables, a real network namespace,
// the agent on the VPP emulator whose tap hook makes real taps. Everything created is removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { startVppEmulator, type EmulatorHooks, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { addNetns, createTapDevice, deleteLinkIfExists, deleteNetns, listAddresses, listLinks, listRoutes } from '../../src/cni/linux/ip.js';
import type { CniResult } from '../../src/cni/spec.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = resolve(here, '../../src/cni/cni-main.js');
const PLUGINS = '/usr/lib/cni';
for (const p of ['bridge', 'host-local']) {
  if (!existsSync(join(PLUGINS, p))) throw new Error(`${PLUGINS}/${p} is missing: apt-get install containernetworking-plugins`);
}

const rnd = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-chained-'));
const manifests = join(dir, 'manifests');
const bin = join(dir, 'bin');
const podNs = `tsvpp-chain-${rnd}`;
const podNsPath = `/var/run/netns/${podNs}`;
const bridge = `tsvbr${rnd}`;
const bridgeSubnet = `10.${200 + (parseInt(rnd.slice(0, 2), 16) % 50)}.${parseInt(rnd.slice(2, 4), 16)}.0/24`;
const bridgeGw = bridgeSubnet.replace(/0\/24$/, '1');
let emu: VppEmulator;
let agent: Agent | undefined;
let client: VppClient | undefined;

const config: AgentConfig = {
  ...DEFAULT_CONFIG,
  stateDir: join(dir, 'state'), memifSocketDir: join(dir, 'memif'), cniSocket: join(dir, 'cni.sock'),
  vppApiSocket: join(dir, 'api.sock'), podManifests: manifests, nodeName: 'node-chained', maxCustomInterfaces: 4, eth0Kind: 'tap',
};
const hooks: EmulatorHooks = {
  onTapCreate: (r) => createTapDevice(r.hostIfName, r.hostNamespace || undefined),
  onTapDelete: async (i) => { await deleteLinkIfExists(i.tap!.hostIfName, i.tap!.hostNamespace || undefined); },
};

/** The conflist: bridge (+ host-local) makes eth0, tsvpp-cni follows. */
const conflist = {
  cniVersion: '1.0.0',
  name: 'chained',
  plugins: [
    { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: bridgeSubnet }]], dataDir: join(dir, 'bridge-ipam'), routes: [{ dst: '0.0.0.0/0' }] } },
    { type: 'tsvpp-cni', agentSocket: config.cniSocket, timeoutSeconds: 60 },
  ],
};

interface PluginRun { code: number; out: any; stderr: string }

function execPlugin(type: string, command: string, containerId: string, netconf: object, pod: string): Promise<PluginRun> {
  return new Promise((res) => {
    const path = [bin, PLUGINS].find((d) => existsSync(join(d, type)))!;
    const child = spawn(join(path, type), [], {
      env: {
        PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: podNsPath, CNI_IFNAME: 'eth0',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${containerId}`,
        CNI_PATH: `${bin}:${PLUGINS}`,
      },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => res({ code: code ?? -1, out: stdout.trim() ? JSON.parse(stdout) : undefined, stderr }));
    child.stdin.end(JSON.stringify(netconf));
  });
}

/** What libcni does with a conflist: the plugin's entry, plus name and cniVersion, plus prevResult. */
const netconfOf = (plugin: object, prevResult?: CniResult) => ({ cniVersion: conflist.cniVersion, name: conflist.name, ...plugin, ...(prevResult ? { prevResult } : {}) });

async function addList(containerId: string, pod: string): Promise<{ result?: CniResult; failed?: { type: string; run: PluginRun } }> {
  let prev: CniResult | undefined;
  for (const p of conflist.plugins) {
    const run = await execPlugin(p.type, 'ADD', containerId, netconfOf(p, prev), pod);
    if (run.code !== 0) return { failed: { type: p.type, run } };
    prev = run.out as CniResult;
  }
  return { result: prev! };
}

async function checkList(containerId: string, pod: string, cached: CniResult): Promise<PluginRun[]> {
  const out: PluginRun[] = [];
  for (const p of conflist.plugins) out.push(await execPlugin(p.type, 'CHECK', containerId, netconfOf(p, cached), pod));
  return out;
}

async function delList(containerId: string, pod: string, cached?: CniResult): Promise<PluginRun[]> {
  const out: PluginRun[] = [];
  for (const p of [...conflist.plugins].reverse()) out.push(await execPlugin(p.type, 'DEL', containerId, netconfOf(p, cached), pod));
  return out;
}

test.before(async () => {
  mkdirSync(manifests);
  mkdirSync(bin);
  writeFileSync(join(bin, 'tsvpp-cni'), `#!/bin/sh\nexec "${process.execPath}" "${CNI_MAIN}" "$@"\n`);
  chmodSync(join(bin, 'tsvpp-cni'), 0o755);
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
  emu = await startVppEmulator({ socketPath: config.vppApiSocket, registry, runtimeDir: dir, hooks, vhostNet: true });
  client = await VppClient.connect({ socket: config.vppApiSocket, registry, name: 'cni-chained', reconnect: false });
  agent = await startAgent(config, { vswitch: new VppVswitch(client), pods: new ManifestPodSource(manifests), log: () => {}, vhostNet: true });
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

test('bridge then tsvpp-cni: eth0 is the bridge\'s, the custom interfaces are tsvpp\'s, the result is prevResult extended; CHECK; DEL in reverse leaves nothing', async () => {
  const id = `chain1${rnd}`;
  const { result: r, failed } = await addList(id, 'vnf');
  assert.not.ok(failed, failed && `${failed.type}: ${failed.run.stderr} ${JSON.stringify(failed.run.out)}`);
  const names = r!.interfaces!.map((i) => i.name);
  assert.is(names[0], bridge, 'the bridge\'s interfaces first, as it returned them');
  const eth0 = names.indexOf('eth0'), tap1 = names.indexOf('tap1'), veth1 = names.indexOf('veth1');
  assert.ok(eth0 >= 0 && tap1 > eth0 && veth1 > tap1, names.join(' '));
  assert.is(r!.interfaces![tap1]!.sandbox, podNsPath);
  const ips = new Map(r!.ips!.map((ip) => [ip.interface, ip]));
  assert.ok(ips.get(eth0)!.address.startsWith(bridgeSubnet.slice(0, -4)), JSON.stringify(r!.ips));
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

  const checks = await checkList(id, 'vnf', r!);
  assert.is(checks[1]!.code, 0, `tsvpp-cni CHECK: ${checks[1]!.stderr}`);
  // The reference plugins' CHECK looks for every ips entry on CNI_IFNAME, whatever interface the
  // entry names (upstream behaviour, seen with every chained plugin that adds addresses): bridge's
  // CHECK of a chained result fails on our first address. It passes only once that is fixed there.
  assert.ok(checks[0]!.code === 0 || /Failed to match addr 10\.1\.5\.2\/32 on interface eth0/.test(checks[0]!.out?.msg ?? ''), JSON.stringify(checks[0]!.out));
  await deleteLinkIfExists('tap1', podNs).catch(() => undefined); // a tap deleted under us
  const broken = await checkList(id, 'vnf', r!);
  assert.is(broken[1]!.code, 1);
  assert.is(broken[1]!.out.code, 104);
  assert.match(broken[1]!.out.details, /interface tap1 is missing/);

  const dels = await delList(id, 'vnf', r!);
  assert.equal(dels.map((d) => d.code), [0, 0], dels.map((d) => d.stderr).join(' | '));
  assert.equal((await listLinks(podNs)).map((l) => l.ifname), ['lo']);
  assert.is(podIfsInEmu().length, 0);
  assert.equal(await agent!.store.listPods(), []);
  const bridgeLeases = readdirSync(join(dir, 'bridge-ipam', 'chained')).filter((f) => /^\d/.test(f));
  assert.equal(bridgeLeases, [], 'the bridge\'s address is released too');
  // DEL again (the runtime retries): still fine.
  assert.equal((await delList(id, 'vnf', r!)).map((d) => d.code), [0, 0]);
});

test('chained: a service endpoint is refused (Services are the primary\'s); the runtime\'s DEL cleans up the primary\'s eth0', async () => {
  const id = `chain2${rnd}`;
  const { failed } = await addList(id, 'svc');
  assert.is(failed?.type, 'tsvpp-cni');
  assert.is(failed!.run.out.code, 100);
  assert.match(failed!.run.out.details, /service-endpoint-if: not available in chained mode/);
  assert.equal((await delList(id, 'svc')).map((d) => d.code), [0, 0]);
  assert.equal((await listLinks(podNs)).map((l) => l.ifname), ['lo']);
  assert.is(podIfsInEmu().length, 0);
});

test.run();
