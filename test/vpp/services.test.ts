// Kubernetes Services served by VPP (its cnat plugin), end to end on real VPP with real TCP and UDP:
// the agent reads Services and EndpointSlices from its manifests dir and programs VPP; pods wired by
// tsvpp-cni connect to ClusterIPs. Checked: a ClusterIP with two backends on two pods (connections
// spread over both; each backend saw the client's own address and the client's socket, connected to
// the ClusterIP, got the answer), UDP, sessionAffinity ClientIP (one backend per client), a backend
// removed from the EndpointSlice (no new connections to it), with none ready one still serving while
// it terminates (it takes the connections until a ready one is back), a Service without endpoints and a port
// no Service serves (refused at once, not a timeout), internalTrafficPolicy Local (this node's
// endpoint only; none here: refused at once), a pod reaching itself through its Service, a
// pod whose contivpp.io/service-endpoint-if is veth1 (its service traffic arrives on veth1, seen by
// tcpdump there, and the reply leaves through veth1, while a ping to its IP arrives on eth0), and
// everything gone from VPP once the Services are. The same with `service-endpoint-if: tap1` needs
// VPP's tap v2, which needs /dev/vhost-net: where it is missing (this machine) only veth1 is run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniNode } from './support/cni-node.js';
import { ipOf } from './support/cni-pods.js';
import { capture as captureIn } from './support/capture.js';

const PEER = join(dirname(fileURLToPath(import.meta.url)), 'support', 'svc-peer.js');
const pod = (name: string, ann = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
${ann ? `  annotations:\n${ann}` : ''}spec:
  containers:
    - name: c
      image: x
`;
const PODS = [
  pod('web-a'), pod('web-b'), pod('client'),
  pod('sep', '    contivpp.io/custom-if: veth1/veth\n    contivpp.io/service-endpoint-if: veth1\n'),
].join('---\n');

interface P { name: string; id: string; ns: string; add: any; ip: string }
let node: CniNode;
const pods: Record<string, P> = {};
const servers: ChildProcess[] = [];

function service(name: string, clusterIP: string, ports: Array<{ name: string; port: number; targetPort: number; protocol?: string }>, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  type: ClusterIP
  clusterIP: ${clusterIP}
  clusterIPs: [${clusterIP}]
${extra}  ports:
${ports.map((p) => `    - name: ${p.name}\n      port: ${p.port}\n      targetPort: ${p.targetPort}\n      protocol: ${p.protocol ?? 'TCP'}\n`).join('')}`;
}

function slice(svc: string, ports: Array<{ name: string; port: number; protocol?: string }>, eps: Array<{ ip: string; ready?: boolean; nodeName?: string; serving?: boolean; terminating?: boolean }>): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${svc}-x1
  namespace: default
  labels:
    kubernetes.io/service-name: ${svc}
addressType: IPv4
ports:
${ports.map((p) => `  - name: ${p.name}\n    port: ${p.port}\n    protocol: ${p.protocol ?? 'TCP'}\n`).join('')}endpoints:
${eps.map((e) => `  - addresses: [${e.ip}]\n    conditions:\n      ready: ${e.ready ?? true}\n${e.serving !== undefined ? `      serving: ${e.serving}\n` : ''}${e.terminating !== undefined ? `      terminating: ${e.terminating}\n` : ''}${e.nodeName ? `    nodeName: ${e.nodeName}\n` : ''}`).join('') || '  []\n'}`;
}

const WEB_PORTS = [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, targetPort: 8080, protocol: 'UDP' }];
const WEB_SLICE_PORTS = [{ name: 'http', port: 8080 }, { name: 'dns', port: 8080, protocol: 'UDP' }];

/** Starts the backend server in a pod and waits for it to listen on every address. */
async function serve(p: P, port: number): Promise<void> {
  const c = spawn('ip', ['netns', 'exec', p.ns, process.execPath, PEER, 'serve', String(port), p.name], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(c);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    c.stderr!.on('data', (d) => { err += d; });
    c.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    c.on('exit', (code) => reject(new Error(`server in ${p.name} exited ${code}: ${err}`)));
  });
}

type Attempt = { reply?: string; error?: string };
async function connectFrom(p: P, host: string, port: number, n: number, udp = false): Promise<Attempt[]> {
  return JSON.parse(await node.inNetns(p.ns, [process.execPath, PEER, 'connect', host, String(port), String(n), ...(udp ? ['udp'] : [])])) as Attempt[];
}

/** Replies parsed: which backend answered, and the client address it saw. */
function answers(as: Attempt[], what: string): Array<{ backend: string; seen: string; local: string }> {
  return as.map((a, i) => {
    assert.ok(a.reply, `${what}: attempt ${i + 1} failed: ${a.error}`);
    const [backend, seen, local] = a.reply!.split(' ');
    return { backend: backend!, seen: seen!.split(':')[0]!, local: local! };
  });
}

const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());

/** Waits until VPP's translation of `key` has exactly `backends`. */
function translated(key: string, backends: string[]): Promise<true> {
  return node.waitFor(`VPP translation ${key} -> ${backends.join(', ')}`, async () => {
    const got = (await node.serviceTranslations()).get(key) ?? [];
    return JSON.stringify(got) === JSON.stringify([...backends].sort()) ? true : undefined;
  });
}

test.before(async () => {
  node = await CniNode.start(PODS);
  for (const name of ['web-a', 'web-b', 'client', 'sep']) {
    const ns = await node.newNetns();
    const id = `s${name.replace('-', '')}${node.rnd}`;
    const add = await node.add(name, id, ns);
    pods[name] = { name, id, ns, add, ip: ipOf(add, 'eth0') };
  }
  for (const p of ['web-a', 'web-b', 'client', 'sep']) await serve(pods[p]!, 8080);
});

test.after(async () => {
  for (const s of servers) s.kill('SIGKILL');
  await node?.close();
});

test('ClusterIP with two backends on two pods: TCP connections spread over both, the client\'s address seen, the answer from the ClusterIP', async () => {
  const { client } = pods as Record<string, P>;
  node.writeManifest('web.yaml', `${service('web', '10.96.0.10', WEB_PORTS)}---\n${slice('web', WEB_SLICE_PORTS, [{ ip: pods['web-a']!.ip }, { ip: pods['web-b']!.ip }])}`);
  await translated('10.96.0.10:80/TCP', [`${pods['web-a']!.ip}:8080`, `${pods['web-b']!.ip}:8080`]);
  const got = answers(await connectFrom(client!, '10.96.0.10', 80, 24), 'client -> web');
  const by = count(got.map((g) => g.backend));
  assert.equal([...by.keys()].sort(), ['web-a', 'web-b'], `24 connections spread over both backends: ${JSON.stringify([...by])}`);
  for (const g of got) {
    assert.is(g.seen, client!.ip, 'the backend saw the client pod\'s own address (no source NAT between pods)');
    assert.is(g.local, pods[g.backend]!.ip, 'the backend was reached at its own address (destination translated)');
  }
});

test('ClusterIP over UDP: datagrams spread over both backends and answered from the ClusterIP', async () => {
  await translated('10.96.0.10:53/UDP', [`${pods['web-a']!.ip}:8080`, `${pods['web-b']!.ip}:8080`]);
  const got = answers(await connectFrom(pods['client']!, '10.96.0.10', 53, 24, true), 'client -> web dns');
  assert.equal([...count(got.map((g) => g.backend)).keys()].sort(), ['web-a', 'web-b']);
  for (const g of got) assert.is(g.seen, pods['client']!.ip);
});

test('sessionAffinity ClientIP: every connection of a client goes to one backend', async () => {
  node.writeManifest('sticky.yaml', `${service('sticky', '10.96.0.11', [WEB_PORTS[0]!], '  sessionAffinity: ClientIP\n')}---\n${slice('sticky', [WEB_SLICE_PORTS[0]!], [{ ip: pods['web-a']!.ip }, { ip: pods['web-b']!.ip }])}`);
  await translated('10.96.0.11:80/TCP', [`${pods['web-a']!.ip}:8080`, `${pods['web-b']!.ip}:8080`]);
  for (const p of ['client', 'sep'] as const) {
    const got = answers(await connectFrom(pods[p]!, '10.96.0.11', 80, 16), `${p} -> sticky`);
    assert.is(count(got.map((g) => g.backend)).size, 1, `${p}: all 16 connections on one backend: ${got.map((g) => g.backend).join(',')}`);
  }
  node.removeManifest('sticky.yaml');
  await node.waitFor('sticky translation removed', async () => ((await node.serviceTranslations()).has('10.96.0.11:80/TCP') ? undefined : true));
});

test('a backend removed from the EndpointSlice (not ready) gets no new connections', async () => {
  node.writeManifest('web.yaml', `${service('web', '10.96.0.10', WEB_PORTS)}---\n${slice('web', WEB_SLICE_PORTS, [{ ip: pods['web-a']!.ip }, { ip: pods['web-b']!.ip, ready: false }])}`);
  await translated('10.96.0.10:80/TCP', [`${pods['web-a']!.ip}:8080`]);
  const got = answers(await connectFrom(pods['client']!, '10.96.0.10', 80, 16), 'client -> web after web-b left');
  assert.equal([...count(got.map((g) => g.backend)).keys()], ['web-a']);
});

test('with no endpoint ready, one still serving while it terminates takes the connections (not one that stopped serving); a ready one takes them back', async () => {
  const web = (eps: Parameters<typeof slice>[2]) => `${service('web', '10.96.0.10', WEB_PORTS)}---\n${slice('web', WEB_SLICE_PORTS, eps)}`;
  node.writeManifest('web.yaml', web([{ ip: pods['web-a']!.ip, ready: false, serving: true, terminating: true }, { ip: pods['web-b']!.ip, ready: false, serving: false, terminating: true }]));
  await translated('10.96.0.10:80/TCP', [`${pods['web-a']!.ip}:8080`]);
  assert.equal([...count(answers(await connectFrom(pods['client']!, '10.96.0.10', 80, 8), 'client -> web, web-a terminating').map((g) => g.backend)).keys()], ['web-a']);
  node.writeManifest('web.yaml', web([{ ip: pods['web-a']!.ip, ready: false, serving: true, terminating: true }, { ip: pods['web-b']!.ip }]));
  await translated('10.96.0.10:80/TCP', [`${pods['web-b']!.ip}:8080`]);
  assert.equal([...count(answers(await connectFrom(pods['client']!, '10.96.0.10', 80, 8), 'client -> web, web-b ready').map((g) => g.backend)).keys()], ['web-b']);
  node.writeManifest('web.yaml', web([{ ip: pods['web-a']!.ip }, { ip: pods['web-b']!.ip, ready: false }]));
  await translated('10.96.0.10:80/TCP', [`${pods['web-a']!.ip}:8080`]);
});

test('a Service without endpoints, and a port no Service serves, are refused at once (not a timeout)', async () => {
  node.writeManifest('empty.yaml', `${service('empty', '10.96.0.12', [WEB_PORTS[0]!])}---\n${slice('empty', [WEB_SLICE_PORTS[0]!], [])}`);
  await node.waitFor('reject route for 10.96.0.12', async () => (node.agent!.services?.lastPlan?.rejects.includes('10.96.0.12') ? true : undefined));
  const t0 = Date.now();
  const [none] = await connectFrom(pods['client']!, '10.96.0.12', 80, 1);
  assert.ok(none!.error && none!.error !== 'timeout', `no endpoints: refused, got ${JSON.stringify(none)}`);
  // Sent within 100 ms of the SYN above, the first datagram gets no ICMP (VPP's rate limit per
  // client and ClusterIP, see svc-peer's UDP_RESEND_MS); its resend does, well before the timeout.
  const [udpNone] = await connectFrom(pods['client']!, '10.96.0.12', 80, 1, true);
  assert.ok(udpNone!.error && udpNone!.error !== 'timeout', `no endpoints over UDP: refused, got ${JSON.stringify(udpNone)}`);
  const [port] = await connectFrom(pods['client']!, '10.96.0.10', 81, 1);
  assert.ok(port!.error && port!.error !== 'timeout', `a port web does not serve: refused, got ${JSON.stringify(port)}`);
  assert.ok(Date.now() - t0 < 5000, `refusals took ${Date.now() - t0} ms`);
  // The endpoint comes: served.
  node.writeManifest('empty.yaml', `${service('empty', '10.96.0.12', [WEB_PORTS[0]!])}---\n${slice('empty', [WEB_SLICE_PORTS[0]!], [{ ip: pods['web-b']!.ip }])}`);
  await translated('10.96.0.12:80/TCP', [`${pods['web-b']!.ip}:8080`]);
  assert.equal(answers(await connectFrom(pods['client']!, '10.96.0.12', 80, 2), 'client -> empty with an endpoint').map((g) => g.backend), ['web-b', 'web-b']);
});

test('internalTrafficPolicy Local: connections go to this node\'s endpoint only; with none here the ClusterIP is refused at once', async () => {
  const here = node.config.nodeName;
  const local = (eps: Array<{ ip: string; nodeName?: string }>) => `${service('near', '10.96.0.15', [WEB_PORTS[0]!], '  internalTrafficPolicy: Local\n')}---\n${slice('near', [WEB_SLICE_PORTS[0]!], eps)}`;
  node.writeManifest('near.yaml', local([{ ip: pods['web-a']!.ip, nodeName: here }, { ip: pods['web-b']!.ip, nodeName: 'another-node' }]));
  await translated('10.96.0.15:80/TCP', [`${pods['web-a']!.ip}:8080`]);
  const got = answers(await connectFrom(pods['client']!, '10.96.0.15', 80, 12), 'client -> near');
  assert.equal([...count(got.map((g) => g.backend)).keys()], ['web-a'], 'only the endpoint on this node');
  node.writeManifest('near.yaml', local([{ ip: pods['web-b']!.ip, nodeName: 'another-node' }]));
  await node.waitFor('near translation removed', async () => ((await node.serviceTranslations()).has('10.96.0.15:80/TCP') ? undefined : true));
  const t0 = Date.now();
  const [none] = await connectFrom(pods['client']!, '10.96.0.15', 80, 1);
  assert.ok(none!.error && none!.error !== 'timeout', `no local endpoint: refused, got ${JSON.stringify(none)}`);
  assert.ok(Date.now() - t0 < 5000, `refused after ${Date.now() - t0} ms`);
  node.removeManifest('near.yaml');
});

test('a pod reaches itself through its Service (hairpin: source NAT to the node\'s gateway)', async () => {
  node.writeManifest('self.yaml', `${service('self', '10.96.0.13', [WEB_PORTS[0]!])}---\n${slice('self', [WEB_SLICE_PORTS[0]!], [{ ip: pods['client']!.ip }])}`);
  await translated('10.96.0.13:80/TCP', [`${pods['client']!.ip}:8080`]);
  const got = answers(await connectFrom(pods['client']!, '10.96.0.13', 80, 4), 'client -> itself');
  for (const g of got) {
    assert.is(g.backend, 'client');
    assert.is(g.seen, '10.1.9.1', 'the pod saw the node gateway as the source (its own address would not come back through VPP)');
  }
});

test('service-endpoint-if veth1: service traffic arrives on veth1 and its reply leaves there; a ping to the pod IP arrives on eth0', async () => {
  const sep = pods['sep']!;
  const sepIp = ipOf(sep.add, 'veth1');
  node.writeManifest('sepsvc.yaml', `${service('sepsvc', '10.96.0.14', [WEB_PORTS[0]!])}---\n${slice('sepsvc', [WEB_SLICE_PORTS[0]!], [{ ip: sep.ip }])}`);
  await translated('10.96.0.14:80/TCP', [`${sepIp}:8080`]);
  const capture = (dev: string, filter: string, action: () => Promise<unknown>) => captureIn(sep.ns, dev, filter, action);
  let got: ReturnType<typeof answers> = [];
  const onVeth1 = await capture('veth1', 'tcp port 8080', async () => { got = answers(await connectFrom(pods['client']!, '10.96.0.14', 80, 3), 'client -> sepsvc'); });
  for (const g of got) {
    assert.is(g.backend, 'sep');
    assert.is(g.local, sepIp, 'reached at veth1\'s address');
    assert.is(g.seen, pods['client']!.ip);
  }
  assert.match(onVeth1, new RegExp(`${pods['client']!.ip.replace(/\./g, '\\.')}\\.\\d+ > ${sepIp.replace(/\./g, '\\.')}\\.8080: Flags \\[S\\]`), `the SYN arrived on veth1:\n${onVeth1}`);
  assert.match(onVeth1, new RegExp(`${sepIp.replace(/\./g, '\\.')}\\.8080 > ${pods['client']!.ip.replace(/\./g, '\\.')}\\.\\d+: Flags \\[S\\.\\]`), `the SYN-ACK left through veth1:\n${onVeth1}`);
  const onEth0 = await capture('eth0', 'tcp port 8080', async () => { await connectFrom(pods['client']!, '10.96.0.14', 80, 1); });
  assert.not.match(onEth0, /8080/, `no service traffic on eth0:\n${onEth0}`);
  const ping = await capture('eth0', 'icmp', async () => {
    const r = await node.ping(pods['client']!.ns, sep.ip);
    assert.is(r.received, 1, r.output);
  });
  assert.match(ping, new RegExp(`${pods['client']!.ip.replace(/\./g, '\\.')} > ${sep.ip.replace(/\./g, '\\.')}: ICMP echo request`), `the ping arrived on eth0:\n${ping}`);
});

test('Services gone: their translations and reject routes leave VPP; DEL of the pods leaves nothing', async () => {
  for (const f of ['web.yaml', 'empty.yaml', 'self.yaml', 'sepsvc.yaml']) node.removeManifest(f);
  await node.waitFor('every translation removed', async () => ((await node.serviceTranslations()).size === 0 ? true : undefined));
  await node.waitFor('every reject route removed', async () => ((await node.rejectRoutes()).length === 0 ? true : undefined));
  for (const s of servers.splice(0)) s.kill('SIGKILL');
  const addrs = Object.values(pods).flatMap((p) => p.add.ips.map((x: any) => x.address));
  for (const p of Object.values(pods)) {
    const d = await node.cni('DEL', p.name, p.id, p.ns);
    assert.is(d.code, 0, JSON.stringify(d.out));
    await node.dropNetns(p.ns);
  }
  const left = Object.fromEntries(Object.entries(await node.leftovers(addrs)).filter(([, v]) => v.length > 0));
  assert.equal(left, {});
});

test.run();
