// What the agent needs to know about a pod and about CustomNetworks, whichever source it comes from.

export interface PodInfo {
  namespace: string;
  name: string;
  /** metadata.uid; manifests usually have none (then CNI_ARGS K8S_POD_UID is used). */
  uid?: string;
  annotations: Record<string, string>;
  /** resources.limits of each container, in spec order. */
  containerLimits: Array<Record<string, unknown> | undefined>;
}

export type CustomNetworkType = 'L2' | 'L3';

/** contivpp.io/v1 CustomNetwork (spec fields as in Contiv-VPP's CRD). */
export interface CustomNetwork {
  name: string;
  type: CustomNetworkType;
  /** L3 only: the whole network, e.g. 10.99.0.0/16. */
  subnetCIDR?: string;
  /** L3 only: each node gets a slice of this length, e.g. 24. */
  subnetOneNodePrefixLen?: number;
}

export interface PodSource {
  /** Where this source reads from (said in logs and pod records). */
  readonly kind: 'api-server' | 'manifests';
  /** Throws PodSourceError (notFound = true when the pod does not exist). */
  getPod(namespace: string, name: string): Promise<PodInfo>;
  getCustomNetwork(name: string): Promise<CustomNetwork | undefined>;
  close?(): Promise<void>;
}

export class PodSourceError extends Error {
  constructor(message: string, readonly notFound = false) {
    super(message);
    this.name = 'PodSourceError';
  }
}
