// Leases a node crash left without a pod record: the agent releases them when it starts, through
// the real host-local (containernetworking-plugins) in the agent's own dataDir; VPP and Linux are
// the in-memory doubles. Pod records are written without fsync until ADD answers, and host-local
// does not fsync its lease files either, so after a crash the disk may hold a lease and no record,
// an older record without the lease, or a lease file that names nobody.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { HostLocalIpam, type IpamRange } from '../../src/cni/ipam.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { callAgent } from '../../src/cni/cni-main.cjs';
import { AGENT_PROTOCOL_VERSION, type AgentRequest } from '../../src/cni/agent-protocol.cjs';
import type { PodRecord } from '../../src/cni/agent/state.js';
import { FakeLinux, FakeVswitch } from '../cni/fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-lease-sweep-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const SLICE = '10.1.1.0/24';
const DEFAULT_RANGE: IpamRange = { network: 'default', subnet: SLICE, rangeStart: '10.1.1.2', rangeEnd: '10.1.1.254', gateway: '10.1.1.1' };

function world() {
  const base = mkdtempSync(join(dir, 'w-'));
  mkdirSync(join(base, 'manifests'));
  writeFileSync(join(base, 'manifests', 'pods.yaml'), [
    'apiVersion: contivpp.io/v1\nkind: CustomNetwork\nmetadata: {name: l3net}\nspec: {type: L3, subnetCIDR: 10.99.0.0/16, subnetOneNodePrefixLen: 24}',
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  annotations:\n    contivpp.io/custom-if: veth1/veth, veth2/veth/l3net\nspec:\n  containers: [{name: c, image: x}]',
  ].join('\n---\n') + '\n');
  const config: AgentConfig = { ...DEFAULT_CONFIG, stateDir: join(base, 'state'), memifSocketDir: join(base, 'memif'), cniSocket: join(base, 'cni.sock'), podManifests: join(base, 'manifests'), nodeName: 'node-sweep' };
  writeFileSync(join(base, 'manifests', 'node.yaml'), nodeManifest({ name: config.nodeName, internalIp: '192.0.2.1', podCIDR: SLICE }));
  const linux = new FakeLinux();
  for (const ns of ['ns1', 'ns2']) linux.addNs(ns);
  const vswitch = new FakeVswitch(linux);
  const dataDir = join(config.stateDir, 'ipam');
  const log: string[] = [];
  const boot = async () => startAgent(config, { vswitch, linux, ipam: await HostLocalIpam.create(dataDir), pods: new ManifestPodSource(config.podManifests!), log: (m) => log.push(m) });
  return { config, linux, vswitch, dataDir, log, boot };
}

const request = (command: 'ADD' | 'DEL' | 'CHECK', containerId: string, netns?: string): AgentRequest => ({
  v: AGENT_PROTOCOL_VERSION, command, containerId, ifName: 'eth0', ...(netns ? { netns } : {}),
  args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p1', K8S_POD_UID: `u-${containerId}`, K8S_POD_INFRA_CONTAINER_ID: containerId },
  config: { cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni' },
});

/** host-local's lease files in one network: address -> "container/ifName". */
function leaseFiles(dataDir: string, network: string): Record<string, string> {
  const d = join(dataDir, `tsvpp-${network}`);
  const out: Record<string, string> = {};
  for (const n of readdirSync(d)) {
    if (n === 'lock' || n.startsWith('last_reserved_ip')) continue;
    out[n] = readFileSync(join(d, n), 'utf8').split('\r\n').join('/');
  }
  return out;
}

test('at start: leases with no pod record are released (also one an older record version lacks, and a file naming nobody); a recorded pod keeps its own; later DELs still work', async () => {
  const w = world();
  let agent: Agent | undefined = await w.boot();
  try {
    const add = await callAgent(w.config.cniSocket, request('ADD', 'kept', 'ns1'), 10_000);
    assert.ok(add.ok, JSON.stringify(add));
    const keptDefault = leaseFiles(w.dataDir, 'default'), keptL3 = leaseFiles(w.dataDir, 'l3net');
    assert.equal(Object.values(keptDefault).sort(), ['kept/eth0', 'kept/veth1']);
    assert.equal(Object.values(keptL3), ['kept/veth2']);
    await agent.close(); agent = undefined;

    // The node crashed during two ADDs. "lost": host-local's leases reached the disk, the record did
    // not. "torn": the record's first version (no leases yet) did, with the leases of its eth0 and
    // of its L3 interface. And a lease file host-local created whose content never reached the disk.
    const ipam = await HostLocalIpam.create(w.dataDir);
    const l3Range: IpamRange = { network: 'l3net', subnet: '10.99.1.0/24', rangeStart: '10.99.1.2', rangeEnd: '10.99.1.254', gateway: '10.99.1.1' };
    const lost = await ipam.allocate(DEFAULT_RANGE, { containerId: 'lost', ifName: 'eth0' });
    const tornEth0 = await ipam.allocate(DEFAULT_RANGE, { containerId: 'torn', ifName: 'eth0' });
    const tornL3 = await ipam.allocate(l3Range, { containerId: 'torn', ifName: 'veth2' });
    const torn: PodRecord = { containerId: 'torn', ifName: 'eth0', netns: 'ns2', phase: 'adding', resources: [], interfaces: [], createdAt: new Date().toISOString() };
    writeFileSync(join(w.config.stateDir, 'pods', 'torn.json'), JSON.stringify(torn));
    writeFileSync(join(w.dataDir, 'tsvpp-default', '10.1.1.200'), '');
    // Not tsvpp's: another directory in the dataDir, and a tsvpp network the node state does not know.
    for (const [net, addr] of [['other-net', '10.7.0.5'], ['tsvpp-unknown', '10.8.0.5']] as const) {
      mkdirSync(join(w.dataDir, net), { recursive: true });
      writeFileSync(join(w.dataDir, net, addr), 'stranger\r\neth0');
    }

    agent = await w.boot();
    // Done by the time startAgent returns, before the socket serves anything.
    assert.equal(leaseFiles(w.dataDir, 'default'), keptDefault, 'only the recorded pod\'s leases are left in the default network');
    assert.equal(leaseFiles(w.dataDir, 'l3net'), keptL3);
    assert.is(readFileSync(join(w.dataDir, 'other-net', '10.7.0.5'), 'utf8'), 'stranger\r\neth0', 'another network\'s directory is left alone');
    assert.is(readFileSync(join(w.dataDir, 'tsvpp-unknown', '10.8.0.5'), 'utf8'), 'stranger\r\neth0', 'a network the node does not know is left alone');
    assert.equal((await agent.store.listPods()).map((r) => r.containerId), ['kept'], 'the torn ADD was rolled back');
    const line = w.log.find((l) => l.startsWith('reconcile (agent start): '));
    assert.ok(line, w.log.join('\n'));
    const report = JSON.parse(line!.slice('reconcile (agent start): '.length)) as { leasesReleased: string[] };
    assert.equal(report.leasesReleased.sort(), [
      `default ${lost.address.split('/')[0]} lost/eth0`,
      `default ${tornEth0.address.split('/')[0]} torn/eth0`,
      'default 10.1.1.200 (lease file naming no container)',
      `l3net ${tornL3.address.split('/')[0]} torn/veth2`,
    ].sort());

    const check = await callAgent(w.config.cniSocket, request('CHECK', 'kept', 'ns1'), 10_000);
    assert.ok(check.ok, `the kept pod's leases are still its own: ${JSON.stringify(check)}`);
    // The runtime's DELs for the crashed sandboxes come later: nothing recorded, nothing held, success.
    for (const id of ['lost', 'torn']) {
      const del = await callAgent(w.config.cniSocket, request('DEL', id, 'ns2'), 10_000);
      assert.ok(del.ok, `DEL ${id}: ${JSON.stringify(del)}`);
    }
    // The released addresses are handed out again (host-local goes round its range first).
    const again = await callAgent(w.config.cniSocket, request('ADD', 'next', 'ns2'), 10_000);
    assert.ok(again.ok, JSON.stringify(again));
    for (const id of ['kept', 'next']) {
      const del = await callAgent(w.config.cniSocket, request('DEL', id, id === 'kept' ? 'ns1' : 'ns2'), 10_000);
      assert.ok(del.ok, `DEL ${id}: ${JSON.stringify(del)}`);
    }
    assert.equal(leaseFiles(w.dataDir, 'default'), {});
    assert.equal(leaseFiles(w.dataDir, 'l3net'), {});
    assert.equal(await agent.store.listPods(), []);
  } finally { await agent?.close(); }
});

test('a second start with nothing to sweep releases nothing and says nothing about leases', async () => {
  const w = world();
  let agent: Agent | undefined = await w.boot();
  try {
    const add = await callAgent(w.config.cniSocket, request('ADD', 'c1', 'ns1'), 10_000);
    assert.ok(add.ok, JSON.stringify(add));
    const before = leaseFiles(w.dataDir, 'default');
    await agent.close(); agent = undefined;
    agent = await w.boot();
    assert.equal(leaseFiles(w.dataDir, 'default'), before);
    assert.not.ok(w.log.some((l) => l.includes('leasesReleased":["')), w.log.join('\n'));
    const del = await callAgent(w.config.cniSocket, request('DEL', 'c1', 'ns1'), 10_000);
    assert.ok(del.ok, JSON.stringify(del));
    assert.equal(leaseFiles(w.dataDir, 'default'), {});
  } finally { await agent?.close(); }
});

test.run();
