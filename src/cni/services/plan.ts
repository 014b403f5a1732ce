// What VPP should hold for the cluster's Services, computed from Services, EndpointSlices and what
// this node knows (its service-endpoint interfaces, its NodePort address). Pure: the reconciler
// (services.ts) makes VPP match it.
//
// - One load-balancing translation per (virtual IP, port, protocol) that has ready backends (or,
//   with none ready, backends still serving while they terminate, as kube-proxy does): every
//   IPv4 ClusterIP and port, every external IP and load balancer IP and port (for pods: to every
//   endpoint, as kube-proxy short-circuits in-cluster traffic to them), and with a NodePort address,
//   every nodePort and every external address's port (below).
//   A Service with internalTrafficPolicy Local translates its ClusterIPs to this node's ready
//   endpoints only (the EndpointSlice's nodeName), as kube-proxy does; externalTrafficPolicy Local
//   its NodePorts and what reaches its external addresses from outside likewise (none here: no
//   translation, the host does not hand the port to VPP).
// - External IPs and load balancer IPs from outside: the host DNATs exactly address:port/proto
//   (never the whole address: it may be a node's, or a server pods need on other ports) to a port
//   of VPP's end of the host link (`linkPort`, one per address, port and protocol, kept clear of
//   the NodePorts), where a translation takes the endpoints externalTrafficPolicy picks; without
//   one the host refuses it. A load balancer IP of a Service with loadBalancerSourceRanges is
//   refused (the ranges are not enforced, so it fails closed); an address in the pod subnet or
//   equal to a ClusterIP is left out; each with a warning. Two Services naming one address and
//   port: the first by name has it, served or refused.
// - With NodePorts served, a health check per LoadBalancer with externalTrafficPolicy Local and a
//   healthCheckNodePort: how many ready endpoints this node has (load balancers skip nodes with none).
// - A reject route (ICMP unreachable) per ClusterIP: what no translation takes (a Service without
//   ready endpoints, or without local ones under internalTrafficPolicy Local, a port it does not
//   serve, a ping) is refused at once instead of vanishing.
// - For a local pod with a service-endpoint interface that is a ready endpoint: a translation of
//   its eth0 address at each such target port to the interface's address. Other nodes translate
//   the ClusterIP to the pod IP (the EndpointSlice's); this node moves the flow on to the
//   interface. cnat interposes on the pod's /32, so pings and other ports still reach eth0.
import type { ServiceBackend, ServiceTranslation } from '../agent/vswitch.js';
import { contains4, parsePrefix4 } from '../ipv4.js';
import type { ExternalPort } from '../cluster/plan.js';
import type { Endpoint, EndpointSliceInfo, ServiceInfo, ServicePort, ServiceSnapshot } from './types.js';

export interface ServicePlanInput extends ServiceSnapshot {
  /** Pod IP → the address of the pod's service-endpoint interface (contivpp.io/service-endpoint-if). */
  endpointRewrites: ReadonlyMap<string, string>;
  /** VPP's address that the host forwards NodePort traffic to; none = NodePorts are not served. */
  nodePortVip?: string;
  /** This node's name, as EndpointSlices name the node of each endpoint (internalTrafficPolicy Local). */
  nodeName: string;
  /** The cluster pod subnet: an external address inside it would take a pod's traffic. */
  podSubnet: string;
  /** The link ports the last plan gave ("ip:port/proto" → port): kept while they stay free, so a
   *  new Service never moves an existing address's port (conntrack still DNATs its flows there). */
  linkPorts?: ReadonlyMap<string, number>;
}


/** Link ports of external addresses: above 1023, below the usual NodePort range, clear of the NodePorts. */
export const LINK_PORT_FIRST = 20000;
export const LINK_PORT_COUNT = 10000;

export interface ServicePlan {
  translations: ServiceTranslation[];
  /** ClusterIPs (no prefix length) that get a reject route. */
  rejects: string[];
  /** NodePorts with ready backends: what the host hands to VPP. */
  nodePorts: Array<{ proto: ServiceTranslation['proto']; port: number }>;
  /** External IPs' and load balancer IPs' ports, with a NodePort address only: what the host hands to VPP, or refuses. */
  externals: ExternalPort[];
  /** What the node answers on each health check node port (health-check.ts). */
  healthChecks: HealthCheck[];
  /** Things the plan could not honour, one sentence each. */
  warnings: string[];
}

/** A LoadBalancer's health check node port and the Service's ready endpoints on this node. */
export interface HealthCheck { namespace: string; name: string; port: number; localEndpoints: number }

export const translationKey = (t: Pick<ServiceTranslation, 'vip' | 'port' | 'proto'>): string => `${t.vip}:${t.port}/${t.proto}`;

/**
 * The IPv4 endpoint addresses of one service port that take new connections (on node `onNode`
 * only, when given), each at the port the slices name for it: the ready ones; when there is none,
 * as kube-proxy does, those still serving while they terminate (a rolling update's last pods keep
 * their connections coming until they are gone, and load balancers notice a Local node's 503).
 */
function usableEndpoints(svc: ServiceInfo, sp: ServicePort, slices: readonly EndpointSliceInfo[], onNode?: string): ServiceBackend[] {
  const ready = [...endpointsOf(svc, sp, slices, (e) => e.ready, onNode)];
  return ready.length ? ready : [...endpointsOf(svc, sp, slices, (e) => e.serving && e.terminating, onNode)];
}

/** The IPv4 endpoint addresses of one service port that `take` accepts (on node `onNode` only, when given). */
function* endpointsOf(svc: ServiceInfo, sp: ServicePort, slices: readonly EndpointSliceInfo[], take: (e: Endpoint) => boolean, onNode?: string): Generator<ServiceBackend> {
  for (const sl of slices) {
    if (sl.namespace !== svc.namespace || sl.service !== svc.name || sl.addressType !== 'IPv4') continue;
    // kube-proxy matches a slice's port to the Service's by name (and protocol); the slice carries
    // the resolved number, a named targetPort included.
    const port = sl.ports.find((p) => p.name === sp.name && p.protocol === sp.protocol)?.port;
    if (port === undefined) continue;
    for (const e of sl.endpoints) {
      if (!take(e)) continue;
      if (onNode !== undefined && e.nodeName !== onNode) continue; // another node's (or no node named: not local)
      for (const ip of e.addresses) yield { ip, port };
    }
  }
}

/** The backends of one service port: its usable endpoints (on `onNode` only, when given), a service-endpoint pod at its interface's address. */
function backendsOf(svc: ServiceInfo, sp: ServicePort, slices: readonly EndpointSliceInfo[], rewrites: ReadonlyMap<string, string>, onNode?: string): ServiceBackend[] {
  const out = new Map<string, ServiceBackend>();
  for (const { ip: a, port } of usableEndpoints(svc, sp, slices, onNode)) {
    const ip = rewrites.get(a) ?? a;
    out.set(`${ip}:${port}`, { ip, port });
  }
  return [...out.values()].sort((x, y) => (x.ip === y.ip ? x.port - y.port : x.ip < y.ip ? -1 : 1));
}

export function planServices(input: ServicePlanInput): ServicePlan {
  const translations = new Map<string, ServiceTranslation>();
  const owner = new Map<string, string>();
  const rejects = new Set<string>();
  const nodePorts = new Map<string, { proto: ServiceTranslation['proto']; port: number }>();
  const healthChecks: HealthCheck[] = [];
  const warnings: string[] = [];
  const externals = new Map<string, ExternalPort>();
  const podSubnet = parsePrefix4(input.podSubnet);
  const clusterIps = new Set(input.services.flatMap((x) => x.clusterIPs));
  // Served external ports get their link ports once every NodePort is known (they must not collide).
  const pendingLinks: Array<{ svc: ServiceInfo; sp: ServicePort; ips: string[]; backends: ServiceBackend[]; affinity: boolean }> = [];
  /** Who has ip:port/proto from outside: the first Service by name that names it, served or not. */
  const externalOwner = new Map<string, string>();
  const claim = (svc: ServiceInfo, key: string) => {
    const who = `${svc.namespace}/${svc.name}`, had = externalOwner.get(key);
    if (had && had !== who) { warnings.push(`${key} from outside belongs to Service ${had}; Service ${who} asks for it too and is not served there`); return false; }
    externalOwner.set(key, who);
    return true;
  };
  const keyOf = (ip: string, sp: ServicePort) => `${ip}:${sp.port}/${sp.protocol}`;
  const services = [...input.services].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  const put = (svc: ServiceInfo, t: ServiceTranslation, shared = false) => {
    const key = translationKey(t);
    const who = shared ? 'a service endpoint' : `${svc.namespace}/${svc.name}`;
    const had = owner.get(key);
    if (had && had !== who) { warnings.push(`${key} belongs to Service ${had}; Service ${who} asks for it too and is not served there`); return; }
    owner.set(key, who);
    translations.set(key, t);
  };
  for (const svc of services) {
    if (svc.type === 'ExternalName') continue;
    for (const ip of svc.clusterIPs) rejects.add(ip);
    const externalIps = outsideAddresses(svc).filter((ip) => {
      if (contains4(podSubnet, ip)) { warnings.push(`Service ${svc.namespace}/${svc.name}: external address ${ip} is inside the pod subnet ${input.podSubnet}: not served`); return false; }
      if (clusterIps.has(ip)) { warnings.push(`Service ${svc.namespace}/${svc.name}: external address ${ip} is a ClusterIP: not served`); return false; }
      return true;
    });
    const ranged = svc.loadBalancerSourceRanges ? svc.loadBalancerIPs.filter((ip) => !externalIps.includes(ip) && !contains4(podSubnet, ip) && !clusterIps.has(ip)) : [];
    if (ranged.length > 0) warnings.push(`Service ${svc.namespace}/${svc.name}: loadBalancerSourceRanges is not enforced, so its load balancer IPs (${ranged.join(', ')}) are refused`);
    for (const sp of svc.ports) {
      // Several Services may name one pod port: the same translation, shared.
      for (const e of usableEndpoints(svc, sp, input.slices)) {
        const to = input.endpointRewrites.get(e.ip);
        if (to !== undefined) put(svc, { vip: e.ip, port: e.port, proto: sp.protocol, backends: [{ ip: to, port: e.port }], affinity: false }, true);
      }
      const backends = backendsOf(svc, sp, input.slices, input.endpointRewrites);
      // Not served from outside (no endpoints for it): the host refuses what comes for the address's port.
      const refuse = (ips: readonly string[]) => { if (input.nodePortVip) for (const ip of ips) if (claim(svc, keyOf(ip, sp))) externals.set(keyOf(ip, sp), { ip, proto: sp.protocol, port: sp.port }); };
      refuse(ranged);
      if (backends.length === 0) { refuse(externalIps); continue; } // rejected by the ClusterIP's route; NodePort left to the host (refused there)
      const affinity = svc.affinity === 'ClientIP';
      const local = () => backendsOf(svc, sp, input.slices, input.endpointRewrites, input.nodeName);
      const internal = svc.internalTrafficPolicy === 'Local' ? local() : backends;
      if (internal.length > 0) for (const ip of svc.clusterIPs) put(svc, { vip: ip, port: sp.port, proto: sp.protocol, backends: internal, affinity });
      // In-cluster traffic to an external address (pods; it never leaves VPP) goes to every endpoint.
      for (const ip of externalIps) put(svc, { vip: ip, port: sp.port, proto: sp.protocol, backends, affinity });
      // From outside: local endpoints only under Local, so the flow stays on this node and the backend sees the client's address.
      const fromOutside = svc.externalTrafficPolicy === 'Local' ? local() : backends;
      if (fromOutside.length === 0) { refuse(externalIps); continue; }
      const owned = input.nodePortVip ? externalIps.filter((ip) => claim(svc, keyOf(ip, sp))) : [];
      if (owned.length > 0) pendingLinks.push({ svc, sp, ips: owned, backends: fromOutside, affinity });
      if (input.nodePortVip && sp.nodePort !== undefined && (svc.type === 'NodePort' || svc.type === 'LoadBalancer')) {
        put(svc, { vip: input.nodePortVip, port: sp.nodePort, proto: sp.protocol, backends: fromOutside, affinity });
        nodePorts.set(`${sp.protocol}/${sp.nodePort}`, { proto: sp.protocol, port: sp.nodePort });
      }
    }
    if (input.nodePortVip && svc.type === 'LoadBalancer' && svc.externalTrafficPolicy === 'Local' && svc.healthCheckNodePort !== undefined) {
      const here = new Set<string>();
      // Ready ones only: a node whose endpoints are all terminating says 503, so load balancers leave it.
      for (const sp of svc.ports) for (const e of endpointsOf(svc, sp, input.slices, (x) => x.ready, input.nodeName)) here.add(e.ip);
      const had = healthChecks.find((h) => h.port === svc.healthCheckNodePort);
      if (had) warnings.push(`health check node port ${had.port} belongs to Service ${had.namespace}/${had.name}; Service ${svc.namespace}/${svc.name} asks for it too and gets none`);
      else healthChecks.push({ namespace: svc.namespace, name: svc.name, port: svc.healthCheckNodePort, localEndpoints: here.size });
    }
  }
  // Link ports: clear of every NodePort of every Service (served here or not, so one never moves
  // with endpoints coming and going); the last plan's kept first, then the new ones by hash.
  const taken = new Set(services.flatMap((x) => x.ports.flatMap((p) => (p.nodePort !== undefined ? [p.nodePort] : []))));
  const links = pendingLinks.flatMap((l) => l.ips.map((ip) => ({ ...l, ip, key: keyOf(ip, l.sp) })));
  const linkPort = new Map<string, number>();
  for (const l of links) {
    const had = input.linkPorts?.get(l.key);
    if (had !== undefined && !taken.has(had)) { linkPort.set(l.key, had); taken.add(had); }
  }
  for (const l of links) {
    if (linkPort.has(l.key)) continue;
    const p = linkPortFor(l.key, taken);
    linkPort.set(l.key, p);
    taken.add(p);
  }
  for (const l of links) {
    const port = linkPort.get(l.key)!;
    externals.set(l.key, { ip: l.ip, proto: l.sp.protocol, port: l.sp.port, linkPort: port });
    put(l.svc, { vip: input.nodePortVip!, port, proto: l.sp.protocol, backends: l.backends, affinity: l.affinity });
  }
  const byKey = <T>(m: Map<string, T>) => [...m.keys()].sort().map((k) => m.get(k)!);
  return { translations: byKey(translations), rejects: [...rejects].sort(), nodePorts: byKey(nodePorts), externals: byKey(externals), healthChecks, warnings };
}

/**
 * A new link port for an external address's port: FNV-1a of "ip:port/proto" into the link port
 * range, the next free one on a collision (so, with the last plan's kept, the same after a restart
 * for the same Services).
 */
function linkPortFor(key: string, taken: ReadonlySet<number>): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key, 'utf8')) { h ^= b; h = Math.imul(h, 0x01000193) >>> 0; }
  for (let i = 0; i < LINK_PORT_COUNT; i++) {
    const p = LINK_PORT_FIRST + ((h + i) % LINK_PORT_COUNT);
    if (!taken.has(p)) return p;
  }
  throw new Error(`all ${LINK_PORT_COUNT} link ports are taken`);
}

/** A Service's addresses reached from outside: its external IPs, and its load balancer IPs unless it restricts their sources. */
function outsideAddresses(svc: ServiceInfo): string[] {
  return [...new Set([...svc.externalIPs, ...(svc.loadBalancerSourceRanges ? [] : svc.loadBalancerIPs)])];
}

