// Node identity as whole agents see it, for clusters of 1, 2 and 3 nodes: agents started at once on
// one manifests dir (the API server's stand-in: Node objects, slice claims) each take a different
// slice with no node id set anywhere, give their pods addresses from it, keep it across a restart,
// and see the others join and leave without a restart. VPP, Linux and IPAM are the test fakes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { CLAIMS_SUBDIR } from '../../src/cni/nodes/manifest-nodes.js';
import type { AgentRequest } from '../../src/cni/agent-protocol.cjs';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { FakeIpam, FakeLinux, FakeVswitch } from './fakes.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-node-agents-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

interface Node { config: AgentConfig; linux: FakeLinux; vswitch: FakeVswitch; ipam: FakeIpam; agent?: Agent; log: string[] }

function cluster(n: number) {
  const base = mkdtempSync(join(dir, `c${n}-`));
  const manifests = join(base, 'manifests');
  mkdirSync(manifests);
  const names = Array.from({ length: n }, (_, i) => `node-${i}`);
  const putNode = (name: string, ip: string, podCIDR?: string) => writeFileSync(join(manifests, `${name}.yaml`), nodeManifest({ name, internalIp: ip, ...(podCIDR ? { podCIDR } : {}) }));
  for (const [i, name] of names.entries()) putNode(name, `192.0.2.${i + 1}`);
  const nodes: Node[] = names.map((name) => {
    const linux = new FakeLinux();
    linux.addNs('ns1');
    return {
      linux, vswitch: new FakeVswitch(linux), ipam: new FakeIpam(), log: [],
      config: {
        ...DEFAULT_CONFIG, nodeName: name, podManifests: manifests, eth0Kind: 'tap',
        stateDir: join(base, name, 'state'), memifSocketDir: join(base, name, 'memif'), cniSocket: join(base, name, 'cni.sock'),
      },
    };
  });
  const start = async (x: Node) => {
    x.agent = await startAgent(x.config, {
      vswitch: x.vswitch, linux: x.linux, ipam: x.ipam, pods: new ManifestPodSource(manifests), log: (m) => x.log.push(m), vhostNet: true,
    });
    return x.agent;
  };
  return { base, manifests, names, nodes, putNode, start };
}

const add = (id: string): AgentRequest => ({
  v: 1, command: 'ADD', containerId: id, ifName: 'eth0', netns: 'ns1', args: {}, config: { cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni' },
});

async function until(what: string, ok: () => Promise<boolean>, logs: string[][]): Promise<void> {
  const end = Date.now() + 15_000;
  while (!(await ok())) {
    if (Date.now() > end) assert.unreachable(`${what}; logs:\n${logs.map((l) => l.slice(-5).join('\n')).join('\n--\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const setOf = async (a: Agent) => (await a.nodes.list()).map((n) => `${n.name} ${n.internalIp} ${n.podSubnet}`).sort();

for (const n of [1, 2, 3]) {
  test(`${n} node(s): agents started at once take different slices (claims), pods get addresses from them, a restart keeps them, the node set follows joins and leaves`, async () => {
    const c = cluster(n);
    const logs = c.nodes.map((x) => x.log);
    try {
      const agents = await Promise.all(c.nodes.map(c.start));
      const slices = agents.map((a) => a.node.podSubnet);
      assert.is(new Set(slices).size, n, `distinct slices: ${slices}`);
      for (const s of slices) assert.match(s, /^10\.1\.\d+\.0\/24$/);
      for (const a of agents) assert.is(a.node.source, 'new claim');
      assert.equal(readdirSync(join(c.manifests, CLAIMS_SUBDIR)).sort(), slices.map((s) => `${s.replace(/[./]/g, '-')}.json`).sort(), 'one claim per node');
      const want = c.names.map((name, i) => `${name} 192.0.2.${i + 1} ${slices[i]}`).sort();
      for (const a of agents) await until(`${a.node.name} sees every node`, async () => JSON.stringify(await setOf(a)) === JSON.stringify(want), logs);

      // Each node's pods are addressed from its own slice, gateway .1.
      for (const [i, a] of agents.entries()) {
        const r = await a.pipeline.handle(add(`pod-${i}`));
        const gw = slices[i]!.replace(/0\/24$/, '1');
        assert.equal([r!.ips![0]!.address, r!.ips![0]!.gateway], [slices[i]!.replace(/0\/24$/, '2/32'), gw]);
      }

      // A restart finds the node's claim again (and its pod).
      await agents[0]!.close();
      const again = await c.start(c.nodes[0]!);
      agents[0] = again;
      assert.equal([again.node.podSubnet, again.node.source], [slices[0], 'claim']);
      assert.ok(await again.store.loadPod('pod-0'), 'the pod record is still there');

      // A node the cluster allocates a slice to joins; the last node leaves and comes back.
      c.putNode('node-new', '192.0.2.99', '10.1.200.0/24');
      for (const a of agents) await until(`${a.node.name} sees node-new`, async () => (await setOf(a)).includes('node-new 192.0.2.99 10.1.200.0/24'), logs);
      if (n > 1) {
        const last = c.names[n - 1]!;
        unlinkSync(join(c.manifests, `${last}.yaml`));
        for (const a of agents.slice(0, -1)) await until(`${a.node.name} sees ${last} leave`, async () => !(await setOf(a)).some((s) => s.startsWith(`${last} `)), logs);
        c.putNode(last, `192.0.2.${n}`);
        // Back with the slice it held: its claim outlived the Node object.
        for (const a of agents.slice(0, -1)) await until(`${a.node.name} sees ${last} back`, async () => (await setOf(a)).includes(`${last} 192.0.2.${n} ${slices[n - 1]}`), logs);
      }
    } finally {
      for (const x of c.nodes) await x.agent?.close();
    }
  });
}

test.run();
