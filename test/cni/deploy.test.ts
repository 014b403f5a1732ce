// The shipped manifests parse, agree with each other, and configure what the code expects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, mkdirSync, mkdtempSync, writeFileSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/cni/agent/config.js';
import { CHAINED_CONFLIST, chainConflist, tsvppPluginConf } from '../../src/cni/agent/chained-conflist.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { parsePodAnnotations, memifResourceCount, referencedNetworks } from '../../src/cni/annotations.js';
import { parseNetConf } from '../../src/cni/spec.cjs';
import { POD_ANNOTATIONS_CAPABILITY } from '../../src/cni/agent/pod-metadata.js';
import { importGraph } from './import-graph.js';
import { tsvppCniWrapper } from '../../perf/peers/containerd.js';
import { DEFAULT_API_DIR } from '../../src/vppapi/client/registry.js';

const here = dirname(fileURLToPath(import.meta.url));
const DEPLOY = resolve(here, '../../../deploy');
const docs = (f: string) => parseAllDocuments(readFileSync(join(DEPLOY, f), 'utf8')).map((d) => {
  assert.equal(d.errors, [], `${f}: ${d.errors[0]?.message}`);
  return d.toJS() as any;
});

test('conflist is a valid CNI 1.0.0 network configuration for tsvpp-cni', () => {
  const c = JSON.parse(readFileSync(join(DEPLOY, '10-tsvpp.conflist'), 'utf8'));
  assert.is(c.cniVersion, '1.0.0');
  assert.is(c.plugins.length, 1);
  const conf = parseNetConf(JSON.stringify({ cniVersion: c.cniVersion, name: c.name, ...c.plugins[0] }), 'ADD');
  assert.is(conf.type, 'tsvpp-cni');
  // Runtimes pass every pod annotation in runtimeConfig only to plugins that declare this.
  assert.equal(c.plugins[0].capabilities, { [POD_ANNOTATIONS_CAPABILITY]: true });
  const cm = docs('daemonset.yaml').find((d) => d.kind === 'ConfigMap');
  assert.equal(JSON.parse(cm.data['10-tsvpp.conflist']), c, 'ConfigMap conflist = deploy/10-tsvpp.conflist');
});

test('the init container copies every module tsvpp-cni loads to the host', () => {
  const ds = docs('daemonset.yaml').find((d) => d.kind === 'DaemonSet');
  const script: string = ds.spec.template.spec.initContainers.find((c: any) => c.name === 'install-cni').command.join('\n');
  const copied = /for f in ([^;]+); do cp \/opt\/tsvpp\/dist\/src\/cni\/\$f/.exec(script)?.[1]?.split(/\s+/).map((f) => `src/cni/${f}`).sort();
  assert.equal(copied, importGraph(resolve(here, '../../src/cni/cni-main.cjs')).local);
});

test('the init container writes the tsvpp-cni shim the harnesses and system tests run, for the agent of the ConfigMap', () => {
  const ds = docs('daemonset.yaml').find((d) => d.kind === 'DaemonSet');
  const cm = docs('daemonset.yaml').find((d) => d.kind === 'ConfigMap');
  const script: string = ds.spec.template.spec.initContainers.find((c: any) => c.name === 'install-cni').command.join('\n');
  const cmd = /node \/opt\/tsvpp\/dist\/src\/cli\/main\.js agent shim (.+?) > \/host\/opt\/cni\/bin\/tsvpp-cni\.new/s.exec(script)?.[1];
  assert.ok(cmd, 'the init container writes the shim with tsvpp agent shim');
  const args = cmd.replace(/\\\n\s*/g, '').split(/\s+/).map((a) => a.replace(/^"|"$/g, ''));
  assert.equal(args, ['--config', '/etc/tsvpp-config/agent.yaml', '--node', '$HOST_DIR/node', '--cni-main', '$HOST_DIR/cni/cni-main.cjs']);
  // Run it as the init container does, with the ConfigMap's agent.yaml and this checkout's node.
  const tmp = mkdtempSync(join(tmpdir(), 'tsvpp-deploy-shim-'));
  try {
    writeFileSync(join(tmp, 'agent.yaml'), cm.data['agent.yaml']);
    const shim = execFileSync(process.execPath, [resolve(here, '../../src/cli/main.js'), 'agent', 'shim', '--config', join(tmp, 'agent.yaml'), '--node', process.execPath, '--cni-main', '/x/cni-main.cjs'], { encoding: 'utf8' });
    const cniSocket = (parseYaml(cm.data['agent.yaml']) as { cniSocket?: string }).cniSocket ?? '/run/tsvpp/cni.sock';
    assert.is(shim, tsvppCniWrapper('/x/cni-main.cjs', cniSocket));
    assert.match(shim, `< '${cniSocket}.tcp'`);
    assert.match(shim, /unset NODE_OPTIONS NODE_EXTRA_CA_CERTS; exec /);
  } finally { rmSync(tmp, { recursive: true, force: true }); }
});

test('DaemonSet: host network, privileged, the host mounts the agent needs', () => {
  const ds = docs('daemonset.yaml').find((d) => d.kind === 'DaemonSet');
  const spec = ds.spec.template.spec;
  assert.ok(spec.hostNetwork);
  const agent = spec.containers.find((c: any) => c.name === 'agent');
  assert.ok(agent.securityContext.privileged);
  const mounts = agent.volumeMounts.map((m: any) => m.mountPath);
  for (const p of ['/var/run/netns', '/run/containerd/io.containerd.grpc.v1.cri/netns', '/run/vpp', DEFAULT_API_DIR, '/var/lib/kubelet/device-plugins', '/var/lib/kubelet/pod-resources', '/etc/cni/net.d', '/opt/cni/bin', '/run/tsvpp', '/var/lib/tsvpp']) {
    assert.ok(mounts.includes(p), `mount ${p}`);
  }
  const hostPaths = new Map(spec.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath.path]));
  for (const m of agent.volumeMounts) if (hostPaths.has(m.name)) assert.is(hostPaths.get(m.name), m.mountPath, m.name);
  assert.is(spec.serviceAccountName, 'tsvpp-agent');
  // tsvpp:latest is loaded on each node, not in a registry: the :latest default (Always) would pull.
  for (const c of [...spec.initContainers, ...spec.containers]) assert.is(c.imagePullPolicy, 'IfNotPresent', c.name);
});

test('DaemonSet: the agent is told its Node name by the downward API; no hand-written node id anywhere in deploy/', () => {
  const agent = docs('daemonset.yaml').find((d) => d.kind === 'DaemonSet').spec.template.spec.containers.find((c: any) => c.name === 'agent');
  const env = agent.env.find((e: any) => e.name === 'NODE_NAME');
  assert.equal(env.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  assert.match(agent.command.join(' '), /--node-name "\$NODE_NAME"/);
  for (const f of readdirSync(DEPLOY)) {
    const text = readFileSync(join(DEPLOY, f), 'utf8');
    assert.not.match(text, /node-id|nodeId|\/etc\/tsvpp\/|echo \d+ >/, `${f} still mentions a node id`);
  }
});

test('agent config in the ConfigMap validates', async () => {
  const cm = docs('daemonset.yaml').find((d) => d.kind === 'ConfigMap');
  const d = mkdtempSync(join(tmpdir(), 'tsvpp-deploy-'));
  try {
    writeFileSync(join(d, 'agent.yaml'), cm.data['agent.yaml']);
    const { config } = await loadConfig(['--config', join(d, 'agent.yaml'), '--node-name', 'worker-1']);
    assert.is(config.nodeName, 'worker-1');
    assert.is(config.leaseNamespace, 'kube-system');
    const plugin = JSON.parse(cm.data['10-tsvpp.conflist']).plugins[0];
    assert.is(config.cniSocket, plugin.agentSocket);
    assert.is(config.stateDir, plugin.agentStateDir, 'tsvpp-cni records DELs where the agent looks');
    assert.equal(plugin, tsvppPluginConf(config), 'chained mode appends the same tsvpp-cni entry');
    assert.is(config.chainedCniConfDir, undefined, 'tsvpp is the primary CNI by default');
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test('chained mode: the ConfigMap\'s switch validates; the init container installs 10-tsvpp.conflist only without it; the example is what the agent writes beside a bridge', async () => {
  const cm = docs('daemonset.yaml').find((d) => d.kind === 'ConfigMap');
  const chainedYaml = cm.data['agent.yaml'].replace(/^# (chainedCniConfDir: .*)$/m, '$1');
  assert.is.not(chainedYaml, cm.data['agent.yaml'], 'agent.yaml has the switch, commented out');
  const d = mkdtempSync(join(tmpdir(), 'tsvpp-deploy-'));
  try {
    writeFileSync(join(d, 'chained.yaml'), chainedYaml);
    const { config } = await loadConfig(['--config', join(d, 'chained.yaml'), '--node-name', 'worker-1']);
    assert.is(config.chainedCniConfDir, '/etc/cni/net.d');
    const agent = docs('daemonset.yaml').find((x) => x.kind === 'DaemonSet').spec.template.spec.containers.find((c: any) => c.name === 'agent');
    assert.ok(agent.volumeMounts.some((m: any) => m.mountPath === config.chainedCniConfDir && !m.readOnly), 'the agent can write the CNI config dir');
    // The init container's conflist step, run by sh on temp dirs in both modes.
    const ds = docs('daemonset.yaml').find((x) => x.kind === 'DaemonSet');
    const script: string = ds.spec.template.spec.initContainers.find((c: any) => c.name === 'install-cni').command.at(-1);
    const step = /^ *if grep -q '\^chainedCniConfDir:'[\s\S]*?^ *fi$/m.exec(script)?.[0];
    assert.ok(step, 'the init script switches on chainedCniConfDir');
    for (const [yaml, want] of [[cm.data['agent.yaml'], ['10-tsvpp.conflist', '50-other.conflist']], [chainedYaml, [CHAINED_CONFLIST, '50-other.conflist']]] as Array<[string, string[]]>) {
      const cfg = join(d, 'config'), netd = join(d, 'net.d');
      rmSync(cfg, { recursive: true, force: true }); rmSync(netd, { recursive: true, force: true });
      mkdirSync(cfg); mkdirSync(netd);
      writeFileSync(join(cfg, 'agent.yaml'), yaml);
      writeFileSync(join(cfg, '10-tsvpp.conflist'), cm.data['10-tsvpp.conflist']);
      // Primary mode replaces its conflist and removes a chained one left from chained mode; chained
      // mode removes tsvpp's primary conflist and leaves the chained one to the agent (it rewrites it).
      for (const f of ['10-tsvpp.conflist', CHAINED_CONFLIST, '50-other.conflist']) writeFileSync(join(netd, f), '{"stale": true}');
      execFileSync('sh', ['-ec', step!.replaceAll('/host/etc/cni/net.d', netd).replaceAll('/etc/tsvpp-config', cfg)]);
      assert.equal(readdirSync(netd).sort(), want);
      if (want.includes('10-tsvpp.conflist')) assert.is(readFileSync(join(netd, '10-tsvpp.conflist'), 'utf8'), cm.data['10-tsvpp.conflist']);
      assert.is(readFileSync(join(netd, '50-other.conflist'), 'utf8'), '{"stale": true}', 'other CNIs\' files are left alone');
    }
    // deploy/'s example: a bridge conflist with tsvpp-cni appended as the agent does it.
    const example = JSON.parse(readFileSync(join(DEPLOY, '00-tsvpp-chained.conflist.example'), 'utf8'));
    const primary = { ...example, plugins: example.plugins.slice(0, -1) };
    assert.equal(chainConflist(JSON.stringify(primary), 'bridge.conflist', tsvppPluginConf(config)), example);
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test('RBAC reads pods and customnetworks, lists and watches Services and EndpointSlices (the service proxy); CRD matches the group/version/plural the agent queries', () => {
  const rbac = docs('rbac.yaml');
  const role = rbac.find((d) => d.kind === 'ClusterRole');
  assert.ok(role.rules.some((r: any) => r.resources.includes('pods') && r.verbs.includes('get')));
  assert.ok(role.rules.some((r: any) => r.apiGroups.includes('contivpp.io') && r.resources.includes('customnetworks') && r.verbs.includes('list')));
  // Node identity: Nodes read and watched (no writes); slice Leases only in the agent's namespace.
  const rules = (r: any) => r.rules.map((x: any) => ({ groups: x.apiGroups, resources: x.resources, verbs: [...x.verbs].sort() }));
  assert.equal(rules(role).filter((x: any) => x.resources.includes('nodes')), [{ groups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
  assert.not.ok(role.rules.some((r: any) => r.resources.includes('leases')), 'no cluster-wide Lease rights');
  const slices = rbac.find((d) => d.kind === 'Role');
  const cm = docs('daemonset.yaml').find((d) => d.kind === 'ConfigMap');
  assert.is(slices.metadata.namespace, parseYaml(cm.data['agent.yaml']).leaseNamespace);
  assert.equal(rules(slices), [{ groups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'delete', 'get', 'list', 'watch'] }]);
  const binding = rbac.find((d) => d.kind === 'RoleBinding');
  assert.equal([binding.roleRef.name, binding.metadata.namespace, binding.subjects[0].name], [slices.metadata.name, slices.metadata.namespace, 'tsvpp-agent']);
  for (const [group, res] of [['', 'services'], ['discovery.k8s.io', 'endpointslices']] as const) {
    assert.ok(role.rules.some((r: any) => r.apiGroups.includes(group) && r.resources.includes(res) && r.verbs.includes('list') && r.verbs.includes('watch')), `${res}: list and watch`);
  }
  const crd = docs('crd-customnetwork.yaml')[0];
  assert.is(crd.metadata.name, 'customnetworks.contivpp.io');
  assert.is(crd.spec.names.plural, 'customnetworks');
  assert.is(crd.spec.versions[0].name, 'v1');
  assert.equal(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.type.enum, ['L2', 'L3']);
});

test('example workloads parse and their annotations are valid', async () => {
  const d = mkdtempSync(join(tmpdir(), 'tsvpp-deploy-'));
  try {
    copyFileSync(join(DEPLOY, 'examples.yaml'), join(d, 'examples.yaml'));
    const src = new ManifestPodSource(d);
    for (const name of ['multi-if-pod', 'vnf-pod']) {
      const p = await src.getPod('default', name);
      const nets = new Set<string>();
      for (const n of referencedNetworks(p.annotations['contivpp.io/custom-if'] ?? '')) if (await src.getCustomNetwork(n)) nets.add(n);
      parsePodAnnotations(p.annotations, memifResourceCount(p.containerLimits), { knownNetworks: nets });
    }
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test.run();
