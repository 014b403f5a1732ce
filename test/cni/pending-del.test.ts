// DELs recorded by tsvpp-cni while the agent was away: the agent carries them out when it starts,
// before its socket serves anything; failures stay recorded (with the error) and are retried;
// `tsvpp agent pods` lists them. The agent runs in-process on the test doubles.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { callAgent } from '../../src/cni/cni-main.cjs';
import { AGENT_PROTOCOL_VERSION, type AgentRequest } from '../../src/cni/agent-protocol.cjs';
import { PENDING_DEL_DIR, listPendingDels, recordPendingDel } from '../../src/cni/pending-del.js';
import { FakeIpam, FakeLinux, FakeVswitch } from './fakes.js';

const here = dirname(fileURLToPath(import.meta.url));
const TSVPP = resolve(here, '../../src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-pending-del-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function world() {
  const base = mkdtempSync(join(dir, 'w-'));
  mkdirSync(join(base, 'manifests'));
  writeFileSync(join(base, 'manifests', 'pods.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  annotations:\n    contivpp.io/custom-if: tap1/tap, veth1/veth\nspec:\n  containers: [{name: c, image: x}]\n');
  const config: AgentConfig = { ...DEFAULT_CONFIG, stateDir: join(base, 'state'), memifSocketDir: join(base, 'memif'), cniSocket: join(base, 'cni.sock'), podManifests: join(base, 'manifests'), nodeName: 'node-pending' };
  writeFileSync(join(base, 'manifests', 'node.yaml'), nodeManifest({ name: config.nodeName, internalIp: '192.0.2.1', podCIDR: '10.1.1.0/24' }));
  const linux = new FakeLinux();
  linux.addNs('ns1');
  const vswitch = new FakeVswitch(linux);
  const ipam = new FakeIpam();
  const log: string[] = [];
  const boot = () => startAgent(config, { vswitch, linux, ipam, pods: new ManifestPodSource(config.podManifests!), log: (m) => log.push(m) });
  return { config, linux, vswitch, ipam, log, boot };
}

const request = (command: 'ADD' | 'DEL', containerId: string, netns?: string): AgentRequest => ({
  v: AGENT_PROTOCOL_VERSION, command, containerId, ifName: 'eth0', ...(netns ? { netns } : {}),
  args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'p1', K8S_POD_UID: 'u1', K8S_POD_INFRA_CONTAINER_ID: containerId },
  config: { cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni' },
});

function agentPods(stateDir: string): Promise<{ code: number; out: string }> {
  return new Promise((res) => execFile(process.execPath, [TSVPP, 'agent', 'pods', '--state-dir', stateDir, ...(process.argv.includes('--json') ? ['--json'] : [])], (err, stdout, stderr) => res({ code: err ? (err as { code?: number }).code ?? 1 : 0, out: stdout + stderr })));
}

test('a DEL recorded while the agent was down is carried out at start, before the socket serves', async () => {
  const w = world();
  let agent: Agent | undefined = await w.boot();
  try {
    const add = await callAgent(w.config.cniSocket, request('ADD', 'c1', 'ns1'), 10_000);
    assert.ok(add.ok, JSON.stringify(add));
    assert.is(w.vswitch.podObjects().ifs.length, 3);
    await agent.close(); agent = undefined;
    // What tsvpp-cni does when the socket refuses (src/cni/cni-main.ts).
    await recordPendingDel(w.config.stateDir, request('DEL', 'c1', 'ns1'), 'tsvpp agent is not reachable: cni.sock: ECONNREFUSED');
    const shown = await agentPods(w.config.stateDir);
    assert.is(shown.code, 0, shown.out);
    assert.match(shown.out, 'pending DELs');
    assert.match(shown.out, 'default/p1  container c1');
    assert.match(shown.out, 'why: tsvpp agent is not reachable: cni.sock: ECONNREFUSED');
    agent = await w.boot();
    // Done by the time startAgent returns, i.e. before the first request could arrive.
    assert.equal(w.vswitch.podObjects(), { ifs: [], routes: 0, sockets: 0, neighbors: 0 });
    assert.equal(await agent.store.listPods(), []);
    assert.is(w.ipam.leases.size, 0);
    assert.equal([...w.linux.ns.get('ns1')!.keys()], ['lo']);
    assert.equal(await listPendingDels(w.config.stateDir), []);
    assert.ok(w.log.some((l) => l === 'recorded DELs: carried out 1 (c1), failed 0'), w.log.join('\n'));
    assert.not.match((await agentPods(w.config.stateDir)).out, 'pending DELs');
  } finally { await agent?.close(); }
});

test('a recorded DEL that fails stays recorded with its error, and the next start carries it out', async () => {
  const w = world();
  let agent: Agent | undefined = await w.boot();
  try {
    assert.ok((await callAgent(w.config.cniSocket, request('ADD', 'c2', 'ns1'), 10_000)).ok);
    await agent.close(); agent = undefined;
    await recordPendingDel(w.config.stateDir, request('DEL', 'c2', 'ns1'), 'timed out waiting for the tsvpp agent');
    w.vswitch.failAt = 0; // VPP refuses the first delete
    agent = await w.boot();
    const [p] = await listPendingDels(w.config.stateDir);
    assert.is(p?.containerId, 'c2');
    assert.match(p!.record!.lastError!, 'injected failure');
    assert.match((await agentPods(w.config.stateDir)).out, 'last attempt failed: DEL could not remove everything');
    // An ADD for the same container waits for the recorded DEL (VPP answers again now).
    w.vswitch.failAt = undefined;
    const again = await callAgent(w.config.cniSocket, request('ADD', 'c2', 'ns1'), 10_000);
    assert.ok(again.ok, JSON.stringify(again));
    assert.equal(await listPendingDels(w.config.stateDir), []);
    assert.is(w.vswitch.podObjects().ifs.length, 3, 'the new attachment, not the old one next to it');
    assert.ok(existsSync(join(w.config.stateDir, PENDING_DEL_DIR)));
  } finally { await agent?.close(); }
});

test.run();
