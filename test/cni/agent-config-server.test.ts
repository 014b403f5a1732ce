import { test } from 'uvu';
import { shippedApiDir } from '../../src/vppapi/client/index.js';
import * as assert from 'uvu/assert';
import { createConnection } from 'node:net';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, loadConfig, parseFlags, resolveEth0Kind } from '../../src/cni/agent/config.js';
import { startCniServer } from '../../src/cni/agent/server.js';
import { CniError } from '../../src/cni/spec.cjs';
import { AGENT_PROTOCOL_VERSION, encodeLine } from '../../src/cni/agent-protocol.cjs';
import { nodeManifest } from '../../src/testing/node-manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-agent-unit-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function cfgErr(argv: string[]): Promise<string> {
  try { await loadConfig(argv); } catch (e) { assert.instance(e, ConfigError); return (e as Error).message; }
  assert.unreachable('expected ConfigError'); return '';
}

test('config: file, then flags; node name and address', async () => {
  const f = join(dir, 'agent.yaml');
  writeFileSync(f, 'podSubnet: 10.2.0.0/16\nnodeName: node-a\neth0Kind: veth-afpacket\n');
  const { config, rest } = await loadConfig(['--config', f, '--node-name=node-b', '--node-ip', '192.0.2.7', '--max-custom-interfaces', '3', 'extra']);
  assert.is(config.podSubnet, '10.2.0.0/16');
  assert.is(config.nodeName, 'node-b');
  assert.is(config.nodeIp, '192.0.2.7');
  assert.is(config.leaseNamespace, 'kube-system');
  assert.is(config.maxCustomInterfaces, 3);
  assert.is(config.eth0Kind, 'veth-afpacket');
  assert.equal(rest, ['extra']);
});

test('config: an old nodeId (file or flag) is refused, saying where the slice comes from now', async () => {
  const f = join(dir, 'old.yaml');
  writeFileSync(f, 'podSubnet: 10.2.0.0/16\nnodeId: 5\n');
  const fromFile = await cfgErr(['--config', f]);
  assert.match(fromFile, /config file .*old\.yaml: nodeId: node ids are no longer set by hand: the node's pod slice is its Node's spec\.podCIDR/);
  assert.match(fromFile, /keeps its slice \(the state dir remembers it\)/);
  assert.match(await cfgErr(['--node-id', '3']), /flag --node-id: node ids are no longer set by hand/);
});

test('config errors name the field and value', async () => {
  assert.match(await cfgErr(['--pod-subnet', '10.1.0.1/16']), /config podSubnet="10.1.0.1\/16": .*host bits set/);
  assert.match(await cfgErr(['--node-name', 'Node_A']), /config nodeName="Node_A": must be a Kubernetes node name/);
  assert.match(await cfgErr(['--node-ip', '10.0.0.300']), /config nodeIp="10.0.0.300": "10.0.0.300" is not an IPv4 address/);
  assert.match(await cfgErr(['--lease-namespace', 'Kube System']), /config leaseNamespace="Kube System": must be a Kubernetes namespace name/);
  assert.match(await cfgErr(['--eth0-kind', 'vhost']), /config eth0Kind="vhost": must be "auto", "tap" or "veth-afpacket"/);
  assert.match(await cfgErr(['--chained-cni-conf-dir', 'net.d']), /config chainedCniConfDir="net.d": must be an absolute directory/);
  assert.is((await loadConfig(['--chained-cni-conf-dir', '/etc/cni/net.d'])).config.chainedCniConfDir, '/etc/cni/net.d');
  assert.match(await cfgErr(['--node-interconnect', 'bgp']), /config nodeInterconnect="bgp": must be "host-gw" or "vxlan"/);
  assert.is((await loadConfig([])).config.nodeInterconnect, 'host-gw');
  assert.is((await loadConfig(['--node-interconnect', 'vxlan'])).config.nodeInterconnect, 'vxlan');
  assert.match(await cfgErr(['--frob']), /unknown flag --frob/);
  assert.match(await cfgErr(['--pod-manifests', '/a', '--kubeconfig', '/b']), /either podManifests or kubeconfig/);
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'podSubnett: 10.1.0.0/16\n');
  assert.match(await cfgErr(['--config', f]), /unknown field "podSubnett"/);
  assert.throws(() => parseFlags(['--state-dir']), /needs a value/);
});

test('eth0Kind: auto by default; tap where /dev/vhost-net exists, veth + af_packet otherwise; an explicit tap without it is refused naming it', () => {
  assert.is(DEFAULT_CONFIG.eth0Kind, 'auto');
  assert.is(resolveEth0Kind('auto', true).wiring, 'tap');
  const noVhost = resolveEth0Kind('auto', false);
  assert.is(noVhost.wiring, 'veth-afpacket');
  assert.match(noVhost.why, /\/dev\/vhost-net is missing/);
  assert.is(resolveEth0Kind('tap', true).wiring, 'tap');
  assert.is(resolveEth0Kind('veth-afpacket', true).wiring, 'veth-afpacket');
  assert.is(resolveEth0Kind('veth-afpacket', false).wiring, 'veth-afpacket');
  assert.throws(() => resolveEth0Kind('tap', false), (e: Error) => e instanceof ConfigError
    && /config eth0Kind="tap": VPP's tap v2 needs \/dev\/vhost-net, which this node does not have/.test(e.message) && /"veth-afpacket"/.test(e.message));
});

function talk(sock: string, payload: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock);
    let buf = '';
    c.on('data', (d) => { buf += d; });
    c.on('end', () => { try { resolve(JSON.parse(buf)); } catch (e) { reject(e); } });
    c.on('error', reject);
    c.write(payload);
  });
}

test('CNI socket: mode 0600, one request per connection, errors as CNI error objects', async () => {
  const sock = join(dir, 'run', 'cni.sock');
  const server = await startCniServer({
    socketPath: sock,
    allowedUid: process.getuid!(), // root in CI; any user under `npm run test:unit`
    handler: async (req) => {
      if (req.containerId === 'cni-err') throw new CniError(105, 'attachment exists already', 'c1 has eth0');
      if (req.containerId === 'crash') throw new TypeError('boom');
      return req.command === 'ADD' ? { cniVersion: '1.0.0', interfaces: [{ name: req.ifName }] } : undefined;
    },
  });
  try {
    assert.is(statSync(sock).mode & 0o777, 0o600);
    const base = { v: AGENT_PROTOCOL_VERSION, ifName: 'eth0', args: {}, config: { cniVersion: '1.0.0', name: 'n', type: 't' } } as const;
    assert.equal(await talk(sock, encodeLine({ ...base, command: 'ADD', containerId: 'ok' })), { ok: true, result: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] } });
    assert.equal(await talk(sock, encodeLine({ ...base, command: 'DEL', containerId: 'ok' })), { ok: true });
    assert.equal(await talk(sock, encodeLine({ ...base, command: 'ADD', containerId: 'cni-err' })), { ok: false, error: { code: 105, msg: 'attachment exists already', details: 'c1 has eth0' } });
    const crash = await talk(sock, encodeLine({ ...base, command: 'ADD', containerId: 'crash' }));
    assert.is(crash.error.code, 199);
    assert.match(crash.error.details, /boom/);
    assert.is((await talk(sock, '{"v":2}\n')).error.code, 6);
    assert.is((await talk(sock, 'not json\n')).error.code, 6);
  } finally { server.close(); }
});


test('config: memif device plugin and etcd flags', async () => {
  const { config } = await loadConfig(['--memif-devices', '8', '--device-plugin-dir', '/x/dp', '--pod-resources-socket', '/x/pr.sock', '--etcd', 'http://127.0.0.1:2379,http://127.0.0.2:2379']);
  assert.is(config.memifDevices, 8);
  assert.is(config.devicePluginDir, '/x/dp');
  assert.is(config.podResourcesSocket, '/x/pr.sock');
  assert.equal(config.etcdEndpoints, ['http://127.0.0.1:2379', 'http://127.0.0.2:2379']);
  assert.match(await cfgErr(['--etcd', 'localhost:2379']), /config etcdEndpoints=\["localhost:2379"\]: must be a list of http:\/\/host:port URLs/);
  assert.match(await cfgErr(['--memif-devices', '-1']), /flag --memif-devices: "-1" is not a whole number/);
});

test('agent with --memif-devices registers the device plugin with kubelet and unregisters on close', async () => {
  const { startAgent } = await import('../../src/cni/agent/agent.js');
  const { KubeletStandin } = await import('../../src/testing/kubelet-standin.js');
  const { FakeVswitch, FakeIpam, FakeLinux } = await import('./fakes.js');
  const { ManifestPodSource } = await import('../../src/cni/pods/manifests.js');
  const { mkdirSync, existsSync } = await import('node:fs');
  const base = mkdtempSync(join(dir, 'dp-'));
  const dpDir = join(base, 'device-plugins');
  mkdirSync(dpDir);
  mkdirSync(join(base, 'manifests'));
  writeFileSync(join(base, 'manifests', 'node.yaml'), nodeManifest({ name: DEFAULT_CONFIG.nodeName, internalIp: '192.0.2.1' }));
  const kubelet = new KubeletStandin(dpDir, join(base, 'pr.sock'));
  await kubelet.start();
  const { config } = await loadConfig([
    '--state-dir', join(base, 'state'), '--memif-socket-dir', join(base, 'memif'), '--cni-socket', join(base, 'cni.sock'),
    '--pod-manifests', join(base, 'manifests'), '--memif-devices', '3', '--device-plugin-dir', dpDir, '--pod-resources-socket', join(base, 'pr.sock'),
  ]);
  const agent = await startAgent(config, { vswitch: new FakeVswitch(), ipam: new FakeIpam(), linux: new FakeLinux(), pods: new ManifestPodSource(join(base, 'manifests')), log: () => {} });
  try {
    const deadline = Date.now() + 5000;
    while (kubelet.registrations.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.is(kubelet.registrations.length, 1);
    assert.is((kubelet.registrations[0] as { resource_name?: string; resourceName?: string }).resource_name ?? (kubelet.registrations[0] as { resourceName?: string }).resourceName, 'contivpp.io/memif');
    assert.ok(existsSync(join(dpDir, 'tsvpp-memif.sock')), 'the plugin serves its socket in the device-plugins dir');
  } finally {
    await agent.close();
    await kubelet.stop(true);
  }
});

test('startAgent: eth0Kind is decided before anything starts, and logged; an explicit tap without /dev/vhost-net stops it', async () => {
  const { startAgent } = await import('../../src/cni/agent/agent.js');
  const { FakeVswitch, FakeIpam, FakeLinux } = await import('./fakes.js');
  const { ManifestPodSource } = await import('../../src/cni/pods/manifests.js');
  const { mkdirSync, existsSync } = await import('node:fs');
  const base = mkdtempSync(join(dir, 'eth0-'));
  mkdirSync(join(base, 'manifests'));
  writeFileSync(join(base, 'manifests', 'node.yaml'), nodeManifest({ name: DEFAULT_CONFIG.nodeName, internalIp: '192.0.2.1' }));
  const { config } = await loadConfig(['--state-dir', join(base, 'state'), '--cni-socket', join(base, 'cni.sock'), '--pod-manifests', join(base, 'manifests')]);
  const deps = (log: string[], vhostNet: boolean) => ({ vswitch: new FakeVswitch(), ipam: new FakeIpam(), linux: new FakeLinux(), pods: new ManifestPodSource(join(base, 'manifests')), log: (m: string) => log.push(m), vhostNet });
  const refused = await startAgent({ ...config, eth0Kind: 'tap' }, deps([], false)).then(() => null, (e: Error) => e);
  assert.instance(refused, ConfigError);
  assert.match(refused!.message, /eth0Kind="tap": VPP's tap v2 needs \/dev\/vhost-net/);
  assert.not.ok(existsSync(join(base, 'cni.sock')), 'nothing was started');
  for (const [vhostNet, wiring] of [[false, 'veth-afpacket'], [true, 'tap']] as const) {
    const log: string[] = [];
    const agent = await startAgent(config, deps(log, vhostNet));
    try {
      assert.is(agent.config.eth0Kind, wiring);
      assert.ok(log.some((l) => l.startsWith(`eth0: ${wiring} (eth0Kind auto: /dev/vhost-net `)), log.join('\n'));
    } finally { await agent.close(); }
  }
});

test('startAgent on a VPP without the cnat plugin: services: vpp stops at start naming the plugin and services: off; with services: off it starts; chained mode starts with services: vpp (Services are the primary CNI\'s)', async () => {
  const { startAgent } = await import('../../src/cni/agent/agent.js');
  const { VppVswitch } = await import('../../src/cni/agent/vpp-vswitch.js');
  const { startVppEmulator } = await import('../../src/testing/vpp-emulator/index.js');
  const { VppClient } = await import('../../src/vppapi/client/index.js');
  const { FakeIpam, FakeLinux } = await import('./fakes.js');
  const { ManifestPodSource } = await import('../../src/cni/pods/manifests.js');
  const { mkdirSync, existsSync, readFileSync } = await import('node:fs');
  const base = mkdtempSync(join(dir, 'nocnat-'));
  mkdirSync(join(base, 'manifests'));
  writeFileSync(join(base, 'manifests', 'node.yaml'), nodeManifest({ name: DEFAULT_CONFIG.nodeName, internalIp: '192.0.2.1' }));
  const cnat = JSON.parse(readFileSync(join(shippedApiDir(), 'cnat.api.json'), 'utf8')).messages.map((m: unknown[]) => m[0] as string);
  const emu = await startVppEmulator({ socketPath: join(base, 'api.sock'), runtimeDir: join(base, 'run'), table: { omit: cnat } });
  const client = await VppClient.connect({ socket: join(base, 'api.sock'), registry: emu.registry, reconnect: false });
  try {
    const { config } = await loadConfig(['--state-dir', join(base, 'state'), '--cni-socket', join(base, 'cni.sock'), '--pod-manifests', join(base, 'manifests'), '--eth0-kind', 'veth-afpacket']);
    const deps = { vswitch: new VppVswitch(client), ipam: new FakeIpam(), linux: new FakeLinux(), pods: new ManifestPodSource(join(base, 'manifests')), log: () => {} };
    const refused = await startAgent(config, deps).then(() => null, (e: Error) => e);
    assert.instance(refused, Error);
    assert.match(refused!.message, /services: VPP's service NAT \(the cnat plugin\) is not usable: .*cnat_set_snat_addresses_v2.*\(load cnat_plugin\.so in VPP, or set services: off\)/);
    assert.not.ok(existsSync(join(base, 'cni.sock')), 'nothing was started');
    const agent = await startAgent({ ...config, services: 'off' }, deps);
    assert.is(agent.services, undefined);
    await agent.close();
    // Chained mode leaves Services to the primary CNI whatever services says: it starts on this VPP
    // (any cnat message would fail), never reads a Service source, and says why.
    mkdirSync(join(base, 'net.d'));
    let read = 0;
    const serviceSource = { snapshot: () => { read++; return { services: [], slices: [] }; }, onChange: () => { read++; }, close: async () => {} };
    const log: string[] = [];
    const chained = await startAgent({ ...config, services: 'vpp', chainedCniConfDir: join(base, 'net.d') }, { ...deps, serviceSource, log: (m: string) => log.push(m) });
    try {
      assert.is(chained.services, undefined);
      assert.is(read, 0, 'the Service source is never read');
      assert.ok(log.some((l) => l.includes('services off (chained)')), log.join('\n'));
    } finally { await chained.close(); }
  } finally {
    await client.close();
    await emu.close();
  }
});

test('VppVswitch.deleteLegacyNatMapping: the NAT44-ED mapping an older agent made is deleted; with the plugin disabled or not loaded there is none (notFound)', async () => {
  const { VppVswitch } = await import('../../src/cni/agent/vpp-vswitch.js');
  const { VswitchError } = await import('../../src/cni/agent/vswitch.js');
  const { startVppEmulator } = await import('../../src/testing/vpp-emulator/index.js');
  const { VppClient } = await import('../../src/vppapi/client/index.js');
  const { readFileSync } = await import('node:fs');
  const m = { localIp: '10.1.1.3', externalIp: '10.1.1.2', vrfId: 0 };
  const notFound = async (vs: InstanceType<typeof VppVswitch>) => {
    const e = await vs.deleteLegacyNatMapping(m).then(() => null, (x: Error) => x);
    assert.instance(e, VswitchError);
    assert.ok((e as InstanceType<typeof VswitchError>).notFound, e!.message);
  };
  const nat = JSON.parse(readFileSync(join(shippedApiDir(), 'nat44_ed.api.json'), 'utf8')).messages.map((x: unknown[]) => x[0] as string);
  for (const omit of [[], nat]) {
    const base = mkdtempSync(join(dir, 'nat-'));
    const emu = await startVppEmulator({ socketPath: join(base, 'api.sock'), runtimeDir: join(base, 'run'), table: { omit } });
    const client = await VppClient.connect({ socket: join(base, 'api.sock'), registry: emu.registry, reconnect: false });
    try {
      const vs = new VppVswitch(client);
      if (omit.length === 0) {
        await notFound(vs); // plugin disabled
        // As the older agent made it.
        await client.request('nat44_ed_plugin_enable_disable', { enable: true, inside_vrf: 0, outside_vrf: 0, sessions: 0, session_memory: 0, flags: 0 });
        await client.request('nat44_add_del_static_mapping_v2', {
          is_add: true, match_pool: false, flags: 8, pool_ip_address: new Uint8Array(4), local_ip_address: Uint8Array.from([10, 1, 1, 3]),
          external_ip_address: Uint8Array.from([10, 1, 1, 2]), protocol: 0, local_port: 0, external_port: 0, external_sw_if_index: 0xffffffff, vrf_id: 0, tag: 'tsvpp',
        });
        assert.is(emu.state.nat.staticMappings.size, 1);
        await vs.deleteLegacyNatMapping(m);
        assert.is(emu.state.nat.staticMappings.size, 0);
      }
      await notFound(vs); // gone now, or no plugin at all
    } finally {
      await client.close();
      await emu.close();
    }
  }
});

test.run();
