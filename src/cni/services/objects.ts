// Turns Service and EndpointSlice objects (parsed from YAML or returned by the API) into
// ServiceInfo / EndpointSliceInfo, naming the object and field when something is malformed.
import { parseIp4 } from '../ipv4.js';
import { ServiceSourceError, type Endpoint, type EndpointPort, type EndpointSliceInfo, type ServiceInfo, type ServicePort, type ServiceProtocol, type ServiceType } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const SERVICE_TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const PROTOCOLS: readonly ServiceProtocol[] = ['TCP', 'UDP', 'SCTP'];
/** The label the EndpointSlice controller puts on every slice: the Service it belongs to. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function meta(o: Obj, kind: string, where: string): { name: string; namespace: string; labels: Obj } {
  const m = isObj(o.metadata) ? o.metadata : {};
  if (typeof m.name !== 'string' || m.name === '') throw new ServiceSourceError(`${where}: ${kind} without metadata.name`);
  const namespace = typeof m.namespace === 'string' && m.namespace !== '' ? m.namespace : 'default';
  return { name: m.name, namespace, labels: isObj(m.labels) ? m.labels : {} };
}

function port(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new ServiceSourceError(`${what}: ${JSON.stringify(v)} is not a port (1-65535)`);
  return v;
}

function protocol(v: unknown, what: string): ServiceProtocol {
  if (v === undefined || v === null) return 'TCP';
  if (!PROTOCOLS.includes(v as ServiceProtocol)) throw new ServiceSourceError(`${what}: ${JSON.stringify(v)} (expected TCP, UDP or SCTP)`);
  return v as ServiceProtocol;
}

const isIp4 = (s: unknown): s is string => { try { parseIp4(String(s)); return typeof s === 'string'; } catch { return false; } };

/** A list of IP addresses: the IPv4 ones kept (IPv6 is not served), anything else an error naming it. */
function addresses(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ServiceSourceError(`${what}: not a list of addresses`);
  for (const ip of v) if (typeof ip !== 'string' || !(ip.includes(':') || isIp4(ip))) throw new ServiceSourceError(`${what}: ${JSON.stringify(ip)} is not an IP address`);
  return [...new Set((v as string[]).filter(isIp4))];
}

export function serviceFromObject(o: unknown, where: string): ServiceInfo {
  if (!isObj(o)) throw new ServiceSourceError(`${where}: Service is not an object`);
  const m = meta(o, 'Service', where);
  const w = `${where}: Service ${m.namespace}/${m.name}`;
  const spec = isObj(o.spec) ? o.spec : {};
  const type = (spec.type ?? 'ClusterIP') as ServiceType;
  if (!SERVICE_TYPES.includes(type)) throw new ServiceSourceError(`${w}: spec.type ${JSON.stringify(spec.type)} (expected ${SERVICE_TYPES.join(', ')})`);
  const ips = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : spec.clusterIP !== undefined ? [spec.clusterIP] : [];
  for (const ip of ips) {
    if (typeof ip !== 'string' || !(ip === 'None' || ip === '' || ip.includes(':') || isIp4(ip))) throw new ServiceSourceError(`${w}: spec.clusterIPs: ${JSON.stringify(ip)} is not an IP address`);
  }
  const rawPorts = Array.isArray(spec.ports) ? spec.ports : [];
  const ports: ServicePort[] = rawPorts.map((p, i) => {
    const pw = `${w}: spec.ports[${i}]`;
    if (!isObj(p)) throw new ServiceSourceError(`${pw}: not an object`);
    const name = typeof p.name === 'string' ? p.name : '';
    if (name === '' && rawPorts.length > 1) throw new ServiceSourceError(`${pw}: a Service with several ports must name each of them`);
    const number = port(p.port, `${pw}.port`);
    const tp = p.targetPort ?? number;
    let targetPort: number | string;
    if (typeof tp === 'string' && /^\d+$/.test(tp)) targetPort = port(Number(tp), `${pw}.targetPort`);
    else if (typeof tp === 'string' && tp !== '') targetPort = tp;
    else targetPort = port(tp, `${pw}.targetPort`);
    const nodePort = p.nodePort === undefined || p.nodePort === null ? undefined : port(p.nodePort, `${pw}.nodePort`);
    return { name, protocol: protocol(p.protocol, `${pw}.protocol`), port: number, targetPort, ...(nodePort !== undefined ? { nodePort } : {}) };
  });
  const affinity = spec.sessionAffinity ?? 'None';
  if (affinity !== 'None' && affinity !== 'ClientIP') throw new ServiceSourceError(`${w}: spec.sessionAffinity ${JSON.stringify(affinity)} (expected None or ClientIP)`);
  const policy = (field: 'internalTrafficPolicy' | 'externalTrafficPolicy'): 'Cluster' | 'Local' => {
    const v = spec[field] ?? 'Cluster';
    if (v !== 'Cluster' && v !== 'Local') throw new ServiceSourceError(`${w}: spec.${field} ${JSON.stringify(v)} (expected Cluster or Local)`);
    return v;
  };
  const healthCheckNodePort = spec.healthCheckNodePort === undefined || spec.healthCheckNodePort === null ? undefined : port(spec.healthCheckNodePort, `${w}: spec.healthCheckNodePort`);
  const externalIPs = addresses(spec.externalIPs, `${w}: spec.externalIPs`);
  // The status is the load balancer controller's, not the user's: entries without a usable IPv4
  // address (a hostname, IPv6, ipMode Proxy, anything malformed) are skipped, not an error that
  // would drop the whole Service, ClusterIP included.
  const status = isObj(o.status) && isObj(o.status.loadBalancer) ? o.status.loadBalancer : {};
  const loadBalancerIPs = type !== 'LoadBalancer' || !Array.isArray(status.ingress) ? [] : [...new Set(status.ingress
    // ipMode Proxy (KEP-1860): the load balancer proxies to the nodes, which must not take its address for their own.
    .filter((g): g is Obj => isObj(g) && g.ipMode !== 'Proxy' && isIp4(g.ip)).map((g) => g.ip as string))];
  const ranges = spec.loadBalancerSourceRanges;
  return {
    namespace: m.namespace, name: m.name, type, ports, affinity, internalTrafficPolicy: policy('internalTrafficPolicy'), externalTrafficPolicy: policy('externalTrafficPolicy'),
    ...(healthCheckNodePort !== undefined ? { healthCheckNodePort } : {}), externalIPs, loadBalancerIPs,
    loadBalancerSourceRanges: Array.isArray(ranges) ? ranges.length > 0 : typeof ranges === 'string' && ranges !== '',
    clusterIPs: type === 'ExternalName' ? [] : (ips as string[]).filter(isIp4),
  };
}

export function endpointSliceFromObject(o: unknown, where: string): EndpointSliceInfo {
  if (!isObj(o)) throw new ServiceSourceError(`${where}: EndpointSlice is not an object`);
  const m = meta(o, 'EndpointSlice', where);
  const w = `${where}: EndpointSlice ${m.namespace}/${m.name}`;
  const service = m.labels[SERVICE_NAME_LABEL];
  if (typeof service !== 'string' || service === '') throw new ServiceSourceError(`${w}: no ${SERVICE_NAME_LABEL} label (which Service is it for?)`);
  const addressType = o.addressType;
  if (addressType !== 'IPv4' && addressType !== 'IPv6' && addressType !== 'FQDN') throw new ServiceSourceError(`${w}: addressType ${JSON.stringify(addressType)} (expected IPv4, IPv6 or FQDN)`);
  const rawPorts = Array.isArray(o.ports) ? o.ports : [];
  const ports: EndpointPort[] = rawPorts.map((p, i) => {
    const pw = `${w}: ports[${i}]`;
    if (!isObj(p)) throw new ServiceSourceError(`${pw}: not an object`);
    return { name: typeof p.name === 'string' ? p.name : '', protocol: protocol(p.protocol, `${pw}.protocol`), port: port(p.port, `${pw}.port`) };
  });
  const rawEps = Array.isArray(o.endpoints) ? o.endpoints : [];
  const endpoints: Endpoint[] = rawEps.map((e, i) => {
    const ew = `${w}: endpoints[${i}]`;
    if (!isObj(e)) throw new ServiceSourceError(`${ew}: not an object`);
    if (!Array.isArray(e.addresses) || e.addresses.some((a) => typeof a !== 'string')) throw new ServiceSourceError(`${ew}.addresses: must be a list of addresses`);
    if (addressType === 'IPv4') for (const a of e.addresses) if (!isIp4(a)) throw new ServiceSourceError(`${ew}.addresses: ${JSON.stringify(a)} is not an IPv4 address`);
    const cond = isObj(e.conditions) ? e.conditions : {};
    const ref = isObj(e.targetRef) ? e.targetRef : undefined;
    const pod = ref && ref.kind === 'Pod' && typeof ref.name === 'string' ? { namespace: typeof ref.namespace === 'string' ? ref.namespace : m.namespace, name: ref.name } : undefined;
    return {
      addresses: e.addresses as string[], ready: cond.ready !== false,
      serving: cond.serving === undefined || cond.serving === null ? cond.ready !== false : cond.serving !== false, terminating: cond.terminating === true,
      ...(typeof e.nodeName === 'string' ? { nodeName: e.nodeName } : {}), ...(pod ? { pod } : {}),
    };
  });
  return { namespace: m.namespace, name: m.name, service, addressType, ports, endpoints };
}
