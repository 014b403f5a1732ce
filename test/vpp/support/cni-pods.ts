// Two pods on a CniNode with every interface kind VPP can make here and every network, and the
// traffic checks run on them (after ADD, an agent restart and a VPP restart):
//   pod-a: eth0, veth1 (default network, service endpoint), v3 (L3 CustomNetwork), v2 (L2
//          CustomNetwork), vs (stub), m1 (memif, contivpp.io/memif device)
//   pod-b: eth0, v3 (L3), v2 (L2)
import * as assert from 'uvu/assert';
import { MemifInterface } from '../../../src/memif/index.js';
import { listAddresses } from '../../../src/cni/linux/ip.js';
import type { CniNode } from './cni-node.js';
import { IpHost } from '../../../src/cni/memif-agent/ip-host.js';

/** The node's slice of 10.1.0.0/16 and of l3net's 10.99.0.0/16 (CniNode's Node has spec.podCIDR 10.1.9.0/24: slice 9). */
export const GATEWAY = '10.1.9.1';
export const L3_GATEWAY = '10.99.9.1';
const L2_ADDR = { a: '192.168.222.1', b: '192.168.222.2' };

const pod = (name: string, customIf: string, extra = '', memifs = 0) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  annotations:
    contivpp.io/custom-if: ${customIf}
${extra}spec:
  containers:
    - name: c
      image: x
${memifs ? `      resources:\n        limits:\n          contivpp.io/memif: ${memifs}\n` : ''}`;

export const MANIFESTS = [
  pod('pod-a', 'veth1/veth, v3/veth/l3net, v2/veth/l2net, vs/veth/stub, m1/memif', '    contivpp.io/service-endpoint-if: veth1\n', 1),
  pod('pod-b', 'v3/veth/l3net, v2/veth/l2net'),
  pod('pod-tap', 'tap1/tap'),
  `apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata:
  name: l3net
spec:
  type: L3
  subnetCIDR: 10.99.0.0/16
  subnetOneNodePrefixLen: 24
`,
  `apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata:
  name: l2net
spec:
  type: L2
`,
].join('---\n');

export interface Pod { name: string; id: string; ns: string; add: any }

/** The address CNI gave interface `name` of an ADD result (no prefix length). */
export function ipOf(add: any, name: string): string {
  const idx = add.interfaces.findIndex((i: any) => i.name === name);
  const ip = add.ips.find((x: any) => x.interface === idx);
  if (!ip) throw new Error(`no address for ${name} in ${JSON.stringify(add)}`);
  return ip.address.split('/')[0];
}

export class TwoPods {
  a!: Pod;
  b!: Pod;
  slave: MemifInterface | undefined;
  host: IpHost | undefined;
  private seq = 0;
  private constructor(readonly node: CniNode) {}

  /** ADD of both pods (pod-a admitted by kubelet for its memif device first). */
  static async add(node: CniNode, tag: string): Promise<TwoPods> {
    const p = new TwoPods(node);
    const [alloc] = await node.kubelet.admit('default', 'pod-a', [{ name: 'c', count: 1 }]);
    const envs = alloc!.envs, mount = alloc!.mounts[0]!;
    const nsA = await node.newNetns(), nsB = await node.newNetns();
    p.a = { name: 'pod-a', id: `${tag}a${node.rnd}`, ns: nsA, add: await node.add('pod-a', `${tag}a${node.rnd}`, nsA) };
    p.b = { name: 'pod-b', id: `${tag}b${node.rnd}`, ns: nsB, add: await node.add('pod-b', `${tag}b${node.rnd}`, nsB) };
    // The pod's memif application: a tsvpp slave that knows only MEMIF_SOCKET and MEMIF_SECRET.
    const socket = envs['MEMIF_SOCKET']!.replace(mount.container_path, mount.host_path);
    p.slave = new MemifInterface({ socket, role: 'slave', id: 1, secret: envs['MEMIF_SECRET']!, ifName: 'pod-a-m1', reconnectMs: 100 });
    p.slave.on('connect-failed', () => {});
    return p;
  }

  /** Every traffic check; `when` names the moment in failure messages. */
  async checkTraffic(when: string): Promise<void> {
    const { node, a, b } = this;
    // Exactly one packet, pod to pod, and its reply: neither may be lost to neighbour resolution.
    const first = await node.ping(a.ns, ipOf(b.add, 'eth0'));
    assert.is(first.received, 1, `${when}: the one echo pod-a -> pod-b (and its reply) arrived\n${first.output}`);
    const gw = await node.ping(a.ns, GATEWAY);
    assert.is(gw.received, 1, `${when}: pod -> gateway\n${gw.output}`);
    assert.ok(await node.vppPing(ipOf(a.add, 'veth1')), `${when}: VPP -> pod-a's custom interface veth1`);
    const l3gw = await node.ping(a.ns, L3_GATEWAY, { dev: 'v3' });
    assert.is(l3gw.received, 1, `${when}: pod -> L3 custom network gateway\n${l3gw.output}`);
    const l3 = await node.ping(a.ns, ipOf(b.add, 'v3'), { dev: 'v3' });
    assert.is(l3.received, 1, `${when}: pod-a -> pod-b over the L3 custom network\n${l3.output}`);
    const l2 = await node.ping(a.ns, L2_ADDR.b, { dev: 'v2' });
    assert.is(l2.received, 1, `${when}: pod-a -> pod-b over the L2 custom network\n${l2.output}`);
    // The memif pod: its application pings the gateway, and VPP pings it.
    const conn = await this.slave!.waitConnected(20_000);
    this.host?.stop();
    this.host = new IpHost(conn, { mac: '02:fe:00:00:00:0a', ip: ipOf(a.add, 'm1') });
    this.host.start();
    const r = await this.host.ping(GATEWAY, ++this.seq);
    assert.is(r.from, GATEWAY, `${when}: memif pod -> gateway`);
    assert.ok(await node.vppPing(ipOf(a.add, 'm1')), `${when}: VPP -> memif pod`);
    assert.is(this.host.seen.badChecksums, 0, 'VPP\'s packets on the memif have valid checksums');
  }

  /** Addresses on the L2 network, which CNI leaves to the pods. */
  async addressL2(): Promise<void> {
    await this.node.inNetns(this.a.ns, ['ip', 'addr', 'add', `${L2_ADDR.a}/24`, 'dev', 'v2']);
    await this.node.inNetns(this.b.ns, ['ip', 'addr', 'add', `${L2_ADDR.b}/24`, 'dev', 'v2']);
  }

  /** The stub interface: up in the pod, no IPv4 address; its VPP interface up with no address. */
  async checkStub(): Promise<void> {
    const addrs = (await listAddresses(this.a.ns)).find((x) => x.ifname === 'vs');
    assert.ok(addrs, 'stub interface vs exists in the pod');
    assert.equal(addrs!.addr_info.filter((i) => i.family === 'inet'), [], 'stub has no IPv4 address');
    const rec = await this.node.agent!.store.loadPod(this.a.id);
    const sw = rec!.interfaces.find((i) => i.name === 'vs')!.swIfIndex!;
    assert.ok((await this.node.vppInterfaces()).get(sw)?.up, 'stub VPP interface is up');
    const vppAddrs = await this.node.api.dump('ip_address_dump', { sw_if_index: sw, is_ipv6: false });
    assert.equal(vppAddrs, [], 'stub VPP interface has no address');
  }

  /** Every pod address (for leftover checks). */
  addresses(): string[] {
    return [this.a, this.b].flatMap((p) => p.add.ips.map((x: any) => x.address));
  }

  async check(): Promise<void> {
    for (const p of [this.a, this.b]) {
      const c = await this.node.cni('CHECK', p.name, p.id, p.ns, { prevResult: p.add });
      assert.is(c.code, 0, `CHECK ${p.name}: ${JSON.stringify(c.out)}`);
    }
  }

  /** DEL of both pods; the netns are the runtime's and go too. */
  async del(): Promise<void> {
    this.slave?.close('pod gone');
    for (const p of [this.a, this.b]) {
      const d = await this.node.cni('DEL', p.name, p.id, p.ns);
      assert.is(d.code, 0, `DEL ${p.name}: ${JSON.stringify(d.out)} ${d.stderr}`);
      assert.equal((await this.node.inNetns(p.ns, ['ip', '-o', 'link', 'show'])).trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo'], `${p.name}: only lo left`);
      await this.node.dropNetns(p.ns);
    }
    this.node.kubelet.forget('default', 'pod-a');
  }
}
