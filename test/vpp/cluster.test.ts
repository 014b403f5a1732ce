// Two nodes on one machine, checked with real packets through real VPP (root). Each node is a
// network namespace standing for the node's host, with its own VPP (af_packet on that namespace's
// links) and its own agent process (`ip netns exec NODE tsvpp agent`, as the DaemonSet runs it);
// both read one manifests dir standing for the API server: pods, CustomNetworks and the Nodes
// (InternalIP, spec.podCIDR), from which each agent takes its own slice and the node set. Each
// agent's host side — the VPP ↔ host veth, routes, nftables, ip_forward — is its node's
// namespace's. The nodes' eth0s are veths into a bridge (the underlay, in a namespace of its own)
// shared with an "outside" namespace: the nodes' default router, holding an address beyond the
// cluster on a dummy interface (or lo), with no route to the pod subnet. Each node has a pod with eth0
// (default network), l2 (an L2 CustomNetwork) and l3 (an L3 CustomNetwork), all veth + af_packet.
// Checked with ping and TCP: pod ↔ pod across nodes on every network; pod → both hosts and the
// outside, seen with the node's address (nftables counters where the packets arrive); host → pod;
// Services (a NodePort Service in the shared manifests dir, served by one pod): NodePort from either
// host and the other node's pod, to a backend on either node; host → ClusterIP; pod → ClusterIP
// across nodes; no endpoints refused at once; a LoadBalancer with externalTrafficPolicy Local (each
// node's own backend only, the client's address kept, a node without one refusing, the health check
// node port 200/503); a load balancer IP announced to node a and an external IP routed to node b,
// reached from the outside namespace, pods and hosts; a service-endpoint-if pod on node a reached from node b
// through its ClusterIP on that interface (tcpdump there), a ping on eth0; a node that leaves (its
// agent stopped, `tsvpp agent teardown`, its Node deleted) leaves no tunnel, route or table behind on the other and comes
// back; DEL and teardown leave nothing.
//
// test/vpp/cluster-overlay.test.ts runs this file again with nodeInterconnect vxlan
// (TSVPP_TEST_INTERCONNECT): node b then sits on a subnet of its own (192.168.78.0/24) that only
// the outside namespace routes to, as a node behind a router, so host-gw could not carry it; every
// test is the same but for what differs by design (the routes between hosts, the overlay's entries,
// the source a host's packets to another node's pod carry: its overlay address).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { addNetns, deleteNetns } from '../../src/cni/linux/ip.js';
import { NODE_INTERCONNECTS, OVERLAY_IFNAME, networkVni, overlayAddressOf, overlayMac, type NodeInterconnect } from '../../src/cni/cluster/plan.js';
import type { VppClient } from '../../src/vppapi/client/index.js';
import { runCni } from '../../perf/soak/cni-call.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { REPO, Vpp } from './support/vpp.js';
import { capture, reIp } from './support/capture.js';

const MODE = (process.env.TSVPP_TEST_INTERCONNECT ?? 'host-gw') as NodeInterconnect;
if (!NODE_INTERCONNECTS.includes(MODE)) throw new Error(`TSVPP_TEST_INTERCONNECT=${MODE}: not one of ${NODE_INTERCONNECTS.join(', ')}`);
const MAIN = resolve(REPO, 'dist/src/cli/main.js');
const rnd = randomBytes(2).toString('hex');
const top = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-cluster-'));
// The cluster's "API server": one manifests dir both agents read (pods, CustomNetworks, Nodes).
const manifests = join(top, 'manifests');
const WIRE = `tc${rnd}w`, OUT = `tc${rnd}o`;
const ROUTER = '192.168.77.3';
const OUTSIDE = '198.51.100.10';
const L2 = { a: '192.168.200.1', b: '192.168.200.2' } as const;
const VNIS = [networkVni('l2net'), networkVni('l3net')].sort((x, y) => x - y);
const HOST_LINK = { vpp: '169.254.100.1', host: '169.254.100.2' };
const made = { netns: new Set<string>(), agents: new Set<ChildProcess>() };
process.on('exit', () => { for (const a of made.agents) a.kill('SIGKILL'); });

const MANIFESTS = `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    contivpp.io/custom-if: l2/veth/l2net, l3/veth/l3net
spec:
  containers: [{name: c, image: x}]
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata: {name: l2net}
spec: {type: L2}
---
apiVersion: contivpp.io/v1
kind: CustomNetwork
metadata: {name: l3net}
spec: {type: L3, subnetCIDR: 10.99.0.0/16, subnetOneNodePrefixLen: 24}
---
apiVersion: v1
kind: Pod
metadata:
  name: sep
  annotations:
    contivpp.io/custom-if: veth1/veth
    contivpp.io/service-endpoint-if: veth1
spec:
  containers: [{name: c, image: x}]
`;

/** `file args` in namespace `ns` (ip netns exec), stdin `input`; its stdout, or an error with its stderr. */
function runIn(ns: string, file: string, args: string[], input?: string): Promise<string> {
  return new Promise((res, rej) => {
    const c = execFile('ip', ['netns', 'exec', ns, file, ...args], { timeout: 60_000, maxBuffer: 16 << 20 }, (e, out, err) => (e ? rej(new Error(`ip netns exec ${ns} ${file} ${args.join(' ')}: ${err || e.message}`)) : res(out)));
    if (input !== undefined) c.stdin!.end(input);
  });
}

/** iproute2, in `ns` when given: the test's own hands and eyes, apart from what the agent uses. */
function ip(args: string[], ns?: string): Promise<string> {
  return new Promise((res, rej) => execFile('ip', [...(ns ? ['-n', ns] : []), ...args], (e, out, err) => (e ? rej(new Error(`ip ${ns ? `-n ${ns} ` : ''}${args.join(' ')}: ${err || e.message}`)) : res(out))));
}

async function netns(name: string): Promise<string> {
  await addNetns(name);
  made.netns.add(name);
  return name;
}

/**
 * Echo requests 0.2 s apart until `count` replies came back or the deadline (`count` + 2 s, at
 * least 5) passed; what was sent and received. -w rather than -W: a late reply still counts (this
 * machine is often busy, and VPP's af_packet hands over packets in blocks), and ping goes on
 * sending until enough came back, so a lost packet shows as sent > received.
 */
async function ping(ns: string, target: string, o: { dev?: string; count?: number } = {}): Promise<{ sent: number; received: number }> {
  const count = o.count ?? 1;
  const args = ['ip', 'netns', 'exec', ns, 'ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-w', String(Math.max(5, count + 2)), ...(o.dev ? ['-I', o.dev] : []), target];
  const out = await new Promise<string>((res) => {
    const p = spawn(args[0]!, args.slice(1));
    let s = '';
    p.stdout.on('data', (d) => { s += d; });
    p.on('close', () => res(s));
  });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!m) throw new Error(`ping in ${ns} ${target}: ${out}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

/**
 * `target` answers: up to 5 single echoes until one comes back (VPP drops the packet that made it
 * resolve a neighbour), then 10 replies with at most 2 echoes lost on the way (the path is steady;
 * a rare loss on this shared, loaded machine is not the data path's). Fails with what came back
 * and, from both VPPs, what a lost packet could be explained by.
 */
async function assertReaches(ns: string, target: string, what: string, o: { dev?: string } = {}): Promise<void> {
  let lost = 0;
  while (lost < 5 && (await ping(ns, target, o)).received !== 1) lost++;
  const steady = lost < 5 ? await ping(ns, target, { ...o, count: 10 }) : undefined;
  if (steady && steady.received >= 10 && steady.sent - steady.received <= 2) return;
  const vpp = async (n: Node) => (n.vpp ? (await Promise.all(['show vxlan tunnel', 'show l2fib verbose', 'show ip neighbors', 'show errors'].map((c) => n.vpp.cli(c).catch((e: Error) => e.message)))).join('\n') : '');
  assert.unreachable(`${what}: ${steady ? `after the first reply, ${steady.received} of ${steady.sent} echoes came back` : 'none of 5 echoes came back'}\nVPP a:\n${await vpp(A)}\nVPP b:\n${await vpp(B)}`);
}

/**
 * One TCP connection from `fromNs` to `toIp` in `toNs`: the client sends `bytes` and half-closes,
 * the server answers with the count it received. True when every byte arrived. (Checksums,
 * segmentation and MTU are what ping does not exercise.)
 */
async function tcp(fromNs: string, toNs: string, toIp: string, bytes: number): Promise<boolean> {
  const port = 7000 + Math.floor(Math.random() * 1000);
  const server = spawn('ip', ['netns', 'exec', toNs, process.execPath, '-e', `
    const s = require('net').createServer({ allowHalfOpen: true }, (c) => { let n = 0; c.on('data', (d) => { n += d.length; }); c.on('end', () => c.end(String(n))); });
    s.listen(${port}, '${toIp}', () => console.log('listening')); setTimeout(() => process.exit(3), 30000);`]);
  try {
    await new Promise<void>((res, rej) => { server.stdout.once('data', () => res()); server.once('exit', (c) => rej(new Error(`TCP server in ${toNs} exited ${c}`))); });
    const out = await runIn(fromNs, process.execPath, ['-e', `
      const c = require('net').connect(${port}, '${toIp}', () => c.end(Buffer.alloc(${bytes}, 7)));
      let r = ''; c.on('data', (d) => { r += d; }); c.on('end', () => { console.log(r); process.exit(0); });
      c.on('error', (e) => { console.log('error ' + e.message); process.exit(0); }); setTimeout(() => { console.log('timeout ' + r); process.exit(0); }, 15000);`]);
    return out.trim() === String(bytes);
  } finally { server.kill(); }
}

/** A counter table of this test's own in `ns`: echo requests arriving for the host, by source. */
async function countEchoes(ns: string, sources: Record<string, string>): Promise<(name: string) => Promise<number>> {
  const lines = ['add table ip tsvpptest', 'add chain ip tsvpptest in { type filter hook input priority 0; policy accept; }'];
  for (const [name, src] of Object.entries(sources)) {
    lines.push(`add counter ip tsvpptest ${name}`, `add rule ip tsvpptest in ip saddr ${src} icmp type echo-request counter name ${name}`);
  }
  await runIn(ns, 'nft', ['-f', '-'], lines.join('\n') + '\n');
  return async (name) => Number(/packets (\d+)/.exec(await runIn(ns, 'nft', ['list', 'counter', 'ip', 'tsvpptest', name]))![1]);
}

interface Pod { id: string; ns: string; eth0: string; l3: string; l2: string }

class Node {
  readonly ns: string;
  readonly dir: string;
  readonly configFile: string;
  vpp!: Vpp;
  api!: VppClient;
  agent: ChildProcess | undefined;
  readonly log: string[] = [];
  pod!: Pod;
  constructor(readonly name: 'a' | 'b', readonly k: number) {
    this.ns = `tc${rnd}${name}`;
    this.dir = join(top, name);
    this.configFile = join(this.dir, 'agent.yaml');
  }
  /** The node's InternalIP: both on 192.168.77.0/24, or (vxlan) node b on 192.168.78.0/24. */
  get ip(): string { return `192.168.${this.subnet}.${this.k}`; }
  private get subnet(): number { return MODE === 'vxlan' ? 76 + this.k : 77; }
  /** Its default router: the outside namespace, on the node's subnet. */
  get router(): string { return `192.168.${this.subnet}.3`; }
  /** The source of what this node's host sends to another node's pod: its InternalIP, or its overlay address. */
  get hostSource(): string { return MODE === 'vxlan' ? overlayAddressOf(this.slice) : this.ip; }
  /** This node's route on another node's host toward its slice, as `ip route` prints it. */
  get routeToIt(): string { return MODE === 'vxlan' ? `${this.slice} via ${this.hostSource} dev ${OVERLAY_IFNAME} onlink` : `${this.slice} via ${this.ip} dev eth0`; }
  get slice(): string { return `10.1.${this.k}.0/24`; }
  get vtep(): string { return `10.1.${this.k}.1`; }
  get cniSocket(): string { return join(this.dir, 'cni.sock'); }

  async boot(): Promise<void> {
    mkdirSync(this.dir);
    await netns(this.ns);
    await wire(this.ns, this.ip);
    await ip(['route', 'add', 'default', 'via', this.router], this.ns);
    this.vpp = await Vpp.start({ netns: this.ns });
    this.api = await this.vpp.connect({ reconnect: false });
    writeFileSync(this.configFile, [
      `vppApiSocket: ${this.vpp.apiSocket}`, `vppApiDir: ${this.vpp.info.apiDir}`, 'podSubnet: 10.1.0.0/16', 'podSubnetNodePrefixLen: 24',
      `nodeName: ${this.name}`, `stateDir: ${join(this.dir, 'state')}`, `memifSocketDir: ${join(this.dir, 'memif')}`,
      `cniSocket: ${this.cniSocket}`, `podManifests: ${manifests}`, 'eth0Kind: veth-afpacket', 'hostLink: veth-afpacket',
      'cniPluginDirs: [/usr/lib/cni]', `nodeInterconnect: ${MODE}`, '',
    ].join('\n'));
    await this.startAgent();
  }

  /** The agent as a process inside the node's namespace; resolves once it serves CNI. */
  async startAgent(): Promise<void> {
    const from = this.log.length;
    const p = spawn('ip', ['netns', 'exec', this.ns, process.execPath, '--enable-source-maps', MAIN, 'agent', '--config', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.agent = p;
    made.agents.add(p);
    let buf = '';
    p.stderr!.on('data', (d) => { buf += d; const lines = buf.split('\n'); buf = lines.pop()!; this.log.push(...lines); });
    const deadline = Date.now() + 60_000;
    while (!this.log.slice(from).some((l) => l.includes('listening on'))) {
      if (p.exitCode !== null || Date.now() > deadline) throw new Error(`agent ${this.name} did not start (exit ${p.exitCode}):\n${this.log.slice(from).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stopAgent(): Promise<void> {
    const p = this.agent;
    this.agent = undefined;
    if (!p) return;
    if (p.exitCode === null && p.signalCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
    made.agents.delete(p);
  }

  /** `tsvpp agent teardown` with the node's config, in the node: its stdout. */
  teardown(): Promise<string> { return runIn(this.ns, process.execPath, [MAIN, 'agent', 'teardown', '--config', this.configFile]); }

  async addPod(): Promise<Pod> {
    const id = `c${rnd}${this.name}`;
    const ns = await netns(`tc${rnd}p${this.name}`);
    const r = await runCni({ command: 'ADD', containerId: id, netns: ns, pod: 'p', agentSocket: this.cniSocket });
    assert.is(r.code, 0, `ADD on node ${this.name}: ${JSON.stringify(r.out)} ${r.stderr}\n${this.log.slice(-15).join('\n')}`);
    // The L2 network is the pods' to address.
    await ip(['addr', 'add', `${L2[this.name]}/24`, 'dev', 'l2'], ns);
    const addr = (name: string) => r.out.ips.find((x: any) => x.interface === r.out.interfaces.findIndex((i: any) => i.name === name)).address.split('/')[0];
    this.pod = { id, ns, eth0: addr('eth0'), l3: addr('l3'), l2: L2[this.name] };
    return this.pod;
  }

  async delPod(): Promise<void> {
    const r = await runCni({ command: 'DEL', containerId: this.pod.id, netns: this.pod.ns, pod: 'p', agentSocket: this.cniSocket });
    assert.is(r.code, 0, `DEL on node ${this.name}: ${JSON.stringify(r.out)} ${r.stderr}`);
    assert.is((await runIn(this.pod.ns, 'ip', ['-o', 'link', 'show'])).trim().split('\n').length, 1, 'only lo left in the pod');
    await deleteNetns(this.pod.ns);
    made.netns.delete(this.pod.ns);
  }

  /** VPP's VXLAN tunnels as "dst vni". */
  async tunnels(): Promise<string[]> {
    const d = await this.api.dump<any>('vxlan_tunnel_v2_dump', { sw_if_index: 0xffffffff });
    return d.map((t) => `${[...t.dst_address.un.ip4].join('.')} ${t.vni}`).sort();
  }
  /** IPv4 routes of every VPP table as "table prefix". */
  async vppRoutes(): Promise<string[]> {
    const tables = (await this.api.dump<any>('ip_table_dump', {})).filter((t) => !t.table.is_ip6).map((t) => t.table.table_id as number);
    const out: string[] = [];
    for (const t of tables) {
      for (const r of await this.api.dump<any>('ip_route_dump', { table: { table_id: t, is_ip6: false, name: '' } })) out.push(`${t} ${[...r.route.prefix.address.un.ip4].join('.')}/${r.route.prefix.len}`);
    }
    return out;
  }
  async hostRoutes(): Promise<string[]> { return (await ip(['route', 'show', 'proto', '116'], this.ns)).trim().split('\n').filter(Boolean).map((l) => l.trim()).sort(); }
  async tagged(): Promise<string[]> {
    return (await this.api.dump<any>('sw_interface_dump', { sw_if_index: 0xffffffff, name_filter_valid: false, name_filter: '' }))
      .filter((i) => String(i.tag).startsWith('tsvpp')).map((i) => `${i.interface_name} ${i.tag}`).sort();
  }
  async links(): Promise<string[]> { return (JSON.parse(await ip(['-j', 'link', 'show'], this.ns)) as Array<{ ifname: string }>).map((l) => l.ifname).sort(); }
  async nftTables(): Promise<string> { return runIn(this.ns, 'nft', ['list', 'tables']); }

  /** IPv4 neighbours VPP has, as "ip on sw_if_index". */
  async neighbors(): Promise<string[]> {
    return (await this.api.dump<any>('ip_neighbor_dump', { sw_if_index: 0xffffffff, af: 0 })).map((x) => `${[...x.neighbor.ip_address.un.ip4].join('.')} on ${x.neighbor.sw_if_index}`);
  }

  /** Everything this node has toward `other`: tunnels, VPP routes and neighbours in its slices, host routes. [] when none. */
  async toward(other: Node): Promise<string[]> {
    const theirs = (s: string) => s.includes(`10.99.${other.k}.`) || s.includes(`10.1.${other.k}.`);
    return [
      ...(await this.tunnels()).filter((t) => t.startsWith(`${other.vtep} `)).map((t) => `tunnel ${t}`),
      ...(await this.vppRoutes()).filter(theirs).map((r) => `VPP route ${r}`),
      ...(await this.neighbors()).filter(theirs).map((n) => `VPP neighbour ${n}`),
      ...(await this.hostRoutes()).filter((r) => r.startsWith(`${other.slice} `)).map((r) => `host route ${r}`),
      ...(await this.overlayEntries()).filter((e) => e.includes(other.hostSource) || e.includes(other.ip)).map((e) => `overlay ${e}`),
    ];
  }

  /** The overlay device's neighbours ("IP MAC") and forwarding entries ("MAC dst IP"); none without the device. */
  async overlayEntries(): Promise<string[]> {
    if (!(await this.links()).includes(OVERLAY_IFNAME)) return [];
    const neigh = JSON.parse(await ip(['-j', 'neigh', 'show', 'dev', OVERLAY_IFNAME], this.ns)) as Array<{ dst: string; lladdr: string }>;
    const fdb = JSON.parse(await runIn(this.ns, 'bridge', ['-j', 'fdb', 'show', 'dev', OVERLAY_IFNAME])) as Array<{ mac: string; dst?: string }>;
    return [...neigh.map((n) => `${n.dst} ${n.lladdr}`), ...fdb.filter((f) => f.dst).map((f) => `${f.mac} dst ${f.dst}`)];
  }

  /** Whether this node has its paths to `other`: a tunnel per network, the L3 slice route, the host route (and over vxlan the overlay's two entries). */
  async connected(other: Node): Promise<boolean> {
    return (await this.tunnels()).filter((t) => t.startsWith(`${other.vtep} `)).length === VNIS.length
      && (await this.vppRoutes()).some((r) => r.endsWith(` 10.99.${other.k}.0/24`))
      && (await this.hostRoutes()).some((r) => r.startsWith(`${other.slice} via ${MODE === 'vxlan' ? other.hostSource : other.ip} `))
      && (MODE === 'host-gw' || (await this.overlayEntries()).length === 2);
  }
}

/** A veth from the underlay bridge into `ns` as eth0 with `addr`/24. */
async function wire(ns: string, addr: string): Promise<void> {
  const port = `p${addr.split('.')[3]}`;
  await ip(['link', 'add', 'name', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns], WIRE);
  await ip(['link', 'set', port, 'master', 'br0', 'up'], WIRE);
  await ip(['link', 'set', 'eth0', 'up'], ns);
  await ip(['link', 'set', 'lo', 'up'], ns);
  await ip(['addr', 'add', `${addr}/24`, 'dev', 'eth0'], ns);
}

const A = new Node('a', 1), B = new Node('b', 2);
/** The cluster's Node objects: each with its InternalIP and spec.podCIDR (its pod slice). */
const setNodes = (...ns: Node[]) => writeFileSync(join(manifests, 'nodes.yaml'), ns.map((n) => nodeManifest({ name: n.name, internalIp: n.ip, podCIDR: n.slice })).join(''));
let outside: (name: string) => Promise<number>;

async function until(what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nagent a:\n${A.log.slice(-8).join('\n')}\nagent b:\n${B.log.slice(-8).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function setUp(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the cluster test on real VPP needs root (network namespaces, VPP)');
  await netns(WIRE);
  await ip(['link', 'add', 'name', 'br0', 'type', 'bridge'], WIRE);
  await ip(['link', 'set', 'br0', 'up'], WIRE);
  await netns(OUT);
  await wire(OUT, ROUTER);
  if (MODE === 'vxlan') {
    // Node b's own subnet, routed by the outside namespace only.
    await ip(['addr', 'add', `${B.router}/24`, 'dev', 'eth0'], OUT);
    await runIn(OUT, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  }
  // The outside address on a dummy interface; kernels built without the dummy driver (this VM's)
  // get it on lo, which answers the same way.
  const dev = await ip(['link', 'add', 'name', 'outside0', 'type', 'dummy'], OUT).then(() => 'outside0', (e: Error) => {
    if (!/Unknown device type/.test(e.message)) throw e;
    return 'lo';
  });
  await ip(['addr', 'add', `${OUTSIDE}/32`, 'dev', dev], OUT);
  await ip(['link', 'set', dev, 'up'], OUT);
  outside = await countEchoes(OUT, { node_a: A.ip, node_b: B.ip, pods: '10.0.0.0/8' });
  mkdirSync(manifests);
  writeFileSync(join(manifests, 'pods.yaml'), MANIFESTS);
  setNodes(A, B);
  await A.boot();
  await B.boot();
}

// uvu does not print what a before hook threw: say it here, then fail every test.
test.before(() => setUp().catch((e) => { console.error(`setting up the two nodes failed: ${(e as Error).stack}`); throw e; }));

test.after(async () => {
  for (const n of [A, B]) {
    await n.stopAgent().catch(() => undefined);
    await n.api?.close().catch(() => undefined);
    await n.vpp?.stop().catch(() => undefined);
  }
  for (const ns of made.netns) await deleteNetns(ns).catch(() => undefined);
  rmSync(top, { recursive: true, force: true });
});

test('both nodes up: host link, host routes, masquerade, and per network a tunnel to the other node', async () => {
  await A.addPod();
  await B.addPod();
  assert.equal([A.pod.eth0, B.pod.eth0, A.pod.l3, B.pod.l3], ['10.1.1.2', '10.1.2.2', '10.99.1.2', '10.99.2.2']);
  for (const [n, o] of [[A, B], [B, A]] as const) {
    assert.equal(await n.tunnels(), VNIS.map((v) => `${o.vtep} ${v}`), `node ${n.name}: a tunnel per CustomNetwork to ${o.name}`);
    assert.equal(await n.hostRoutes(), [
      `${n.slice} via ${HOST_LINK.vpp} dev tsvpp-host src ${n.ip}`, o.routeToIt,
    ].sort(), `node ${n.name}: host routes`);
    if (MODE === 'vxlan') {
      assert.equal((await n.overlayEntries()).sort(), [`${o.hostSource} ${overlayMac(o.slice)}`, `${overlayMac(o.slice)} dst ${o.ip}`].sort(), `node ${n.name}: overlay entries`);
    }
    assert.ok((await n.vppRoutes()).some((r) => r.endsWith(` 10.99.${o.k}.0/24`)), `node ${n.name}: VPP routes ${o.name}'s L3 slice`);
    assert.match(await runIn(n.ns, 'nft', ['list', 'table', 'ip', 'tsvpp']), `ip saddr ${n.slice} ip daddr != 10.1.0.0/16 masquerade`);
    assert.ok((await n.tagged()).some((t) => t.startsWith('host-tsvpp-vpp tsvpp-node:host-link')), `node ${n.name}: host link in VPP`);
  }
});

test('pod ↔ pod across nodes on the default, L2 and L3 networks (ping, and a TCP transfer)', async () => {
  for (const [p, q] of [[A.pod, B.pod], [B.pod, A.pod]] as const) {
    await assertReaches(p.ns, q.eth0, `default network ${p.eth0} → ${q.eth0}`);
    await assertReaches(p.ns, q.l2, `L2 network ${p.l2} → ${q.l2} (ARP and echo through VXLAN)`, { dev: 'l2' });
    await assertReaches(p.ns, q.l3, `L3 network ${p.l3} → ${q.l3}`, { dev: 'l3' });
  }
  for (const [net, to] of [['default', B.pod.eth0], ['L2', B.pod.l2], ['L3', B.pod.l3]] as const) {
    assert.ok(await tcp(A.pod.ns, B.pod.ns, to, 1_000_000), `TCP, 1 MB, ${net} network, pod a → pod b`);
  }
});

test('pod → its host, the other node\'s host and the outside, seen with the node\'s address; hosts → pod', async () => {
  const seenByB = await countEchoes(B.ns, { node_a: A.ip, pods: '10.0.0.0/8' });
  await assertReaches(A.pod.ns, A.ip, 'pod a → its own host');
  await assertReaches(A.pod.ns, B.ip, 'pod a → node b\'s host');
  assert.ok(await seenByB('node_a') >= 6, 'node b saw node a\'s address');
  assert.is(await seenByB('pods'), 0, 'node b never saw a pod address');
  for (const n of [A, B]) {
    await assertReaches(n.pod.ns, OUTSIDE, `pod ${n.name} → outside`);
    assert.ok(await outside(`node_${n.name}`) >= 6, `the outside saw node ${n.name}'s address`);
  }
  assert.is(await outside('pods'), 0, 'the outside never saw a pod address');
  // Host → pod: the node's own host (the route's src is its InternalIP) and the other node (its
  // InternalIP over host-gw, its overlay address over vxlan).
  const seenByPod = await countEchoes(A.pod.ns, { node_a: A.ip, node_b: B.hostSource });
  await assertReaches(A.ns, A.pod.eth0, 'host a → pod a');
  await assertReaches(B.ns, A.pod.eth0, 'host b → pod a');
  assert.ok(await seenByPod('node_a') >= 6 && await seenByPod('node_b') >= 6, 'pod a saw both nodes\' addresses');
  assert.ok(await tcp(A.pod.ns, OUT, OUTSIDE, 200_000), 'TCP pod a → outside (masqueraded)');
});

const PEER = resolve(REPO, 'dist/test/vpp/support/svc-peer.js');
const NODE_PORT = 30080, NODE_PORT_UDP = 30053, CLUSTER_IP = '10.96.0.10';
const WEB = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: ${CLUSTER_IP}
  clusterIPs: [${CLUSTER_IP}]
  ports:
    - {name: http, port: 80, targetPort: 8080, nodePort: ${NODE_PORT}, protocol: TCP}
    - {name: dns, port: 53, targetPort: 8080, nodePort: ${NODE_PORT_UDP}, protocol: UDP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 8080, protocol: UDP}]
endpoints: [{addresses: [ENDPOINT]}]
`;

/** svc-peer serving port 8080 in namespace `ns`, answering as `name`. */
const serve = (ns: string, name: string): ChildProcess => spawn('ip', ['netns', 'exec', ns, process.execPath, PEER, 'serve', '8080', name], { stdio: ['ignore', 'pipe', 'ignore'] });
/** Resolves once the server says it is ready; rejects if it exits first. */
const ready = (c: ChildProcess): Promise<void> => new Promise((res, rej) => { c.stdout!.on('data', (d) => { if (String(d).includes('ready')) res(); }); c.once('exit', (code) => rej(new Error(`svc-peer exited ${code}`))); });

/** `n` connections (datagrams) from namespace `ns` to host:port through svc-peer: per attempt, who answered and whom it saw. */
async function connect(ns: string, host: string, port: number, n: number, udp = false): Promise<Array<{ backend: string; seen: string; local?: string; error?: string }>> {
  const out = JSON.parse(await runIn(ns, process.execPath, [PEER, 'connect', host, String(port), String(n), ...(udp ? ['udp'] : [])])) as Array<{ reply?: string; error?: string }>;
  return out.map((a) => {
    if (!a.reply) return { backend: '', seen: '', error: a.error ?? 'no reply' };
    const [backend, seen, local] = a.reply.split(' ');
    return { backend: backend!, seen: seen!.split(':')[0]!, local: local! };
  });
}

/** Every attempt answered by `backend`, which saw `seen` as the client. */
async function assertServed(ns: string, host: string, port: number, backend: string, seen: string, what: string, udp = false): Promise<void> {
  const got = await connect(ns, host, port, 4, udp);
  const vpp = async (n: Node) => (await Promise.all(['show cnat session', 'show cnat translation', 'show errors'].map((c) => n.vpp.cli(c).catch((e: Error) => e.message)))).join('\n');
  if (!got.every((g) => g.backend === backend && g.seen === seen)) {
    assert.unreachable(`${what}: expected 4 answers from ${backend} seeing ${seen}, got ${JSON.stringify(got)}\nVPP a:\n${await vpp(A)}\nVPP b:\n${await vpp(B)}`);
  }
}

test('Services: NodePort from both hosts and a pod of the other node, to a backend on either node; host → ClusterIP; pod → ClusterIP across nodes; gone with the Service', async () => {
  const servers = [A, B].map((n) => serve(n.pod.ns, `pod-${n.name}`));
  try {
    await Promise.all(servers.map(ready));
    // The backend is pod a, on node a.
    writeFileSync(join(manifests, 'web.yaml'), WEB.replace('ENDPOINT', A.pod.eth0));
    for (const n of [A, B]) await until(`node ${n.name}: NodePorts in its host's table`, async () => /udp dport 30053 dnat to 169\.254\.100\.1/.test(await runIn(n.ns, 'nft', ['list', 'table', 'ip', 'tsvpp'])));
    assert.ok((await A.hostRoutes()).includes(`${CLUSTER_IP} via ${HOST_LINK.vpp} dev tsvpp-host src ${A.ip}`), (await A.hostRoutes()).join('\n'));
    // NodePort on node a (a local backend): from its own host, from host b, from pod b. The backend
    // sees the client: the node itself, node b, node b again (pod b masqueraded by host b).
    await assertServed(A.ns, A.ip, NODE_PORT, 'pod-a', A.ip, 'host a → its own NodePort');
    await assertServed(B.ns, A.ip, NODE_PORT, 'pod-a', B.ip, 'host b → node a\'s NodePort');
    await assertServed(B.pod.ns, A.ip, NODE_PORT, 'pod-a', B.ip, 'pod b → node a\'s NodePort');
    await assertServed(B.ns, A.ip, NODE_PORT_UDP, 'pod-a', B.ip, 'host b → node a\'s NodePort over UDP', true);
    // A pod of node a → its own node's NodePort: VPP → host (DNAT, and masquerade to the link's address) → VPP → the backend, itself here.
    await assertServed(A.pod.ns, A.ip, NODE_PORT, 'pod-a', HOST_LINK.host, 'pod a → its own node\'s NodePort');
    // NodePort on node b, whose VPP sends the flow on to node a: source-NATed to b's gateway, so the reply comes back through b.
    await assertServed(B.ns, B.ip, NODE_PORT, 'pod-a', B.vtep, 'host b → its own NodePort, backend on node a');
    await assertServed(A.ns, B.ip, NODE_PORT, 'pod-a', B.vtep, 'host a → node b\'s NodePort, backend on node a');
    // Host → ClusterIP (the /32 route into VPP): a local backend sees the node, a remote one b's gateway.
    await assertServed(A.ns, CLUSTER_IP, 80, 'pod-a', A.ip, 'host a → ClusterIP');
    await assertServed(B.ns, CLUSTER_IP, 80, 'pod-a', B.vtep, 'host b → ClusterIP, backend on node a');
    // A pod → ClusterIP with the backend on the other node: no source NAT.
    await assertServed(B.pod.ns, CLUSTER_IP, 80, 'pod-a', B.pod.eth0, 'pod b → ClusterIP, backend on node a');
    // The backend moves to node b: node a's VPP now sends its NodePort flows to node b.
    writeFileSync(join(manifests, 'web.yaml'), WEB.replace('ENDPOINT', B.pod.eth0));
    await until('node a to translate to pod b', async () => /10\.1\.2\.2/.test(await A.vpp.cli('show cnat translation')));
    await assertServed(A.ns, A.ip, NODE_PORT, 'pod-b', A.vtep, 'host a → its own NodePort, backend on node b');
    await assertServed(B.ns, A.ip, NODE_PORT, 'pod-b', A.vtep, 'host b → node a\'s NodePort, backend on node b');
    await assertServed(A.pod.ns, CLUSTER_IP, 80, 'pod-b', A.pod.eth0, 'pod a → ClusterIP, backend on node b');
    await assertServed(A.pod.ns, A.ip, NODE_PORT, 'pod-b', A.vtep, 'pod a → its own node\'s NodePort, backend on node b');
    // No endpoints: the NodePort leaves the host's table (refused by the host), the ClusterIP is refused by VPP.
    writeFileSync(join(manifests, 'web.yaml'), WEB.replace('[{addresses: [ENDPOINT]}]', '[]'));
    await until('node a to drop its NodePorts', async () => !/dnat to/.test(await runIn(A.ns, 'nft', ['list', 'table', 'ip', 'tsvpp'])));
    for (const [ns, host, port] of [[B.ns, A.ip, NODE_PORT], [A.ns, CLUSTER_IP, 80]] as const) {
      const [r] = await connect(ns, host, port, 1);
      assert.ok(r!.error && r!.error !== 'timeout', `${host}:${port} without endpoints: refused at once, got ${JSON.stringify(r)}`);
    }
    rmSync(join(manifests, 'web.yaml'));
    for (const n of [A, B]) {
      await until(`node ${n.name}: the Service gone from its host and VPP`, async () => !(await n.hostRoutes()).some((r) => r.startsWith('10.96.')) && !/10\.96\./.test(await n.vpp.cli('show cnat translation')));
    }
  } finally {
    for (const c of servers) c.kill('SIGKILL');
  }
});

/** GET http://host:port/ from namespace `ns`: the status and body, or the error's code. */
async function healthOf(ns: string, host: string, port: number): Promise<{ status?: number; body?: any; error?: string }> {
  const script = `require('http').get({ host: '${host}', port: ${port}, path: '/', agent: false, timeout: 5000 }, (r) => { let b = ''; r.on('data', (d) => { b += d; }); r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, body: JSON.parse(b) }))); }).on('error', (e) => console.log(JSON.stringify({ error: e.code || e.message })));`;
  return JSON.parse(await runIn(ns, process.execPath, ['-e', script]));
}

test('externalTrafficPolicy Local (a LoadBalancer with a backend on each node): each node\'s NodePort reaches its own backend only and the backend sees the client\'s own address; with the backend on node a only, node b refuses at once; the health check node port says 200 where a backend is, 503 where none is; gone with the Service', async () => {
  const NP = 30081, HC = 32081;
  const lb = (eps: Array<{ ip: string; node: string }>) => `apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.21
  clusterIPs: [10.96.0.21]
  externalTrafficPolicy: Local
  healthCheckNodePort: ${HC}
  ports:
    - {name: http, port: 80, targetPort: 8080, nodePort: ${NP}, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: lb-1, namespace: default, labels: {kubernetes.io/service-name: lb}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [${eps.map((e) => `{addresses: [${e.ip}], nodeName: ${e.node}}`).join(', ')}]
`;
  const servers = [A, B].map((n) => serve(n.pod.ns, `pod-${n.name}`));
  const nft = (n: Node) => runIn(n.ns, 'nft', ['list', 'table', 'ip', 'tsvpp']);
  const body = (name: string, local: number) => ({ service: { namespace: 'default', name }, localEndpoints: local, serviceProxyHealthy: true });
  try {
    await Promise.all(servers.map(ready));
    writeFileSync(join(manifests, 'lb.yaml'), lb([{ ip: A.pod.eth0, node: A.name }, { ip: B.pod.eth0, node: B.name }]));
    for (const n of [A, B]) await until(`node ${n.name}: the NodePort in its host's table`, async () => new RegExp(`tcp dport ${NP} dnat to 169\\.254\\.100\\.1`).test(await nft(n)));
    // Under Cluster a node would spread these over both backends and source-NAT the remote ones.
    await assertServed(B.ns, A.ip, NP, 'pod-a', B.ip, 'host b → node a\'s NodePort: node a\'s backend only, the client\'s address kept');
    await assertServed(A.ns, B.ip, NP, 'pod-b', A.ip, 'host a → node b\'s NodePort: node b\'s backend only, the client\'s address kept');
    for (const [n, from] of [[A, B], [B, A]] as const) {
      await until(`node ${n.name}: its health check answers`, async () => (await healthOf(from.ns, n.ip, HC)).status === 200);
      assert.equal(await healthOf(from.ns, n.ip, HC), { status: 200, body: body('lb', 1) });
    }
    // The backend on node b goes: node b keeps no NodePort, and says so.
    writeFileSync(join(manifests, 'lb.yaml'), lb([{ ip: A.pod.eth0, node: A.name }]));
    await until('node b: the NodePort gone from its host', async () => !new RegExp(`dport ${NP}`).test(await nft(B)));
    const [r] = await connect(A.ns, B.ip, NP, 1);
    assert.ok(r!.error && r!.error !== 'timeout', `node b's NodePort without a local endpoint: refused at once, got ${JSON.stringify(r)}`);
    await assertServed(B.ns, A.ip, NP, 'pod-a', B.ip, 'host b → node a\'s NodePort');
    await until('node b: its health check says none', async () => (await healthOf(A.ns, B.ip, HC)).status === 503);
    assert.equal(await healthOf(A.ns, B.ip, HC), { status: 503, body: body('lb', 0) });
    assert.equal(await healthOf(B.ns, A.ip, HC), { status: 200, body: body('lb', 1) });
    rmSync(join(manifests, 'lb.yaml'));
    for (const [n, from] of [[A, B], [B, A]] as const) await until(`node ${n.name}: the health check port closed`, async () => (await healthOf(from.ns, n.ip, HC)).error === 'ECONNREFUSED');
    await until('node a: the NodePort gone from its host', async () => !new RegExp(`dport ${NP}`).test(await nft(A)));
  } finally {
    for (const c of servers) c.kill('SIGKILL');
  }
});

test('a load balancer IP (announced by node a, as MetalLB\'s L2 mode does) and an external IP (routed to node b) from the outside: through node a to the backend on node b, source-NATed to node a\'s gateway; through node b to its own backend, the client\'s address kept; pods and hosts reach both; under externalTrafficPolicy Local node a refuses the outside at once while pods still reach the backend; only the Service\'s port is taken; gone with the Service', async () => {
  const LB_IP = '203.0.113.20', EXT_IP = '198.51.100.20';
  const server = serve(B.pod.ns, 'pod-b');
  const ext = (policy: string) => `apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.22
  externalIPs: [${EXT_IP}]
  externalTrafficPolicy: ${policy}
  ports: [{port: 80, targetPort: 8080, nodePort: 30082, protocol: TCP}]
status:
  loadBalancer: {ingress: [{ip: ${LB_IP}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ext-1, namespace: default, labels: {kubernetes.io/service-name: ext}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints: [{addresses: [${B.pod.eth0}], nodeName: b}]
`;
  const nft = (n: Node) => runIn(n.ns, 'nft', ['list', 'table', 'ip', 'tsvpp']);
  try {
    await ready(server);
    writeFileSync(join(manifests, 'ext.yaml'), ext('Cluster'));
    await ip(['route', 'add', `${LB_IP}/32`, 'via', A.ip], OUT);
    await ip(['route', 'add', `${EXT_IP}/32`, 'via', B.ip], OUT);
    for (const n of [A, B]) {
      await until(`node ${n.name}: both addresses' port DNATed to VPP`, async () => {
        const t = await nft(n);
        return t.includes(`ip daddr ${LB_IP} tcp dport 80 dnat to 169.254.100.1:`) && t.includes(`ip daddr ${EXT_IP} tcp dport 80 dnat to 169.254.100.1:`);
      });
      assert.not.ok((await n.hostRoutes()).some((r) => r.startsWith(`${LB_IP} `) || r.startsWith(`${EXT_IP} `)), `node ${n.name}: the addresses themselves are not routed into VPP`);
    }
    await assertServed(OUT, LB_IP, 80, 'pod-b', A.vtep, 'outside → the load balancer IP at node a, backend on node b');
    await assertServed(OUT, EXT_IP, 80, 'pod-b', B.router, 'outside → the external IP at node b, its own backend: the client\'s address kept');
    await assertServed(A.pod.ns, LB_IP, 80, 'pod-b', A.pod.eth0, 'pod a → the load balancer IP (translated in VPP a)');
    await assertServed(A.ns, EXT_IP, 80, 'pod-b', A.vtep, 'host a → the external IP');
    // Only port 80 is the Service's: nothing else of either address is taken on the hosts.
    for (const n of [A, B]) assert.equal((await nft(n)).split('\n').filter((l) => l.includes(LB_IP) || l.includes(EXT_IP)).map((l) => / dport (\d+) /.exec(l)?.[1]), ['80', '80'], `node ${n.name}`);

    writeFileSync(join(manifests, 'ext.yaml'), ext('Local'));
    await until('node a: the load balancer IP refused from outside', async () => (await nft(A)).includes(`ip daddr ${LB_IP} tcp dport 80 reject with tcp reset`));
    const [r] = await connect(OUT, LB_IP, 80, 1);
    assert.ok(r!.error && r!.error !== 'timeout', `node a has no local endpoint: refused at once, got ${JSON.stringify(r)}`);
    await assertServed(OUT, EXT_IP, 80, 'pod-b', B.router, 'outside → the external IP at node b, Local: its own backend');
    await assertServed(A.pod.ns, LB_IP, 80, 'pod-b', A.pod.eth0, 'pod a → the load balancer IP under Local: still every endpoint (in-cluster traffic, as kube-proxy)');

    rmSync(join(manifests, 'ext.yaml'));
    for (const n of [A, B]) await until(`node ${n.name}: nothing of the addresses left in its table`, async () => !(await nft(n)).includes(LB_IP) && !(await nft(n)).includes(EXT_IP));
  } finally {
    server.kill('SIGKILL');
    await ip(['route', 'del', `${LB_IP}/32`], OUT).catch(() => undefined);
    await ip(['route', 'del', `${EXT_IP}/32`], OUT).catch(() => undefined);
  }
});

test('service-endpoint-if veth1 on node a: a client on node b reaches it through the ClusterIP on veth1 (SYN and SYN-ACK there, none on eth0), the reply from the ClusterIP; a ping to the pod IP arrives on eth0; DEL takes the pod-IP translation', async () => {
  const id = `c${rnd}sep`, ns = await netns(`tc${rnd}psep`), SEP_VIP = '10.96.0.20';
  const add = await runCni({ command: 'ADD', containerId: id, netns: ns, pod: 'sep', agentSocket: A.cniSocket });
  assert.is(add.code, 0, `ADD sep on node a: ${JSON.stringify(add.out)} ${add.stderr}`);
  const addr = (name: string) => add.out.ips.find((x: any) => x.interface === add.out.interfaces.findIndex((i: any) => i.name === name)).address.split('/')[0] as string;
  const podIp = addr('eth0'), sepIp = addr('veth1');
  const server = serve(ns, 'pod-sep');
  let deleted = false;
  try {
    await ready(server);
    writeFileSync(join(manifests, 'sep.yaml'), `apiVersion: v1
kind: Service
metadata: {name: sep, namespace: default}
spec:
  clusterIP: ${SEP_VIP}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: sep-1, namespace: default, labels: {kubernetes.io/service-name: sep}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints: [{addresses: [${podIp}]}]
`);
    // Node b translates the ClusterIP to the pod IP (all it knows); node a moves podIP:8080 on to veth1.
    const podIpTr = new RegExp(`${reIp(podIp)};8080[^]*?${reIp(sepIp)};8080`);
    await until('node b to translate the ClusterIP to the pod IP', async () => new RegExp(`${reIp(SEP_VIP)};80[^]*?${reIp(podIp)};8080`).test(await B.vpp.cli('show cnat translation')));
    await until('node a to translate the pod IP to veth1', async () => podIpTr.test(await A.vpp.cli('show cnat translation')));
    let got: Awaited<ReturnType<typeof connect>> = [];
    const onVeth1 = await capture(ns, 'veth1', 'tcp port 8080', async () => { got = await connect(B.pod.ns, SEP_VIP, 80, 3); });
    assert.equal(got, [1, 2, 3].map(() => ({ backend: 'pod-sep', seen: B.pod.eth0, local: sepIp })),
      `pod b → ClusterIP: answered at veth1's address, seeing pod b itself (and the reply came from the ClusterIP: TCP completed)\nVPP a:\n${await A.vpp.cli('show cnat session')}`);
    assert.match(onVeth1, new RegExp(`${reIp(B.pod.eth0)}\\.\\d+ > ${reIp(sepIp)}\\.8080: Flags \\[S\\]`), `the SYN arrived on veth1:\n${onVeth1}`);
    assert.match(onVeth1, new RegExp(`${reIp(sepIp)}\\.8080 > ${reIp(B.pod.eth0)}\\.\\d+: Flags \\[S\\.\\]`), `the SYN-ACK left through veth1:\n${onVeth1}`);
    const onEth0 = await capture(ns, 'eth0', 'tcp port 8080', async () => { assert.is((await connect(B.pod.ns, SEP_VIP, 80, 1))[0]!.local, sepIp); });
    assert.not.match(onEth0, /8080/, `no service traffic on eth0:\n${onEth0}`);
    const pinged = await capture(ns, 'eth0', 'icmp', async () => { assert.is((await ping(B.pod.ns, podIp, { count: 2 })).received, 2, `pod b → ${podIp}`); });
    assert.match(pinged, new RegExp(`${reIp(B.pod.eth0)} > ${reIp(podIp)}: ICMP echo request`), `the ping arrived on eth0:\n${pinged}`);
    // DEL: the pod-IP translation is gone when DEL returns (before the address can be reused).
    server.kill('SIGKILL');
    const del = await runCni({ command: 'DEL', containerId: id, netns: ns, pod: 'sep', agentSocket: A.cniSocket });
    deleted = true;
    assert.is(del.code, 0, `DEL sep: ${JSON.stringify(del.out)} ${del.stderr}`);
    const after = await A.vpp.cli('show cnat translation');
    // (The ClusterIP's translation stays, to the pod IP the EndpointSlice still names.)
    assert.not.match(after, new RegExp(`\\] ${reIp(podIp)};8080 |${reIp(sepIp)}`), `node a after DEL: no translation of the pod IP, nothing to veth1\n${after}`);
  } finally {
    server.kill('SIGKILL');
    rmSync(join(manifests, 'sep.yaml'), { force: true });
    if (!deleted) await runCni({ command: 'DEL', containerId: id, netns: ns, pod: 'sep', agentSocket: A.cniSocket });
  }
  for (const n of [A, B]) await until(`node ${n.name}: the Service gone from VPP`, async () => !new RegExp(reIp(SEP_VIP)).test(await n.vpp.cli('show cnat translation')));
  await deleteNetns(ns);
  made.netns.delete(ns);
});

test('a node leaves (agent stopped, teardown, its Node deleted): nothing toward it stays on the other; it comes back', async () => {
  await B.stopAgent();
  const out = await B.teardown();
  assert.match(out, /removed nftables table ip tsvpp/);
  assert.equal(await B.tunnels(), [], 'node b: no tunnel after teardown');
  assert.equal(await B.hostRoutes(), [], 'node b: no host route after teardown');
  setNodes(A);
  await until('node a to drop node b', async () => (await A.toward(B)).length === 0);
  assert.equal(await A.toward(B), []);
  assert.is((await ping(A.pod.ns, B.pod.eth0, { count: 2 })).received, 0, 'no path to node b\'s pod');
  await assertReaches(A.pod.ns, OUTSIDE, 'node a still reaches the outside');

  setNodes(A, B);
  await B.startAgent();
  await until('node a to take node b back', () => A.connected(B));
  await until('node b to take node a back', () => B.connected(A));
  for (const [p, q] of [[A.pod, B.pod], [B.pod, A.pod]] as const) {
    await assertReaches(p.ns, q.eth0, `default network again ${p.eth0} → ${q.eth0}`);
    await assertReaches(p.ns, q.l2, `L2 again ${p.l2} → ${q.l2}`, { dev: 'l2' });
    await assertReaches(p.ns, q.l3, `L3 again ${p.l3} → ${q.l3}`, { dev: 'l3' });
  }
  await assertReaches(B.pod.ns, OUTSIDE, 'node b\'s pod reaches the outside again');
});

test('DEL, teardown, VPP stopped, namespaces deleted: nothing is left', async () => {
  for (const n of [A, B]) {
    await n.delPod();
    await n.stopAgent();
    await n.teardown();
    assert.equal(await n.tunnels(), [], `node ${n.name}: tunnels`);
    // The node's networks (gateway loopbacks, VRFs, bridge domains) stay for the next pod, as on one node.
    assert.equal((await n.tagged()).filter((t) => !t.includes(' tsvpp-net:')), [], `node ${n.name}: VPP interfaces of the agent`);
    assert.equal(await n.hostRoutes(), [], `node ${n.name}: host routes`);
    assert.equal((await n.links()).filter((l) => l.startsWith('tsv')), [], `node ${n.name}: links`);
    assert.not.match(await n.nftTables(), /table ip tsvpp\b/);
    await n.api.close();
    await n.vpp.stop();
  }
  for (const ns of [...made.netns]) { await deleteNetns(ns); made.netns.delete(ns); }
  const left = (await ip(['netns', 'list'])).split('\n').filter((l) => l.startsWith(`tc${rnd}`));
  assert.equal(left, [], 'network namespaces');
  assert.not.ok(existsSync(A.vpp.info.runtimeDir) || existsSync(B.vpp.info.runtimeDir), 'VPP runtime dirs');
  assert.equal(readdirSync('/dev/shm').filter((f) => f.startsWith(`${A.vpp.name}-`) || f.startsWith(`${B.vpp.name}-`)), [], 'VPP shared memory');
});

test.run();
