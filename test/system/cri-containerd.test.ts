// tsvpp driven by a real container runtime: Debian's containerd + runc (own config, root, state
// and socket in a temp dir; pod netns pinned under its state dir, so CNI_NETNS is longer than
// tap_create_v2's 64-byte host_namespace), pods created through CRI v1 (RunPodSandbox,
// PodSandboxStatus, StopPodSandbox, RemovePodSandbox), tsvpp-cni in containerd's CNI bin dir with
// deploy/'s conflist, the agent in this process on the VPP emulator (real kernel taps, real veths,
// real host-local). One containerd for the whole file; everything is removed at the end and the
// last test asserts nothing had to be.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { unlistedPoolLinks } from '../../src/cni/agent/veth-pool.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { listPendingDels } from '../../src/cni/pending-del.js';
import { listAddresses, listLinks } from '../../src/cni/linux/ip.js';
import { Containerd, makeCniBinDir, tsvppCniWrapper, type Leftovers } from '../../perf/peers/containerd.js';
import { grpcDetails, type PodSandboxConfig } from '../../perf/peers/cri/client.js';

/** The repository (this file runs from dist/test/system). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const rnd = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-cri-'));
const API_DIR = shippedApiDir();
const CNI_MAIN = join(REPO, 'dist/src/cni/cni-main.cjs');
const TSVPP = join(REPO, 'dist/src/cli/main.js');
const manifests = join(dir, 'manifests');
const config: AgentConfig = {
  ...DEFAULT_CONFIG,
  stateDir: join(dir, 'state'), memifSocketDir: join(dir, 'memif'), cniSocket: join(dir, 'cni.sock'),
  vppApiSocket: join(dir, 'api.sock'), podManifests: manifests, nodeName: 'cri-node', maxCustomInterfaces: 8,
};
let emu: VppEmulator;
let registry: ApiRegistry;
let ctrd: Containerd;
let agent: Agent | undefined;
let client: VppClient | undefined;
const agentLog: string[] = [];
/** eth0Kind auto: a tap where this machine has /dev/vhost-net, else a veth (af_packet in VPP). */
const ETH0_KIND = existsSync('/dev/vhost-net') ? 'tap' : 'af_packet';

async function bootAgent(): Promise<void> {
  client = await VppClient.connect({ socket: config.vppApiSocket, registry, name: 'cri-agent', reconnect: false });
  agent = await startAgent(config, { vswitch: new VppVswitch(client), pods: new ManifestPodSource(manifests), log: (m) => agentLog.push(m) });
}
async function stopAgent(): Promise<void> {
  await agent?.close(); agent = undefined;
  await client?.close(); client = undefined;
}

let podN = 0;
function pod(name: string, annotations: Record<string, string>): PodSandboxConfig {
  return {
    metadata: { name, uid: `${rnd}-${++podN}`, namespace: 'default', attempt: 0 },
    hostname: name, log_directory: join(dir, 'logs', name), annotations, labels: { test: 'tsvpp-cri' },
    linux: { cgroup_parent: ctrd.cgroupParent },
  };
}

async function runPod(c: PodSandboxConfig): Promise<{ id: string; netns: string }> {
  let id: string;
  try { id = await ctrd.cri.runPodSandbox(c); } catch (e) { throw new Error(`RunPodSandbox ${c.metadata.name}: ${grpcDetails(e)}\n${ctrd.log(15)}`); }
  return { id, netns: await ctrd.netnsOf(id) };
}
async function removePod(id: string): Promise<void> {
  await ctrd.cri.stopPodSandbox(id);
  await ctrd.cri.removePodSandbox(id);
}

const linkNames = async (netns: string) => (await listLinks(netns)).map((l) => l.ifname).sort();
const podIfsInVpp = (id?: string) => [...emu.state.interfaces.values()].filter((i) => i.tag.startsWith(`tsvpp:${id ? id.slice(0, 40) : ''}`));
const leases = () => ['tsvpp-default', 'tsvpp-l3net'].flatMap((n) => { try { return readdirSync(join(config.stateDir, 'ipam', n)).filter((f) => /^\d/.test(f)); } catch { return []; } });
const ourVeths = async (ids: string[]) => {
  const names = new Set(ids.flatMap((id) => ['eth0', 'veth1', 'l2if'].map((i) => vethHostName(id, i))));
  const links = (await listLinks()).map((l) => l.ifname);
  return [...links.filter((n) => names.has(n)), ...await unlistedPoolLinks(config.stateDir, links)];
};
function agentPods(): Promise<string> {
  return new Promise((res) => execFile(process.execPath, [TSVPP, 'agent', 'pods', '--state-dir', config.stateDir], (_e, out, err) => res(out + err)));
}

/** Nothing of the pod is left anywhere: VPP, host links, leases, netns, agent state, pending DELs. */
async function assertGone(ids: string[], netnsPaths: string[]): Promise<void> {
  for (const id of ids) assert.equal(podIfsInVpp(id), [], `VPP interfaces of ${id}`);
  assert.equal(await ourVeths(ids), [], 'veth host ends');
  assert.equal(leases(), [], 'host-local leases');
  for (const n of netnsPaths) assert.not.ok(existsSync(n), `netns ${n}`);
  assert.equal(readdirSync(join(config.stateDir, 'pods')), [], 'pod records');
  assert.equal(await listPendingDels(config.stateDir), [], 'pending DELs');
  const live = (await ctrd.cri.listPodSandbox()).filter((s) => ids.includes(s.id));
  assert.equal(live, [], 'sandboxes');
}

test.before(async () => {
  mkdirSync(manifests);
  writeFileSync(join(manifests, 'node.yaml'), nodeManifest({ name: config.nodeName, internalIp: '192.0.2.5', podCIDR: '10.1.5.0/24' }));
  // The API server's view: only resource limits and CustomNetworks are read from here when the
  // runtime passes annotations (the annotations below are stale on purpose).
  writeFileSync(join(manifests, 'cluster.yaml'), `apiVersion: v1
kind: Pod
metadata:
  name: all-kinds
  annotations:
    contivpp.io/custom-if: stale/tap
spec:
  containers:
    - name: c
      image: x
      resources:
        limits:
          contivpp.io/memif: 1
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata: { name: l2net }
spec: { type: L2 }
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata: { name: l3net }
spec: { type: L3, subnetCIDR: 10.98.0.0/16, subnetOneNodePrefixLen: 24 }
`);
  registry = ApiRegistry.fromDir(API_DIR);
  emu = await startVppEmulator({ socketPath: config.vppApiSocket, registry, runtimeDir: dir, vhostNet: true /* the emulator makes its taps with /dev/net/tun */, kernelTaps: true });
  await bootAgent();
  // deploy/'s conflist (with the pod-annotations capability), pointed at this agent.
  const conflist = JSON.parse(readFileSync(join(REPO, 'deploy/10-tsvpp.conflist'), 'utf8'));
  Object.assign(conflist.plugins[0], { agentSocket: config.cniSocket, agentStateDir: config.stateDir, timeoutSeconds: 30 });
  mkdirSync(join(dir, 'net.d'));
  writeFileSync(join(dir, 'net.d', '10-tsvpp.conflist'), JSON.stringify(conflist));
  const bin = makeCniBinDir(join(dir, 'bin'), ['loopback'], { 'tsvpp-cni': tsvppCniWrapper(CNI_MAIN, config.cniSocket) });
  ctrd = await Containerd.start({ cniConfDir: join(dir, 'net.d'), cniBinDir: bin, netnsUnderStateDir: true });
});

let leftovers: Leftovers | undefined;
test.after(async () => {
  if (!leftovers) await ctrd?.stop().catch(() => undefined);
  await stopAgent().catch(() => undefined);
  await emu?.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('a pod with every interface kind: annotations from the runtime, memif limits from the manifests, a netns path longer than 64 bytes; stop/remove leaves nothing', async () => {
  const { id, netns } = await runPod(pod('all-kinds', {
    'contivpp.io/custom-if': 'tap1/tap, veth1/veth, m1/memif, l2if/veth/l2net, l3if/tap/l3net',
    'example.com/other': 'ignored',
  }));
  assert.ok(netns.length > 64, `CNI_NETNS ${netns} is ${netns.length} bytes`);
  assert.ok(netns.startsWith(ctrd.netnsDir), netns);
  assert.equal(await linkNames(netns), ['eth0', 'l2if', 'l3if', 'lo', 'tap1', 'veth1']);
  const st = await ctrd.cri.podSandboxStatus(id);
  assert.is(st.status.state, 'SANDBOX_READY');
  assert.is(st.status.network?.ip, '10.1.5.2', 'PodSandboxStatus reports eth0');
  const addrs = await listAddresses(netns);
  assert.ok(addrs.find((a) => a.ifname === 'l3if')!.addr_info.some((a) => a.local === '10.98.5.2'));
  const cniResult = await ctrd.cniResultOf(id);
  assert.equal(cniResult?.Interfaces?.['tap1']?.IPConfigs?.map((c) => c.IP), ['10.1.5.3'], 'custom interfaces in the verbose CNI result');
  assert.equal(podIfsInVpp(id).map((i) => i.kind).sort(), [ETH0_KIND, 'af_packet', 'af_packet', 'memif', 'tap', 'tap'].sort());
  const rec = (await agent!.store.loadPod(id))!;
  assert.equal(rec.metadataSources, { annotations: 'runtime', resourceLimits: 'manifests' });
  assert.equal(rec.interfaces.map((i) => i.name), ['eth0', 'tap1', 'veth1', 'm1', 'l2if', 'l3if']);
  assert.is(rec.netns, netns);
  assert.ok(agentLog.some((l) => l.startsWith(`ADD ${id} default/all-kinds (annotations from the runtime, resource limits from the pod manifests)`)), agentLog.join('\n'));
  assert.match(await agentPods(), 'annotations from the runtime, resource limits from the pod manifests');

  await removePod(id);
  await assertGone([id], [netns]);
});

test('three pods started in parallel (none of them in the manifests) get distinct addresses and their interfaces; removed in parallel', async () => {
  const pods = await Promise.all(['par-a', 'par-b', 'par-c'].map((n) => runPod(pod(n, { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth' }))));
  const ips = await Promise.all(pods.map(async (p) => (await ctrd.cri.podSandboxStatus(p.id)).status.network?.ip));
  assert.is(new Set(ips).size, 3, JSON.stringify(ips));
  for (const p of pods) {
    assert.equal(await linkNames(p.netns), ['eth0', 'lo', 'tap1', 'veth1']);
    assert.is(podIfsInVpp(p.id).length, 3);
  }
  await Promise.all(pods.map((p) => removePod(p.id)));
  await assertGone(pods.map((p) => p.id), pods.map((p) => p.netns));
});

test('a bad annotation fails RunPodSandbox with tsvpp\'s message; containerd\'s cleanup DEL succeeds and nothing is left', async () => {
  const before = readdirSync(ctrd.netnsDir);
  try {
    await ctrd.cri.runPodSandbox(pod('bad', { 'contivpp.io/custom-if': 'tap1/tap, veth1/vhost' }));
    assert.unreachable('RunPodSandbox should fail');
  } catch (e) {
    if ((e as Error).name === 'Assertion') throw e;
    assert.match(grpcDetails(e), 'contivpp.io/custom-if: item 2 "veth1/vhost": unknown interface type "vhost" (expected tap, veth or memif)');
  }
  assert.equal((await ctrd.cri.listPodSandbox()).filter((s) => s.metadata.name === 'bad'), [], 'no sandbox left (not SANDBOX_UNKNOWN)');
  assert.equal(readdirSync(ctrd.netnsDir), before, 'its netns is gone');
  await assertGone([], []);
});

test('agent down during RunPodSandbox: it fails, the cleanup DEL is recorded and succeeds; back again, the DEL is carried out and the pod starts', async () => {
  await stopAgent();
  const before = readdirSync(ctrd.netnsDir);
  try {
    await ctrd.cri.runPodSandbox(pod('while-down', { 'contivpp.io/custom-if': 'tap1/tap' }));
    assert.unreachable('RunPodSandbox should fail');
  } catch (e) {
    if ((e as Error).name === 'Assertion') throw e;
    assert.match(grpcDetails(e), 'tsvpp agent is not reachable');
  }
  assert.equal((await ctrd.cri.listPodSandbox()).filter((s) => s.metadata.name === 'while-down'), [], 'sandbox removed, not stranded');
  assert.equal(readdirSync(ctrd.netnsDir), before);
  const pending = await listPendingDels(config.stateDir);
  assert.is(pending.length, 1);
  assert.match(await agentPods(), 'pending DELs');
  await bootAgent();
  assert.equal(await listPendingDels(config.stateDir), [], 'carried out at start');
  const { id, netns } = await runPod(pod('while-down', { 'contivpp.io/custom-if': 'tap1/tap' }));
  assert.equal(await linkNames(netns), ['eth0', 'lo', 'tap1']);
  await removePod(id);
  await assertGone([id], [netns]);
});

test('agent down during StopPodSandbox: stop and remove succeed (DEL recorded); back again, the agent removes the pod from VPP, leases and state', async () => {
  const { id, netns } = await runPod(pod('stop-while-down', { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth' }));
  assert.is(podIfsInVpp(id).length, 3);
  await stopAgent();
  await ctrd.cri.stopPodSandbox(id);
  await ctrd.cri.removePodSandbox(id);
  assert.not.ok(existsSync(netns), 'containerd removed the netns');
  assert.is(podIfsInVpp(id).length, 3, 'VPP still has them while the agent is away');
  const [p] = await listPendingDels(config.stateDir);
  assert.is(p?.containerId, id);
  assert.is(p!.record!.request.netns, netns, 'the StopPodSandbox DEL (with the netns) is the one kept');
  const shown = await agentPods();
  assert.match(shown, `default/stop-while-down  container ${id}`);
  await bootAgent();
  await assertGone([id], [netns]);
});

test('containerd stops with nothing left to clean up', async () => {
  leftovers = await ctrd.stop();
  assert.equal(leftovers, { sandboxes: [], tasks: [], processes: [], mounts: [], netns: [], cgroups: [] });
});

test.run();
