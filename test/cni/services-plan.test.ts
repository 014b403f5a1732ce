// The service proxy's decisions: Service and EndpointSlice objects parsed (errors named), and the
// plan of translations and reject routes computed from them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { endpointSliceFromObject, serviceFromObject } from '../../src/cni/services/objects.js';
import { planServices, translationKey } from '../../src/cni/services/plan.js';
import type { EndpointSliceInfo, ServiceInfo } from '../../src/cni/services/types.js';

const svc = (name: string, spec: Record<string, unknown>, ns = 'default') => serviceFromObject({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec }, 'test');
const slice = (name: string, service: string, o: { ports?: unknown[]; endpoints?: unknown[]; addressType?: string; ns?: string }) => endpointSliceFromObject({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: o.ns ?? 'default', labels: { 'kubernetes.io/service-name': service } },
  addressType: o.addressType ?? 'IPv4', ports: o.ports ?? [], endpoints: o.endpoints ?? [],
}, 'test');
const ep = (ip: string, ready?: boolean) => ({ addresses: [ip], ...(ready === undefined ? {} : { conditions: { ready } }) });
const plan = (services: ServiceInfo[], slices: EndpointSliceInfo[], o: { rewrites?: Record<string, string>; vip?: string } = {}) =>
  planServices({ services, slices, endpointRewrites: new Map(Object.entries(o.rewrites ?? {})), nodeName: 'n1', podSubnet: '10.1.0.0/16', ...(o.vip ? { nodePortVip: o.vip } : {}) });

test('objects: a Service and an EndpointSlice as the API writes them', () => {
  const s = svc('web', { type: 'NodePort', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], sessionAffinity: 'ClientIP', internalTrafficPolicy: 'Local',
    ports: [{ name: 'http', port: 80, targetPort: 'http-port', nodePort: 30080 }, { name: 'dns', protocol: 'UDP', port: 53, targetPort: '5353' }] });
  assert.equal(s, { namespace: 'default', name: 'web', type: 'NodePort', affinity: 'ClientIP', internalTrafficPolicy: 'Local', externalTrafficPolicy: 'Cluster', clusterIPs: ['10.96.0.10'], externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: false, ports: [
    { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http-port', nodePort: 30080 },
    { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 },
  ] });
  assert.equal(svc('h', { clusterIP: 'None', ports: [{ port: 80 }] }).clusterIPs, [], 'headless: no virtual IP');
  assert.equal(svc('d', { clusterIPs: ['10.96.0.11', 'fd00::11'], ports: [{ port: 80 }] }).clusterIPs, ['10.96.0.11'], 'IPv4 only');
  const sl = slice('web-abc', 'web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['10.1.1.2'], conditions: { ready: false }, nodeName: 'n1', targetRef: { kind: 'Pod', name: 'p1', namespace: 'default' } }] });
  assert.equal(sl, { namespace: 'default', name: 'web-abc', service: 'web', addressType: 'IPv4', ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: [{ addresses: ['10.1.1.2'], ready: false, serving: false, terminating: false, nodeName: 'n1', pod: { namespace: 'default', name: 'p1' } }] });
});

test('objects: externalIPs and a LoadBalancer\'s ingress IPs (IPv4; ipMode Proxy, hostnames and malformed status entries skipped; none for other types); loadBalancerSourceRanges', () => {
  const lb = (type: string, ingress: unknown, spec: Record<string, unknown> = {}) => serviceFromObject({
    metadata: { name: 'lb' }, spec: { type, clusterIP: '10.96.0.20', externalIPs: ['198.51.100.7', 'fd00::7', '198.51.100.7'], ports: [{ port: 80 }], ...spec }, status: { loadBalancer: { ingress } },
  }, 'test');
  const s = lb('LoadBalancer', [{ ip: '203.0.113.7' }, { ip: '203.0.113.8', ipMode: 'VIP' }, { ip: '203.0.113.9', ipMode: 'Proxy' }, { hostname: 'lb.example.com' }, { ip: '2001:db8::1' }, { ip: null }, { ip: 'lb' }, 'x']);
  assert.equal([s.externalIPs, s.loadBalancerIPs, s.loadBalancerSourceRanges], [['198.51.100.7'], ['203.0.113.7', '203.0.113.8'], false]);
  // The status is the controller's: a malformed one costs its entries, not the Service (its ClusterIP stays).
  assert.equal([lb('LoadBalancer', 'x').loadBalancerIPs, lb('LoadBalancer', 'x').clusterIPs], [[], ['10.96.0.20']]);
  assert.equal(lb('NodePort', [{ ip: '203.0.113.7' }]).loadBalancerIPs, [], 'a status left from when it was a LoadBalancer');
  assert.is(lb('LoadBalancer', [], { loadBalancerSourceRanges: ['10.0.0.0/8'] }).loadBalancerSourceRanges, true);
  assert.equal(svc('n', { ports: [{ port: 80 }] }).externalIPs, []);
  assert.throws(() => svc('x', { externalIPs: ['198.51.100.300'] }), /Service default\/x: spec.externalIPs: "198.51.100.300" is not an IP address/);
  assert.throws(() => svc('x', { externalIPs: '198.51.100.7' }), /spec.externalIPs: not a list of addresses/);
});

test('objects: malformed Services and EndpointSlices are named with the field', () => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => svc('a', { type: 'Weird' }), /Service default\/a: spec.type "Weird"/],
    [() => svc('a', { ports: [{ port: 0 }] }), /spec.ports\[0\].port: 0 is not a port/],
    [() => svc('a', { ports: [{ port: 80, protocol: 'ICMP' }] }), /spec.ports\[0\].protocol: "ICMP" \(expected TCP, UDP or SCTP\)/],
    [() => svc('a', { ports: [{ port: 80 }, { port: 81 }] }), /spec.ports\[0\]: a Service with several ports must name each of them/],
    [() => svc('a', { clusterIPs: ['10.96.0.300'] }), /spec.clusterIPs: "10.96.0.300" is not an IP address/],
    [() => svc('a', { sessionAffinity: 'Cookie' }), /spec.sessionAffinity "Cookie"/],
    [() => serviceFromObject({ spec: {} }, 'f.yaml document 2'), /f.yaml document 2: Service without metadata.name/],
    [() => endpointSliceFromObject({ metadata: { name: 'x' }, addressType: 'IPv4' }, 'w'), /EndpointSlice default\/x: no kubernetes.io\/service-name label/],
    [() => slice('x', 's', { addressType: 'IPX' }), /addressType "IPX"/],
    [() => slice('x', 's', { endpoints: [{ addresses: ['10.1.1.999'] }] }), /endpoints\[0\].addresses: "10.1.1.999" is not an IPv4 address/],
    [() => slice('x', 's', { ports: [{ port: 70000 }] }), /ports\[0\].port: 70000 is not a port/],
  ];
  for (const [f, re] of cases) {
    try { f(); assert.unreachable(String(re)); } catch (e) { assert.match((e as Error).message, re); }
  }
});

test('plan: ClusterIP port to the ready endpoints at the slice\'s port; not-ready ones left out; every ClusterIP rejected otherwise', () => {
  const p = plan([svc('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'metrics', port: 9090 }] })], [
    slice('web-1', 'web', { ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9100 }], endpoints: [ep('10.1.1.3'), ep('10.1.1.2', true), ep('10.1.1.9', false)] }),
    slice('web-2', 'web', { ports: [{ name: 'http', port: 8080 }], endpoints: [ep('10.1.2.2'), ep('10.1.1.2')] }),
  ]);
  assert.equal(p.translations, [
    { vip: '10.96.0.10', port: 80, proto: 'TCP', backends: [{ ip: '10.1.1.2', port: 8080 }, { ip: '10.1.1.3', port: 8080 }, { ip: '10.1.2.2', port: 8080 }], affinity: false },
    { vip: '10.96.0.10', port: 9090, proto: 'TCP', backends: [{ ip: '10.1.1.2', port: 9100 }, { ip: '10.1.1.3', port: 9100 }], affinity: false },
  ]);
  assert.equal(p.rejects, ['10.96.0.10']);
  assert.equal(p.nodePorts, []);
});

test('plan: no ready endpoint = no translation (the reject route answers); headless and ExternalName get nothing', () => {
  const p = plan([
    svc('empty', { clusterIP: '10.96.0.20', ports: [{ port: 80 }] }),
    svc('allgone', { clusterIP: '10.96.0.21', ports: [{ port: 80 }] }),
    svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
    svc('ext', { type: 'ExternalName', externalName: 'example.org' }),
  ], [slice('allgone-1', 'allgone', { ports: [{ name: '', port: 80 }], endpoints: [ep('10.1.1.5', false)] }), slice('headless-1', 'headless', { ports: [{ port: 80 }], endpoints: [ep('10.1.1.6')] })]);
  assert.equal(p.translations, []);
  assert.equal(p.rejects, ['10.96.0.20', '10.96.0.21']);
});

test('plan: a slice of another namespace, another Service, another protocol or IPv6 does not count', () => {
  const p = plan([svc('dns', { clusterIP: '10.96.0.53', ports: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53 }] })], [
    slice('dns-1', 'dns', { ports: [{ name: 'dns', protocol: 'UDP', port: 5353 }], endpoints: [ep('10.1.1.7')] }),
    slice('dns-x', 'dns', { ns: 'other', ports: [{ name: 'dns-tcp', port: 53 }], endpoints: [ep('10.1.1.8')] }),
    slice('dns-6', 'dns', { addressType: 'IPv6', ports: [{ name: 'dns-tcp', port: 53 }], endpoints: [{ addresses: ['fd00::7'] }] }),
    slice('web-1', 'web', { ports: [{ name: 'dns-tcp', port: 53 }], endpoints: [ep('10.1.1.9')] }),
  ]);
  assert.equal(p.translations.map((t) => `${translationKey(t)} -> ${t.backends.map((b) => `${b.ip}:${b.port}`).join(',')}`), ['10.96.0.53:53/UDP -> 10.1.1.7:5353']);
});

test('plan: a pod with a service-endpoint interface is a backend at that interface\'s address', () => {
  const p = plan([svc('web', { clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] })],
    [slice('web-1', 'web', { ports: [{ port: 8080 }], endpoints: [ep('10.1.1.2'), ep('10.1.1.4')] })], { rewrites: { '10.1.1.2': '10.1.1.3' } });
  assert.equal(p.translations.find((t) => t.vip === '10.96.0.10')!.backends, [{ ip: '10.1.1.3', port: 8080 }, { ip: '10.1.1.4', port: 8080 }]);
});

test('plan: a local service-endpoint pod\'s IP at each ready target port is translated to its interface (for clients on other nodes); nothing for other pods, ports or not-ready endpoints', () => {
  const p = plan([
    svc('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }),
    svc('web2', { clusterIP: '10.96.0.11', ports: [{ port: 81, targetPort: 8080 }] }),
    svc('headless', { clusterIP: 'None', ports: [{ port: 9000 }] }),
    svc('cold', { clusterIP: '10.96.0.12', ports: [{ port: 7000 }] }),
  ], [
    slice('web-1', 'web', { ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }], endpoints: [ep('10.1.1.2'), ep('10.1.2.2')] }),
    slice('web2-1', 'web2', { ports: [{ port: 8080 }], endpoints: [ep('10.1.1.2')] }),
    slice('headless-1', 'headless', { ports: [{ port: 9000 }], endpoints: [ep('10.1.1.2')] }),
    slice('cold-1', 'cold', { ports: [{ port: 7000 }], endpoints: [ep('10.1.1.2', false)] }),
  ], { rewrites: { '10.1.1.2': '10.1.1.3' } });
  const podIp = p.translations.filter((t) => t.vip.startsWith('10.1.'));
  assert.equal(podIp, [
    { vip: '10.1.1.2', port: 53, proto: 'UDP', backends: [{ ip: '10.1.1.3', port: 53 }], affinity: false },
    { vip: '10.1.1.2', port: 8080, proto: 'TCP', backends: [{ ip: '10.1.1.3', port: 8080 }], affinity: false },
    { vip: '10.1.1.2', port: 9000, proto: 'TCP', backends: [{ ip: '10.1.1.3', port: 9000 }], affinity: false },
  ], 'one per (port, protocol), shared by web and web2; headless too; not the not-ready one; nothing for the remote 10.1.2.2');
  assert.equal(p.warnings, [], 'two Services on one pod port is no conflict');
  assert.not.ok(plan([svc('web', { clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] })],
    [slice('web-1', 'web', { ports: [{ port: 8080 }], endpoints: [ep('10.1.1.2')] })]).translations.some((t) => t.vip === '10.1.1.2'), 'no service-endpoint pod: no pod-IP translation');
});

test('plan: ClientIP affinity, NodePorts on the node\'s VIP only when it has one, and only those with backends', () => {
  const services = [
    svc('np', { type: 'NodePort', clusterIP: '10.96.0.30', sessionAffinity: 'ClientIP', ports: [{ name: 'a', port: 80, nodePort: 30080 }, { name: 'b', port: 81, nodePort: 30081 }] }),
    svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.31', ports: [{ port: 443, protocol: 'TCP', nodePort: 30443 }] }),
  ];
  const slices = [slice('np-1', 'np', { ports: [{ name: 'a', port: 8080 }], endpoints: [ep('10.1.1.2')] }), slice('lb-1', 'lb', { ports: [{ port: 8443 }], endpoints: [ep('10.1.1.3')] })];
  const without = plan(services, slices);
  assert.equal(without.translations.map(translationKey), ['10.96.0.30:80/TCP', '10.96.0.31:443/TCP']);
  assert.equal(without.nodePorts, []);
  const p = plan(services, slices, { vip: '169.254.100.1' });
  assert.equal(p.translations.map((t) => `${translationKey(t)}${t.affinity ? ' affinity' : ''}`),
    ['10.96.0.30:80/TCP affinity', '10.96.0.31:443/TCP', '169.254.100.1:30080/TCP affinity', '169.254.100.1:30443/TCP']);
  assert.equal(p.nodePorts, [{ proto: 'TCP', port: 30080 }, { proto: 'TCP', port: 30443 }]);
});

test('plan: internalTrafficPolicy Local sends ClusterIP traffic to this node\'s ready endpoints only (no node named: not local); none here = no translation, the ClusterIP refused; NodePorts still go to all', () => {
  const local = (name: string, clusterIP: string) => svc(name, { type: 'NodePort', clusterIP, internalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30090 + Number(clusterIP.slice(-1)) }] });
  const at = (ip: string, nodeName?: string, ready = true) => ({ addresses: [ip], conditions: { ready }, ...(nodeName ? { nodeName } : {}) });
  const p = plan([local('mixed', '10.96.0.51'), local('remote', '10.96.0.52')], [
    slice('mixed-1', 'mixed', { ports: [{ port: 8080 }], endpoints: [at('10.1.1.2', 'n1'), at('10.1.2.2', 'n2'), at('10.1.1.3', 'n1', false), at('10.1.3.2')] }),
    slice('remote-1', 'remote', { ports: [{ port: 8080 }], endpoints: [at('10.1.2.3', 'n2')] }),
  ], { vip: '169.254.100.1' });
  const show = p.translations.map((t) => `${translationKey(t)} -> ${t.backends.map((b) => b.ip).join(',')}`);
  assert.equal(show, [
    '10.96.0.51:80/TCP -> 10.1.1.2',
    '169.254.100.1:30091/TCP -> 10.1.1.2,10.1.2.2,10.1.3.2',
    '169.254.100.1:30092/TCP -> 10.1.2.3',
  ]);
  assert.equal(p.rejects, ['10.96.0.51', '10.96.0.52']);
  assert.is(svc('c', { clusterIP: '10.96.0.53' }).internalTrafficPolicy, 'Cluster');
  assert.throws(() => svc('bad', { clusterIP: '10.96.0.54', internalTrafficPolicy: 'Node' }), /Service default\/bad: spec\.internalTrafficPolicy "Node" \(expected Cluster or Local\)/);
});

test('plan: externalTrafficPolicy Local: NodePorts to this node\'s ready endpoints only (none here: no translation, not handed to VPP); a LoadBalancer\'s health check counts them, none included; no health check without NodePorts served', () => {
  const at = (ip: string, nodeName?: string) => ({ addresses: [ip], ...(nodeName ? { nodeName } : {}) });
  const lb = (name: string, n: number) => svc(name, { type: 'LoadBalancer', clusterIP: `10.96.0.${n}`, externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 + n, ports: [{ port: 80, nodePort: 30000 + n }] });
  const services = [lb('here', 61), lb('away', 62), svc('np', { type: 'NodePort', clusterIP: '10.96.0.63', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30063 }] })];
  const slices = [
    slice('here-1', 'here', { ports: [{ port: 8080 }], endpoints: [at('10.1.1.2', 'n1'), at('10.1.2.2', 'n2'), at('10.1.1.3', 'n1'), at('10.1.3.3')] }),
    slice('away-1', 'away', { ports: [{ port: 8080 }], endpoints: [at('10.1.2.3', 'n2')] }),
    slice('np-1', 'np', { ports: [{ port: 8080 }], endpoints: [at('10.1.1.4', 'n1')] }),
  ];
  const p = plan(services, slices, { vip: '169.254.100.1' });
  assert.equal(p.translations.map((t) => `${translationKey(t)} -> ${t.backends.map((b) => b.ip).join(',')}`), [
    '10.96.0.61:80/TCP -> 10.1.1.2,10.1.1.3,10.1.2.2,10.1.3.3',
    '10.96.0.62:80/TCP -> 10.1.2.3',
    '10.96.0.63:80/TCP -> 10.1.1.4',
    '169.254.100.1:30061/TCP -> 10.1.1.2,10.1.1.3',
    '169.254.100.1:30063/TCP -> 10.1.1.4',
  ]);
  assert.equal(p.nodePorts, [{ proto: 'TCP', port: 30061 }, { proto: 'TCP', port: 30063 }]);
  assert.equal(p.healthChecks, [
    { namespace: 'default', name: 'away', port: 32062, localEndpoints: 0 },
    { namespace: 'default', name: 'here', port: 32061, localEndpoints: 2 },
  ]);
  assert.equal(plan(services, slices).healthChecks, [], 'no NodePorts served (no host link): no health checks either');
  const same = plan([lb('here', 61), svc('dup', { type: 'LoadBalancer', clusterIP: '10.96.0.64', externalTrafficPolicy: 'Local', healthCheckNodePort: 32061, ports: [{ port: 80, nodePort: 30064 }] })], [], { vip: '169.254.100.1' });
  assert.equal(same.healthChecks.map((h) => h.name), ['dup']);
  assert.equal(same.warnings, ['health check node port 32061 belongs to Service default/dup; Service default/here asks for it too and gets none']);
  assert.is(svc('c', { clusterIP: '10.96.0.65' }).externalTrafficPolicy, 'Cluster');
  assert.throws(() => svc('bad', { clusterIP: '10.96.0.66', externalTrafficPolicy: 'Global' }), /spec\.externalTrafficPolicy "Global" \(expected Cluster or Local\)/);
  assert.throws(() => svc('bad', { clusterIP: '10.96.0.66', healthCheckNodePort: 0 }), /spec\.healthCheckNodePort: 0 is not a port/);
});

test('plan: with no ready endpoint, those still serving while they terminate take the connections (kube-proxy\'s fallback), per policy: cluster-wide, and on this node under Local; the health check counts ready ones only', () => {
  const e = (ip: string, c: { ready?: boolean; serving?: boolean; terminating?: boolean }, nodeName?: string) => ({ addresses: [ip], conditions: c, ...(nodeName ? { nodeName } : {}) });
  const going = { ready: false, serving: true, terminating: true }, gone = { ready: false, serving: false, terminating: true };
  const p = plan([
    svc('mixed', { clusterIP: '10.96.0.71', ports: [{ port: 80 }] }),
    svc('last', { clusterIP: '10.96.0.72', ports: [{ port: 80 }] }),
    svc('dead', { clusterIP: '10.96.0.73', ports: [{ port: 80 }] }),
    svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.74', externalTrafficPolicy: 'Local', healthCheckNodePort: 32074, ports: [{ port: 80, nodePort: 30074 }] }),
  ], [
    slice('mixed-1', 'mixed', { ports: [{ port: 8080 }], endpoints: [e('10.1.1.2', {}), e('10.1.1.3', going)] }),
    slice('last-1', 'last', { ports: [{ port: 8080 }], endpoints: [e('10.1.1.4', going), e('10.1.1.5', gone), e('10.1.1.6', { ready: false })] }),
    slice('dead-1', 'dead', { ports: [{ port: 8080 }], endpoints: [e('10.1.1.7', gone)] }),
    slice('lb-1', 'lb', { ports: [{ port: 8080 }], endpoints: [e('10.1.2.2', {}, 'n2'), e('10.1.1.8', going, 'n1')] }),
  ], { vip: '169.254.100.1' });
  assert.equal(p.translations.map((t) => `${translationKey(t)} -> ${t.backends.map((b) => b.ip).join(',')}`), [
    '10.96.0.71:80/TCP -> 10.1.1.2',
    '10.96.0.72:80/TCP -> 10.1.1.4',
    '10.96.0.74:80/TCP -> 10.1.2.2',
    '169.254.100.1:30074/TCP -> 10.1.1.8',
  ]);
  assert.equal(p.healthChecks, [{ namespace: 'default', name: 'lb', port: 32074, localEndpoints: 0 }]);
  assert.equal(slice('x', 'x', { endpoints: [e('10.1.1.9', { ready: false })] }).endpoints.map((x) => [x.serving, x.terminating]), [[false, false]], 'serving follows ready when absent');
});

test('plan: external and load balancer IPs: in VPP to every endpoint (pods\' traffic); from outside, the host hands exactly address:port to a link port whose translation takes the endpoints externalTrafficPolicy picks, or refuses it; link ports clear of NodePorts and stable', () => {
  const lb = (policy: string, extra: Record<string, unknown> = {}) => serviceFromObject({
    metadata: { name: 'lb' },
    spec: { type: 'LoadBalancer', clusterIP: '10.96.0.20', externalIPs: ['198.51.100.7'], externalTrafficPolicy: policy, ports: [{ name: 'http', port: 80, nodePort: 30080 }], ...extra },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
  }, 'test');
  const sl = slice('lb-1', 'lb', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ...ep('10.1.1.2'), nodeName: 'n1' }, { ...ep('10.1.2.2'), nodeName: 'n2' }] });
  const all = ['10.1.1.2', '10.1.2.2'];
  const view = (p: ReturnType<typeof plan>) => p.translations.map((t) => `${translationKey(t)} ${t.backends.map((b) => b.ip).join(',')}`);
  const local = plan([lb('Local')], [sl], { vip: '169.254.100.1' });
  const [e1, e2] = local.externals;
  assert.equal(local.externals.map(({ ip, port, proto }) => `${ip}:${port}/${proto}`), ['198.51.100.7:80/TCP', '203.0.113.7:80/TCP']);
  for (const e of [e1!, e2!]) assert.ok(e.linkPort! >= 20000 && e.linkPort! < 30000, `link port ${e.linkPort}`);
  assert.is.not(e1!.linkPort, e2!.linkPort);
  assert.equal(view(local).sort(), [
    `10.96.0.20:80/TCP ${all}`, `169.254.100.1:30080/TCP 10.1.1.2`, `169.254.100.1:${e1!.linkPort}/TCP 10.1.1.2`, `169.254.100.1:${e2!.linkPort}/TCP 10.1.1.2`,
    `198.51.100.7:80/TCP ${all}`, `203.0.113.7:80/TCP ${all}`,
  ].sort());
  assert.equal(local.rejects, ['10.96.0.20'], 'no reject route for outside addresses: other ports and pings reach whoever has them');
  assert.equal(plan([lb('Cluster')], [sl], { vip: '169.254.100.1' }).externals, local.externals, 'link ports depend on the address and port only');
  // None here under Local: pods still served in VPP; from outside the host refuses it.
  const none = plan([lb('Local')], [slice('lb-1', 'lb', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ...ep('10.1.2.2'), nodeName: 'n2' }] })], { vip: '169.254.100.1' });
  assert.equal(view(none), ['10.96.0.20:80/TCP 10.1.2.2', '198.51.100.7:80/TCP 10.1.2.2', '203.0.113.7:80/TCP 10.1.2.2']);
  assert.equal(none.externals, [{ ip: '198.51.100.7', proto: 'TCP', port: 80 }, { ip: '203.0.113.7', proto: 'TCP', port: 80 }]);
  // No endpoint at all: nothing in VPP, refused from outside.
  const empty = plan([lb('Cluster')], [], { vip: '169.254.100.1' });
  assert.equal([empty.translations, empty.externals.map((e) => e.linkPort)], [[], [undefined, undefined]]);
  // Without a host link (no NodePorts served) pods still reach them through VPP; the host is not told.
  const noLink = plan([lb('Cluster')], [sl]);
  assert.equal([view(noLink), noLink.externals], [[`10.96.0.20:80/TCP ${all}`, `198.51.100.7:80/TCP ${all}`, `203.0.113.7:80/TCP ${all}`], []]);
  // loadBalancerSourceRanges not enforced: the load balancer IP fails closed, refused (the external IP, which the ranges do not cover, stays).
  const ranged = plan([lb('Cluster', { loadBalancerSourceRanges: ['10.0.0.0/8'] })], [sl], { vip: '169.254.100.1' });
  assert.not.ok(JSON.stringify(ranged.translations).includes('203.0.113.7'));
  assert.equal(ranged.externals.find((e) => e.ip === '203.0.113.7'), { ip: '203.0.113.7', proto: 'TCP', port: 80 });
  assert.ok(ranged.externals.some((e) => e.ip === '198.51.100.7' && e.linkPort !== undefined));
  assert.match(ranged.warnings.join(), /Service default\/lb: loadBalancerSourceRanges is not enforced, so its load balancer IPs \(203.0.113.7\) are refused/);
  // An address in the pod subnet, or a ClusterIP: left out, named.
  const bad = plan([lb('Cluster', { externalIPs: ['10.1.1.2', '10.96.0.20'] })], [sl], { vip: '169.254.100.1' });
  assert.equal(bad.externals.map((e) => e.ip), ['203.0.113.7']);
  assert.match(bad.warnings.join('\n'), /external address 10.1.1.2 is inside the pod subnet 10.1.0.0\/16: not served/);
  assert.match(bad.warnings.join('\n'), /external address 10.96.0.20 is a ClusterIP: not served/);
  assert.equal(bad.translations.filter((t) => t.vip === '10.96.0.20').map((t) => t.backends.length), [2], 'the ClusterIP\'s own translation untouched');
  // A link port any Service's NodePort holds is passed over, served here or not (Local, no endpoint here: it would move with the endpoints).
  const holder = serviceFromObject({ metadata: { name: 'np' }, spec: { type: 'NodePort', clusterIP: '10.96.0.30', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: e1!.linkPort }] } }, 'test');
  const clash = plan([lb('Cluster'), holder], [sl, slice('np-1', 'np', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ...ep('10.1.2.3'), nodeName: 'n2' }] })], { vip: '169.254.100.1' });
  assert.ok(clash.externals.every((e) => e.linkPort !== e1!.linkPort), JSON.stringify(clash.externals));
  assert.equal(clash.warnings, []);
});

test('plan: link ports stay put: a new Service whose address hashes to an existing one\'s port gets another (the last plan\'s kept); two Services on one address and port: the first by name has it, served or refused', () => {
  const ext = (name: string, ip: string, port = 80, endpoints = true) => ({
    svc: serviceFromObject({ metadata: { name }, spec: { clusterIP: `10.96.1.${name.length}`, externalIPs: [ip], ports: [{ name: 'p', port }] } }, 'test'),
    sl: slice(`${name}-1`, name, { ports: [{ name: 'p', port: 8080 }], endpoints: endpoints ? [ep(`10.1.1.${name.length + 10}`)] : [] }),
  });
  const z = ext('zz', '198.51.1.242');
  const first = plan([z.svc], [z.sl], { vip: '169.254.100.1' });
  const zPort = first.externals[0]!.linkPort!;
  // An address and port of another Service that hashes to z's link port, and sorts before it.
  let a: ReturnType<typeof ext> | undefined;
  for (let port = 1; port < 65536 && !a; port++) {
    const c = ext('a', '198.51.2.1', port);
    if (plan([c.svc], [c.sl], { vip: '169.254.100.1' }).externals[0]!.linkPort === zPort) a = c;
  }
  assert.ok(a, 'a colliding address and port exists');
  const linkPorts = new Map(first.externals.map((e) => [`${e.ip}:${e.port}/${e.proto}`, e.linkPort!]));
  const both = planServices({ services: [a!.svc, z.svc], slices: [a!.sl, z.sl], endpointRewrites: new Map(), nodeName: 'n1', podSubnet: '10.1.0.0/16', nodePortVip: '169.254.100.1', linkPorts });
  assert.is(both.externals.find((e) => e.ip === '198.51.1.242')!.linkPort, zPort, 'z keeps its port');
  assert.is.not(both.externals.find((e) => e.ip === '198.51.2.1')!.linkPort, zPort, 'the newcomer takes the next');
  // Shared address:port: "a-first" (no endpoints) sorts first and has it: refused, and the other is told.
  const x = ext('a-first', '198.51.100.7', 80, false), y = ext('b-second', '198.51.100.7');
  const shared = plan([y.svc, x.svc], [x.sl, y.sl], { vip: '169.254.100.1' });
  assert.equal(shared.externals, [{ ip: '198.51.100.7', proto: 'TCP', port: 80 }]);
  assert.match(shared.warnings.join(), /198.51.100.7:80\/TCP from outside belongs to Service default\/a-first; Service default\/b-second asks for it too/);
});

test('plan: two Services claiming one VIP port: the first by name keeps it, the other is named in a warning', () => {
  const p = plan([svc('b', { clusterIP: '10.96.0.40', ports: [{ port: 80 }] }), svc('a', { clusterIP: '10.96.0.40', ports: [{ port: 80 }] })],
    [slice('a-1', 'a', { ports: [{ port: 80 }], endpoints: [ep('10.1.1.2')] }), slice('b-1', 'b', { ports: [{ port: 80 }], endpoints: [ep('10.1.1.3')] })]);
  assert.equal(p.translations.map((t) => t.backends[0]!.ip), ['10.1.1.2']);
  assert.equal(p.warnings, ['10.96.0.40:80/TCP belongs to Service default/a; Service default/b asks for it too and is not served there']);
});

test('plan (property): every backend is a ready endpoint of that Service at a port its slices name; every translation has one; every ClusterIP is rejected', () => {
  const ip = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 5 })).map(([a, b]) => `10.1.${a}.${b}`);
  const arb = fc.record({
    services: fc.uniqueArray(fc.record({ name: fc.constantFrom('a', 'b', 'c'), vip: fc.integer({ min: 1, max: 3 }), ports: fc.uniqueArray(fc.constantFrom(80, 81, 53), { minLength: 1, maxLength: 2 }) }), { selector: (s) => s.name }),
    slices: fc.array(fc.record({ service: fc.constantFrom('a', 'b', 'c'), ports: fc.uniqueArray(fc.constantFrom(80, 81, 53), { maxLength: 3 }), eps: fc.array(fc.record({ ip, ready: fc.boolean() }), { maxLength: 4 }) }), { maxLength: 5 }),
  });
  fc.assert(fc.property(arb, ({ services, slices }) => {
    const S = services.map((s) => svc(s.name, { clusterIP: `10.96.0.${s.vip}`, ports: s.ports.map((port) => ({ name: `p${port}`, port })) }));
    const L = slices.map((s, i) => slice(`s${i}`, s.service, { ports: s.ports.map((port) => ({ name: `p${port}`, port: port + 8000 })), endpoints: s.eps.map((e) => ep(e.ip, e.ready)) }));
    const p = plan(S, L);
    const rewrites = { '10.1.1.2': '10.1.1.9' };
    const withRewrite = plan(S, L, { rewrites });
    // The rewritten pod's IP is a translation exactly at each port where it is a ready endpoint.
    const wantPorts = new Set(slices.flatMap((s, i) => (s.eps.some((e) => e.ready && e.ip === '10.1.1.2') && S.some((x) => x.name === L[i]!.service) ? s.ports.filter((port) => S.find((x) => x.name === L[i]!.service)!.ports.some((q) => q.port === port)).map((port) => port + 8000) : [])));
    const podIpTs = withRewrite.translations.filter((t) => t.vip === '10.1.1.2');
    assert.equal(new Set(podIpTs.map((t) => t.port)), wantPorts);
    for (const t of podIpTs) assert.equal(t.backends, [{ ip: '10.1.1.9', port: t.port }]);
    assert.equal(withRewrite.translations.filter((t) => t.vip !== '10.1.1.2').map(translationKey), p.translations.map(translationKey));
    for (const t of p.translations) {
      assert.ok(t.backends.length > 0);
      const owners = new Set(S.filter((s) => s.clusterIPs.includes(t.vip) && s.ports.some((x) => x.port === t.port)).map((s) => s.name));
      assert.ok(owners.size > 0);
      for (const b of t.backends) {
        assert.ok(slices.some((s, i) => owners.has(L[i]!.service) && (s.ports as number[]).includes(t.port) && b.port === t.port + 8000 && s.eps.some((e) => e.ready && e.ip === b.ip)), `${b.ip}:${b.port} for ${translationKey(t)}`);
      }
    }
    assert.equal(new Set(p.rejects), new Set(S.flatMap((s) => s.clusterIPs)));
  }), { numRuns: 300 });
});

test.run();
