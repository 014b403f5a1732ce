// CNI 1.1's STATUS and GC on this host (root), as a runtime on libcni 1.2 or later runs them:
// deploy/'s conflist (cniVersion 1.0.0, cniVersions up to 1.1.0, so such a runtime speaks 1.1.0 and
// an older one 1.0.0), the tsvpp-cni shim `tsvpp agent shim` writes, a libcni stand-in, real network
// namespaces, host-local leases, and the agent on the VPP emulator making real taps (kernelTaps).
// GC removes a pod the runtime no longer lists as its DEL would; STATUS says whether ADDs can be
// served, and "not available" (50) once the agent is gone. Everything created is removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { tsvppCniShim } from '../../src/cni/invocation.js';
import { addNetns, deleteNetns, listLinks } from '../../src/cni/linux/ip.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = resolve(here, '../../src/cni/cni-main.cjs');
const PLUGINS = '/usr/lib/cni';
if (!existsSync(join(PLUGINS, 'host-local'))) throw new Error(`${PLUGINS}/host-local is missing: apt-get install containernetworking-plugins`);

const rnd = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-status-gc-'));
const manifests = join(dir, 'manifests');
const bin = join(dir, 'bin');
const netns = [`tsvpp-gc1-${rnd}`, `tsvpp-gc2-${rnd}`];
let emu: VppEmulator | undefined;
let agent: Agent | undefined;
let client: VppClient | undefined;
const agentLog: string[] = [];

const config: AgentConfig = {
  ...DEFAULT_CONFIG,
  stateDir: join(dir, 'state'), memifSocketDir: join(dir, 'memif'), cniSocket: join(dir, 'cni.sock'),
  vppApiSocket: join(dir, 'api.sock'), podManifests: manifests, nodeName: 'node-gc', eth0Kind: 'tap', cniPluginDirs: [PLUGINS],
};

// deploy/'s conflist, pointed at this agent.
const conflist = JSON.parse(readFileSync(resolve(here, '../../../deploy/10-tsvpp.conflist'), 'utf8')) as Conflist;
Object.assign(conflist.plugins[0]!, { agentSocket: config.cniSocket, agentStateDir: config.stateDir, timeoutSeconds: 30 });
const cni = new LibcniStandin(conflist, [bin, PLUGINS]);

const call = (i: number): LibcniCall => ({
  containerId: `gc${i}${rnd}`, netns: `/var/run/netns/${netns[i]}`, args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'vnf', K8S_POD_INFRA_CONTAINER_ID: `gc${i}${rnd}` },
});
const podIfsInEmu = () => [...emu!.state.interfaces.values()].filter((i) => i.tag.startsWith('tsvpp:'));
/** The containers host-local holds addresses for, in the default network. */
const leaseHolders = () => {
  const d = join(config.stateDir, 'ipam', 'tsvpp-default');
  return existsSync(d) ? readdirSync(d).filter((f) => /^\d/.test(f)).map((f) => readFileSync(join(d, f), 'utf8').split(/\r?\n/)[0]).sort() : [];
};

test.before(async () => {
  mkdirSync(manifests);
  mkdirSync(bin);
  writeFileSync(join(bin, 'tsvpp-cni'), tsvppCniShim({ cniSocket: config.cniSocket, node: process.execPath, cniMain: CNI_MAIN }), { mode: 0o755 });
  writeFileSync(join(manifests, 'node.yaml'), nodeManifest({ name: 'node-gc', internalIp: '192.0.2.6', podCIDR: '10.1.6.0/24' }));
  writeFileSync(join(manifests, 'pods.yaml'), `apiVersion: v1
kind: Pod
metadata:
  name: vnf
  annotations:
    contivpp.io/custom-if: tap1/tap
spec:
  containers: [{name: c, image: x}]
`);
  const registry = ApiRegistry.fromDir(shippedApiDir());
  emu = await startVppEmulator({ socketPath: config.vppApiSocket, registry, runtimeDir: dir, vhostNet: true, kernelTaps: true });
  client = await VppClient.connect({ socket: config.vppApiSocket, registry, name: 'cni-status-gc', reconnect: false });
  agent = await startAgent(config, { vswitch: new VppVswitch(client), pods: new ManifestPodSource(manifests), log: (m) => agentLog.push(m), vhostNet: true });
  for (const n of netns) await addNetns(n);
});

test.after(async () => {
  await agent?.close();
  await client?.close();
  await emu?.close();
  for (const n of netns) await deleteNetns(n).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('deploy/\'s conflist: a runtime on libcni 1.2+ speaks 1.1.0 with it; STATUS is ready and ADD answers at 1.1.0', async () => {
  assert.equal(conflist.cniVersions, ['1.0.0', '1.1.0']);
  assert.is(conflist.cniVersion, '1.0.0', 'what a runtime on an older libcni (containerd 1.6) uses');
  assert.is(cni.version, '1.1.0');
  const st = await cni.status();
  assert.is(st, undefined, st && `${st.stderr} ${JSON.stringify(st.out)}`);
  for (const i of [0, 1]) {
    const { result, failed } = await cni.add(call(i));
    assert.not.ok(failed, failed && `${failed.stderr} ${JSON.stringify(failed.out)}`);
    assert.is(result!.cniVersion, '1.1.0');
  }
  assert.is(podIfsInEmu().length, 4);
  assert.equal(leaseHolders(), [call(0).containerId, call(0).containerId, call(1).containerId, call(1).containerId].sort());
});

test('GC with one of the two pods listed: the other goes as with its DEL (VPP, its netns, leases, record); the listed one is untouched', async () => {
  const runs = await cni.gc([{ containerID: call(0).containerId, ifname: 'eth0' }]);
  assert.equal(runs.map((r) => [r.type, r.code, r.out]), [['tsvpp-cni', 0, undefined]], runs.map((r) => r.stderr).join(' | '));
  assert.equal((await listLinks(netns[1])).map((l) => l.ifname), ['lo']);
  assert.equal((await listLinks(netns[0])).map((l) => l.ifname).sort(), ['eth0', 'lo', 'tap1']);
  assert.equal(podIfsInEmu().map((i) => i.tag.split(':')[1]), [call(0).containerId, call(0).containerId]);
  assert.equal(leaseHolders(), [call(0).containerId, call(0).containerId]);
  assert.equal((await agent!.store.listPods()).map((r) => r.containerId), [call(0).containerId]);
  assert.ok(agentLog.some((l) => l.startsWith(`GC tsvpp: 1 valid; removed ${call(1).containerId}`)), agentLog.join('\n'));
  // The runtime's own DEL of the collected pod, should it come: nothing left to do, no error.
  assert.equal((await cni.del(call(1))).map((r) => r.code), [0]);
  assert.equal((await cni.del(call(0))).map((r) => r.code), [0]);
  assert.equal((await listLinks(netns[0])).map((l) => l.ifname), ['lo']);
  assert.equal(podIfsInEmu(), []);
  assert.equal(leaseHolders(), []);
});

test('the agent gone: STATUS is "not available" (50) naming its socket; GC fails for the runtime to retry', async () => {
  await agent!.close();
  agent = undefined;
  const st = await cni.status();
  assert.is(st?.code, 1);
  assert.is(st!.out.code, 50);
  assert.match(st!.out.msg, /tsvpp is not available: tsvpp agent is not reachable/);
  assert.match(st!.out.details, new RegExp(`${config.cniSocket.replace(/[.]/g, '\\.')}: ENOENT`));
  const gc = await cni.gc([]);
  assert.is(gc[0]!.out.code, 11);
});

test.run();
