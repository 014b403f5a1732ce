// The agent image as a node runs it: scripts/build-image.sh builds it, containerd imports it, and
// deploy/daemonset.yaml is played with `ctr run` — its install-cni init container, then the agent
// container with the DaemonSet's mounts, host network and privileges. Pods created through CRI on
// the same containerd get their interfaces from the agent in the image, through the tsvpp-cni the
// init container installed (the image's node binary and modules, run on the host). VPP is the
// emulator on the host (its API socket dir is the DaemonSet's /run/vpp).
//
// Host paths: the DaemonSet's hostPath volumes map to temp dirs, except /var/run/netns (the pod
// netns must have the same path inside the agent), so the installed conflist's agentSocket and
// agentStateDir are pointed at the temp dirs; no API server here, so the agent gets
// --pod-manifests (a dir of the test's, mounted, with the Node) and NODE_NAME (the downward API's
// part), and no kubelet, so --memif-devices 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { shippedApiDir } from '../../src/vppapi/client/index.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { addNetns, deleteNetns, listAddresses, listLinks } from '../../src/cni/linux/ip.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { unlistedPoolLinks } from '../../src/cni/agent/veth-pool.js';
import { DEFAULT_API_DIR } from '../../src/vppapi/client/registry.js';
import { Containerd, DEBIAN_CNI_DIR } from '../../perf/peers/containerd.js';
import { grpcDetails } from '../../perf/peers/cri/client.js';

/** The repository (this file runs from dist/test/system). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const rnd = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-image-test-'));
const host = (p: string) => join(dir, 'host', p);
const IMAGE_TAR = join(dir, 'tsvpp.tar');
const IMAGE = 'docker.io/library/tsvpp:latest';
const API_DIR = shippedApiDir();
let emu: VppEmulator | undefined;
let ctrd: Containerd | undefined;
const containers: string[] = [];
/** The manifests dir (host side) and the Node's name (the DaemonSet has it from the downward API). */
const MANIFESTS = join(dir, 'manifests');
const NODE_NAME = `img-node-${rnd}`;

function sh(cmd: string, args: string[], timeoutMs = 600_000): Promise<string> {
  return new Promise((res, rej) => execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 << 20 }, (e, out, err) => (e ? rej(new Error(`${cmd} ${args.join(' ')}: ${err || e.message}\n${out.slice(-2000)}`)) : res(out + err))));
}

interface Mount { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }
interface Container { name: string; command: string[]; volumeMounts: Mount[]; env?: Array<{ name: string; valueFrom?: unknown }>; securityContext?: { privileged?: boolean } }
const yamlDocs = parseAllDocuments(readFileSync(join(REPO, 'deploy/daemonset.yaml'), 'utf8')).map((d) => d.toJS() as any);
const configMap = yamlDocs.find((d) => d.kind === 'ConfigMap');
const podSpec = yamlDocs.find((d) => d.kind === 'DaemonSet').spec.template.spec;
const volumes = new Map<string, any>(podSpec.volumes.map((v: any) => [v.name, v]));

/** Where a DaemonSet volume is on this host. */
function hostPathOf(volume: string): string {
  const v = volumes.get(volume);
  if (v.configMap) return host('configmap');
  const p: string = v.hostPath.path;
  if (p === '/var/run/netns') return p;
  if (p === '/run/vpp') return join(dir, 'vpp');
  if (p === DEFAULT_API_DIR) return API_DIR;
  return host(p);
}

/** `ctr run` arguments for a DaemonSet container: its mounts, host network, privileged. */
function runArgs(c: Container, name: string, extra: string[] = []): string[] {
  assert.ok(podSpec.hostNetwork, 'hostNetwork');
  assert.ok(c.securityContext?.privileged, `${c.name} privileged`);
  const mounts = c.volumeMounts.flatMap((m) => {
    const prop = m.mountPropagation === 'HostToContainer' ? ':rslave' : m.mountPropagation === 'Bidirectional' ? ':rshared' : '';
    return ['--mount', `type=bind,src=${hostPathOf(m.name)},dst=${m.mountPath},options=rbind:${m.readOnly ? 'ro' : 'rw'}${prop}`];
  });
  return ['run', '--net-host', '--privileged', '--cgroup', `${ctrd!.cgroupParent}/${name}`, ...mounts, ...extra, IMAGE, name, ...c.command];
}

/**
 * The agent container has the host's network, here this machine's own namespace: it must not link
 * VPP to it, route or masquerade there (test/system/cni-cluster.test.ts and test:vpp do that in
 * namespaces of their own). The ConfigMap's agent.yaml with hostLink none.
 */
function withoutHostLink(yaml: string): string {
  const out = yaml.replace(/^(\s*)hostLink: auto\b.*$/m, '$1hostLink: none');
  assert.match(out, /^\s*hostLink: none$/m, 'the ConfigMap sets hostLink');
  return out;
}

test.before(async () => {
  // The netns dir must be a shared mount for new pod netns to reach the agent (rslave); iproute2
  // makes it one the first time it adds a netns.
  const probe = `tsvpp-img-${rnd}`;
  await addNetns(probe);
  await deleteNetns(probe);
  for (const v of volumes.values()) if (v.hostPath && !['/var/run/netns'].includes(v.hostPath.path)) mkdirSync(hostPathOf(v.name), { recursive: true });
  mkdirSync(host('configmap'), { recursive: true });
  for (const [k, v] of Object.entries(configMap.data as Record<string, string>)) writeFileSync(join(host('configmap'), k), k === 'agent.yaml' ? withoutHostLink(v) : v);
  // No API server: the Node (its spec.podCIDR is the node's slice) and a CustomNetwork as manifests.
  mkdirSync(MANIFESTS);
  writeFileSync(join(MANIFESTS, 'node.yaml'), nodeManifest({ name: NODE_NAME, internalIp: '192.0.2.6', podCIDR: '10.1.6.0/24' }));
  writeFileSync(join(MANIFESTS, 'networks.yaml'), 'apiVersion: contivpp.io/v1\nkind: CustomNetwork\nmetadata: { name: l2net }\nspec: { type: L2 }\n');
  emu = await startVppEmulator({ socketPath: join(dir, 'vpp', 'api.sock'), registry: ApiRegistry.fromDir(API_DIR), runtimeDir: join(dir, 'vpp'), vhostNet: true /* the emulator makes its taps with /dev/net/tun */, kernelTaps: true });
});

test.after(async () => {
  for (const c of containers.reverse()) {
    await ctrd?.ctr(['tasks', 'kill', '--signal', 'SIGKILL', c]).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    await ctrd?.ctr(['tasks', 'delete', '--force', c]).catch(() => undefined);
    await ctrd?.ctr(['containers', 'delete', c]).catch(() => undefined);
  }
  await ctrd?.stop().catch(() => undefined);
  await emu?.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('scripts/build-image.sh builds an OCI image-layout tar that containerd imports', async () => {
  const out = await sh('bash', [join(REPO, 'scripts/build-image.sh'), '--out', IMAGE_TAR]);
  assert.match(out, `build-image: ${IMAGE} (node ${process.version}`);
  const listing = await sh('tar', ['-tf', IMAGE_TAR]);
  for (const f of ['oci-layout', 'index.json']) assert.ok(listing.split('\n').includes(f), f);
  ctrd = await Containerd.start({ cniConfDir: host('/etc/cni/net.d'), cniBinDir: host('/opt/cni/bin'), awaitNetwork: false });
  await ctrd.ctr(['images', 'import', IMAGE_TAR]);
  assert.match(await ctrd.ctr(['images', 'list', '--quiet']), IMAGE);
  // What the agent runs besides node with hostLink set: nft (its masquerade table) and sysctl.
  const name = `tsvpp-tools-${rnd}`;
  containers.push(name);
  const tools = await ctrd.ctr(['run', '--rm', IMAGE, name, '/bin/sh', '-c', 'nft --version && command -v sysctl']);
  containers.pop();
  assert.match(tools, /nftables v\d/);
  assert.match(tools, /sysctl/);
});

test('the DaemonSet\'s install-cni init container puts tsvpp-cni (the image\'s node and modules) and the conflist on the host', async () => {
  const init: Container = podSpec.initContainers.find((c: Container) => c.name === 'install-cni');
  const name = `tsvpp-install-${rnd}`;
  containers.push(name);
  await ctrd!.ctr(runArgs(init, name, ['--rm', '--env', `TSVPP_HOST_DIR=${host('/opt/tsvpp')}`]));
  containers.pop();
  const shimPath = join(host('/opt/cni/bin'), 'tsvpp-cni');
  const shim = readFileSync(shimPath, 'utf8');
  assert.match(shim, `exec '${host('/opt/tsvpp')}/node' '${host('/opt/tsvpp')}/cni/cni-main.cjs'`);
  // The agent's rendezvous file as the ConfigMap's agent.yaml puts it; this test's host has it
  // under its temp dir (as the conflist's socket, below), so the pods below take the fast path.
  assert.match(shim, `< '/run/tsvpp/cni.sock.tcp'`);
  writeFileSync(shimPath, shim.replace(`'/run/tsvpp/cni.sock.tcp'`, `'${join(host('/run/tsvpp'), 'cni.sock.tcp')}'`));
  // The host's Node settings do not reach it: a NODE_OPTIONS --require of a missing file would
  // make node exit at start.
  const versionOut = execFileSync(join(host('/opt/cni/bin'), 'tsvpp-cni'), {
    env: { PATH: process.env.PATH ?? '', CNI_COMMAND: 'VERSION', NODE_OPTIONS: '--require /nonexistent/tsvpp-hook.js', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
    input: '', encoding: 'utf8',
  });
  assert.match(versionOut, /"supportedVersions"/);
  // The node's paths in the conflist are this test's temp dirs; containerd also needs loopback.
  const conflistPath = join(host('/etc/cni/net.d'), '10-tsvpp.conflist');
  const conflist = JSON.parse(readFileSync(conflistPath, 'utf8'));
  assert.equal(conflist, JSON.parse(configMap.data['10-tsvpp.conflist']));
  Object.assign(conflist.plugins[0], { agentSocket: join(host('/run/tsvpp'), 'cni.sock'), agentStateDir: host('/var/lib/tsvpp') });
  writeFileSync(conflistPath, JSON.stringify(conflist));
  await sh('ln', ['-s', join(DEBIAN_CNI_DIR, 'loopback'), join(host('/opt/cni/bin'), 'loopback')]);
  await ctrd!.networkReady();
  const version = execFileSync(join(host('/opt/cni/bin'), 'tsvpp-cni'), { env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', timeout: 30_000 }).toString();
  assert.equal(JSON.parse(version), { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] }, 'runs on the host');
  assert.ok(existsSync(join(host('/opt/cni/bin'), 'host-local')));
});

test('the agent container (DaemonSet mounts, host network, privileged) serves pods created through CRI', async () => {
  const agent: Container = podSpec.containers.find((c: Container) => c.name === 'agent');
  const command = [...agent.command];
  command[command.length - 1] += ` --pod-manifests /etc/tsvpp-manifests --memif-devices 0`;
  const name = `tsvpp-agent-${rnd}`;
  const log = join(dir, 'agent.log');
  containers.push(name);
  assert.equal(agent.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  await ctrd!.ctr([...runArgs({ ...agent, command }, name, [
    '--detach', '--log-uri', `file://${log}`, '--env', `NODE_NAME=${NODE_NAME}`,
    '--mount', `type=bind,src=${MANIFESTS},dst=/etc/tsvpp-manifests,options=rbind:ro`,
  ])]);
  // The shim's rendezvous file: written once both listeners are up.
  const sock = join(host('/run/tsvpp'), 'cni.sock.tcp');
  const deadline = Date.now() + 60_000;
  while (!existsSync(sock)) {
    if (Date.now() > deadline) assert.unreachable(`the agent did not write ${sock}:\n${existsSync(log) ? readFileSync(log, 'utf8') : '(no log)'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(readFileSync(log, 'utf8'), new RegExp(`listening on /run/tsvpp/cni\\.sock and 127\\.0\\.0\\.1:\\d+ \\(node ${NODE_NAME}, pods 10\\.1\\.6\\.0/24`));

  let id: string;
  try {
    id = await ctrd!.cri.runPodSandbox({
      metadata: { name: 'image-pod', uid: `img-${rnd}`, namespace: 'default', attempt: 0 },
      annotations: { 'contivpp.io/custom-if': 'tap1/tap, veth1/veth/l2net' }, hostname: 'image-pod', log_directory: join(dir, 'logs'),
      linux: { cgroup_parent: ctrd!.cgroupParent },
    });
  } catch (e) { throw new Error(`RunPodSandbox: ${grpcDetails(e)}\nagent log:\n${readFileSync(log, 'utf8')}`); }
  const netns = await ctrd!.netnsOf(id);
  assert.ok(netns.startsWith('/var/run/netns/cni-'), netns);
  assert.equal((await listLinks(netns)).map((l) => l.ifname).sort(), ['eth0', 'lo', 'tap1', 'veth1']);
  const ip = (await ctrd!.cri.podSandboxStatus(id)).status.network?.ip;
  assert.is(ip, '10.1.6.2', 'the node\'s slice, its Node\'s spec.podCIDR');
  assert.ok((await listAddresses(netns)).find((a) => a.ifname === 'eth0')!.addr_info.some((a) => a.local === ip));
  // The ConfigMap's eth0Kind auto: a tap where this machine has /dev/vhost-net, else a veth.
  const eth0 = existsSync('/dev/vhost-net') ? 'tap' : 'af_packet';
  assert.equal([...emu!.state.interfaces.values()].filter((i) => i.tag.startsWith(`tsvpp:${id.slice(0, 40)}`)).map((i) => i.kind).sort(), [eth0, 'af_packet', 'tap'].sort());
  const rec = JSON.parse(readFileSync(join(host('/var/lib/tsvpp'), 'pods', `${id}.json`), 'utf8'));
  assert.equal(rec.metadataSources, { annotations: 'runtime' });

  await ctrd!.cri.stopPodSandbox(id);
  await ctrd!.cri.removePodSandbox(id);
  assert.not.ok(existsSync(netns));
  assert.equal([...emu!.state.interfaces.values()].filter((i) => i.tag.startsWith('tsvpp:')), []);
  assert.equal(readdirSync(join(host('/var/lib/tsvpp'), 'pods')), []);
  const hostLinks = (await listLinks()).map((l) => l.ifname);
  assert.not.ok(hostLinks.includes(vethHostName(id, 'veth1')) || hostLinks.includes(vethHostName(id, 'eth0')));
  assert.equal(await unlistedPoolLinks(host('/var/lib/tsvpp'), hostLinks, '/var/lib/tsvpp'), [], 'the pod\'s veths taken from the agent\'s pool');
  assert.match(readFileSync(log, 'utf8'), `DEL ${id}: removed`);
});

test('containerd stops with nothing left behind', async () => {
  for (const c of containers.splice(0)) {
    await ctrd!.ctr(['tasks', 'kill', '--signal', 'SIGTERM', c]);
    const stopped = new RegExp(`^${c}\\s+\\d+\\s+STOPPED`, 'm');
    for (let i = 0; i < 100 && !stopped.test(await ctrd!.ctr(['tasks', 'list'])); i++) await new Promise((r) => setTimeout(r, 100));
    await ctrd!.ctr(['tasks', 'delete', c]); // fails if the agent did not stop on SIGTERM
    await ctrd!.ctr(['containers', 'delete', c]);
  }
  const left = await ctrd!.stop();
  ctrd = undefined;
  assert.equal(left, { sandboxes: [], tasks: [], processes: [], mounts: [], netns: [], cgroups: [] });
});

test.run();
