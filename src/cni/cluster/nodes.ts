// Cluster membership as the data path needs it: the set of nodes, each with its name, the address
// other nodes reach it at (InternalIP) and its slice of the pod subnet. Whatever knows the nodes
// (a file, Node objects in a manifests dir, the API server) implements NodeSource; the cluster
// reconciler (./cluster.ts) only reads the set and hears when it changes.
import { contains4, formatPrefix4, parseIp4, parsePrefix4, type Prefix4 } from '../ipv4.js';

export interface ClusterNode {
  /** Node name (metadata.name), unique in the cluster. */
  name: string;
  /** The node's address on the network between nodes (status.addresses InternalIP). */
  internalIp: string;
  /** The node's slice of the cluster pod subnet, e.g. 10.1.2.0/24. */
  podSubnet: string;
}

export interface NodeSource {
  /** The current set of nodes (this node included). */
  list(): Promise<ClusterNode[]>;
  /** Calls cb after the set changed; list() then returns the new set. */
  onChange(cb: () => void): void;
  close?(): Promise<void>;
}

export class NodeListError extends Error {
  constructor(message: string) { super(message); this.name = 'NodeListError'; }
}

/** Where a node sits in the cluster pod subnet: the index of its slice (node N of the old nodeId). */
export function sliceIndex(podSubnet: Prefix4, sliceLen: number, nodeSlice: Prefix4): number {
  return (nodeSlice.addr - podSubnet.addr) / 2 ** (32 - sliceLen);
}

/**
 * Checks a node list against the cluster pod subnet: every entry named, an IPv4 InternalIP, a
 * slice of the pod subnet of the node slice length; names, addresses and slices unique. Throws a
 * NodeListError naming the entry and the problem.
 */
export function validateNodes(list: unknown, cluster: { podSubnet: string; nodePrefixLen: number }, where: string): ClusterNode[] {
  if (!Array.isArray(list)) throw new NodeListError(`${where}: expected a list of nodes ({name, internalIp, podSubnet})`);
  const subnet = parsePrefix4(cluster.podSubnet);
  const out: ClusterNode[] = [];
  const seen = { name: new Map<string, number>(), ip: new Map<string, number>(), slice: new Map<string, number>() };
  list.forEach((raw, i) => {
    const at = `${where}: node ${i + 1}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new NodeListError(`${at}: not a mapping`);
    const o = raw as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['name', 'internalIp', 'podSubnet'].includes(k)) throw new NodeListError(`${at}: unknown field ${JSON.stringify(k)} (known: name, internalIp, podSubnet)`);
    const { name, internalIp, podSubnet } = o;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw new NodeListError(`${at}: name ${JSON.stringify(name)} is not a Kubernetes node name`);
    const named = `${at} (${name})`;
    if (typeof internalIp !== 'string') throw new NodeListError(`${named}: internalIp missing`);
    try { parseIp4(internalIp); } catch (e) { throw new NodeListError(`${named}: internalIp ${(e as Error).message}`); }
    if (typeof podSubnet !== 'string') throw new NodeListError(`${named}: podSubnet missing`);
    let slice: Prefix4;
    try { slice = parsePrefix4(podSubnet); } catch (e) { throw new NodeListError(`${named}: podSubnet ${(e as Error).message}`); }
    if (slice.len !== cluster.nodePrefixLen || !contains4(subnet, podSubnet.split('/')[0]!)) {
      throw new NodeListError(`${named}: podSubnet ${podSubnet} is not a /${cluster.nodePrefixLen} slice of the cluster pod subnet ${formatPrefix4(subnet)}`);
    }
    if (contains4(subnet, internalIp)) throw new NodeListError(`${named}: internalIp ${internalIp} is inside the pod subnet ${formatPrefix4(subnet)}`);
    for (const [k, v] of [['name', name], ['ip', internalIp], ['slice', podSubnet]] as const) {
      const j = seen[k].get(v);
      if (j !== undefined) throw new NodeListError(`${named}: ${k === 'ip' ? 'internalIp' : k === 'slice' ? 'podSubnet' : 'name'} ${v} is also node ${j + 1}'s`);
      seen[k].set(v, i);
    }
    out.push({ name, internalIp, podSubnet });
  });
  return out;
}

/** A fixed set (tests, and a cluster described in the agent's config), changeable with set(). */
export class StaticNodeSource implements NodeSource {
  private cbs: Array<() => void> = [];
  constructor(private nodes: ClusterNode[]) {}
  async list(): Promise<ClusterNode[]> { return this.nodes.map((n) => ({ ...n })); }
  onChange(cb: () => void): void { this.cbs.push(cb); }
  set(nodes: ClusterNode[]): void {
    this.nodes = nodes.map((n) => ({ ...n }));
    for (const cb of this.cbs) cb();
  }
}
