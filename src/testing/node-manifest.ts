// A Kubernetes Node object as YAML, for a manifests dir (--pod-manifests): the agent takes its
// node's address and pod slice from it (src/cni/nodes). Without podCIDR the agent claims a slice.
export interface NodeManifestOptions {
  name: string;
  /** status.addresses InternalIP. */
  internalIp?: string;
  /** spec.podCIDR (a slice the "cluster" allocated). */
  podCIDR?: string;
  /** metadata.annotations. */
  annotations?: Record<string, string>;
}

export function nodeManifest(o: NodeManifestOptions): string {
  const doc = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: o.name, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: o.podCIDR ? { podCIDR: o.podCIDR, podCIDRs: [o.podCIDR] } : {},
    status: { addresses: [...(o.internalIp ? [{ type: 'InternalIP', address: o.internalIp }] : []), { type: 'Hostname', address: o.name }] },
  };
  return `---\n${JSON.stringify(doc)}\n`;
}
