// What the agent needs to know about Kubernetes Services and their EndpointSlices, whichever
// source they come from (the API server or a manifests dir), and the source's contract.

export type ServiceProtocol = 'TCP' | 'UDP' | 'SCTP';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface ServicePort {
  /** '' when the Service has one unnamed port. */
  name: string;
  protocol: ServiceProtocol;
  port: number;
  /** A number, or the name of a container port (resolved through the EndpointSlice's ports). */
  targetPort: number | string;
  /** NodePort/LoadBalancer only. */
  nodePort?: number;
}

/** core/v1 Service, the fields a service proxy reads. */
export interface ServiceInfo {
  namespace: string;
  name: string;
  type: ServiceType;
  /** spec.clusterIPs (IPv4 only kept); empty for headless (clusterIP None) and ExternalName. */
  clusterIPs: string[];
  ports: ServicePort[];
  /** sessionAffinity: ClientIP (timeoutSeconds is not honoured: VPP's affinity is a hash, see docs/cni.md). */
  affinity: 'None' | 'ClientIP';
  /** spec.internalTrafficPolicy (absent: Cluster): Local sends in-cluster traffic to this node's endpoints only. */
  internalTrafficPolicy: 'Cluster' | 'Local';
  /** spec.externalTrafficPolicy (absent: Cluster): Local sends NodePort traffic to this node's endpoints only. */
  externalTrafficPolicy: 'Cluster' | 'Local';
  /** spec.healthCheckNodePort: LoadBalancer with externalTrafficPolicy Local, where load balancers ask which nodes have endpoints. */
  healthCheckNodePort?: number;
  /** spec.externalIPs (IPv4 kept): addresses routed to the nodes that the Service answers on, at its ports. */
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip (IPv4, LoadBalancer only; those with ipMode Proxy left out: such a load balancer sends to the nodes itself). */
  loadBalancerIPs: string[];
  /** spec.loadBalancerSourceRanges is set (not enforced here: such a Service's load balancer IPs are not served). */
  loadBalancerSourceRanges: boolean;
}

export interface EndpointPort { name: string; protocol: ServiceProtocol; port: number }

export interface Endpoint {
  addresses: string[];
  /** conditions.ready (absent = ready, as the API says). */
  ready: boolean;
  /** conditions.serving (absent = as ready) and conditions.terminating (absent = false): a pod that is
   *  shutting down but still answers is serving and terminating, and not ready. */
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  /** targetRef when it is a Pod: the backend pod. */
  pod?: { namespace: string; name: string };
}

/** discovery.k8s.io/v1 EndpointSlice of one Service (label kubernetes.io/service-name). */
export interface EndpointSliceInfo {
  namespace: string;
  name: string;
  service: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

export interface ServiceSnapshot { services: ServiceInfo[]; slices: EndpointSliceInfo[] }

/** Services and EndpointSlices as they are now, and a call whenever they may have changed. */
export interface ServiceSource {
  snapshot(): ServiceSnapshot;
  onChange(cb: () => void): void;
  close(): Promise<void>;
}

export class ServiceSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceSourceError';
  }
}
