// Node identity from the cluster: which slice of the pod subnet this node's pods get and the
// address other nodes reach it at, decided once when the agent starts, and the cluster's node set
// as the data path needs it (ClusterNode: name, address, slice) computed from the Node objects and
// the slice claims. No hand-set node ids: the slice is the Node's spec.podCIDR when the cluster
// allocates them, otherwise one the node claimed (claims.ts), found again after a restart.
import { contains4, formatPrefix4, parsePrefix4, slice4 } from '../ipv4.js';
import { sliceIndex, type ClusterNode } from '../cluster/nodes.js';
import type { SliceClaim, SliceClaims } from './claims.js';
import { nodeAddress, type NodeObject } from './node-object.js';

export interface ClusterSubnet {
  /** The cluster pod subnet, e.g. 10.1.0.0/16. */
  podSubnet: string;
  /** Each node's slice length, e.g. 24. */
  nodePrefixLen: number;
}

export interface NodeIdentity {
  name: string;
  /** The address other nodes reach this node at. */
  internalIp: string;
  /** This node's slice of the pod subnet. */
  podSubnet: string;
  /** Its index among the pod subnet's slices: also this node's slice of every L3 CustomNetwork. */
  sliceIndex: number;
  /** Where the slice came from, for the log. */
  source: 'podCIDR' | 'claim' | 'new claim';
}

/** Where the Node objects and claims are: the API server or a manifests dir. */
export interface NodeDirectory {
  /** For messages: "the Kubernetes API", "manifests dir /x". */
  readonly where: string;
  listNodes(): Promise<NodeObject[]>;
  readonly claims: SliceClaims;
  /** Publishes an address for a node (the node-ip annotation); absent where the agent cannot write. */
  publishAddress?(node: NodeObject, ip: string): Promise<void>;
}

export class IdentityError extends Error {
  constructor(message: string) { super(message); this.name = 'IdentityError'; }
}

/** Whether `slice` is one of the cluster's node slices (inside the pod subnet, of the node prefix length). */
export function isNodeSlice(slice: string, c: ClusterSubnet): boolean {
  let p;
  try { p = parsePrefix4(slice); } catch { return false; }
  return p.len === c.nodePrefixLen && contains4(parsePrefix4(c.podSubnet), slice.split('/')[0]!);
}

/** A node's slice: its spec.podCIDR when that is one of the cluster's slices, else the slice it claimed. */
function sliceOf(n: NodeObject, claims: readonly SliceClaim[], c: ClusterSubnet): string | undefined {
  if (n.podCIDR && isNodeSlice(n.podCIDR, c)) return n.podCIDR;
  return claims.find((x) => x.holder === n.name && isNodeSlice(x.slice, c))?.slice;
}

/**
 * The cluster's nodes with an address and a slice; the others (not ready yet: no InternalIP, no
 * slice, or a slice or address another node has) are left out, each with the reason.
 */
export function clusterNodes(nodes: readonly NodeObject[], claims: readonly SliceClaim[], c: ClusterSubnet): { nodes: ClusterNode[]; skipped: string[] } {
  const out: ClusterNode[] = [];
  const skipped: string[] = [];
  const slices = new Map<string, string>(), ips = new Map<string, string>();
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const ip = nodeAddress(n);
    const slice = sliceOf(n, claims, c);
    if (!ip) { skipped.push(`${n.name}: no InternalIP in status.addresses`); continue; }
    if (!slice) {
      skipped.push(n.podCIDR ? `${n.name}: spec.podCIDR ${n.podCIDR} is not a /${c.nodePrefixLen} slice of ${c.podSubnet}` : `${n.name}: no pod slice yet (no spec.podCIDR, no claim)`);
      continue;
    }
    const sliceOwner = slices.get(slice), ipOwner = ips.get(ip);
    if (sliceOwner) { skipped.push(`${n.name}: slice ${slice} is ${sliceOwner}'s too`); continue; }
    if (ipOwner) { skipped.push(`${n.name}: address ${ip} is ${ipOwner}'s too`); continue; }
    slices.set(slice, n.name);
    ips.set(ip, n.name);
    out.push({ name: n.name, internalIp: ip, podSubnet: slice });
  }
  return { nodes: out, skipped };
}

export interface IdentityOptions extends ClusterSubnet {
  nodeName: string;
  /** --node-ip: this node's address, when its Node has none or another one. */
  nodeIp?: string;
  /** The slice this node used before (its state dir remembers it): tried first when claiming. */
  preferredSlice?: string;
  log: (msg: string) => void;
}

/**
 * This node's identity. The slice: spec.podCIDR (claims the node held are released); else the
 * claim it holds already (a restart); else a new claim of the first free slice (the preferred one
 * first), retried with the next when another node took it meanwhile. The address: --node-ip
 * (published when it differs from what the Node says), else the Node's published address or InternalIP.
 */
export async function establishIdentity(dir: NodeDirectory, o: IdentityOptions): Promise<NodeIdentity> {
  const nodes = await dir.listNodes();
  const self = nodes.find((n) => n.name === o.nodeName);
  if (!self) {
    throw new IdentityError(`Node ${o.nodeName} not found in ${dir.where}: the agent takes this node's pod slice and address from its Node object `
      + '(set nodeName/--node-name to the node\'s name)');
  }
  const internalIp = await addressOf(dir, self, o);
  const subnet = parsePrefix4(o.podSubnet);
  const done = (podSubnet: string, source: NodeIdentity['source']): NodeIdentity => ({
    name: o.nodeName, internalIp, podSubnet, sliceIndex: sliceIndex(subnet, o.nodePrefixLen, parsePrefix4(podSubnet)), source,
  });
  const claims = await dir.claims.list();
  const mine = claims.filter((c) => c.holder === o.nodeName);
  if (self.podCIDR) {
    if (!isNodeSlice(self.podCIDR, o)) {
      throw new IdentityError(`Node ${o.nodeName} has spec.podCIDR ${self.podCIDR}, which is not a /${o.nodePrefixLen} slice of the pod subnet ${o.podSubnet}: `
        + 'set podSubnet and podSubnetNodePrefixLen to the cluster\'s (kube-controller-manager --cluster-cidr and --node-cidr-mask-size)');
    }
    for (const c of mine) {
      await dir.claims.release(c.slice, o.nodeName);
      o.log(`released claim of ${c.slice}: the cluster allocated spec.podCIDR ${self.podCIDR}`);
    }
    return done(self.podCIDR, 'podCIDR');
  }
  const held = mine.filter((c) => isNodeSlice(c.slice, o));
  if (held.length) {
    const keep = held.find((c) => c.slice === o.preferredSlice) ?? held[0]!;
    for (const c of held) {
      if (c === keep) continue;
      await dir.claims.release(c.slice, o.nodeName);
      o.log(`released second claim of ${c.slice} (keeping ${keep.slice})`);
    }
    return done(keep.slice, 'claim');
  }
  // Slices taken: claimed by anyone, or allocated by the cluster to another node.
  const taken = new Set([...claims.map((c) => c.slice), ...nodes.filter((n) => n.podCIDR).map((n) => n.podCIDR!)]);
  const count = 2 ** (o.nodePrefixLen - subnet.len);
  const candidates = function* () {
    if (o.preferredSlice && isNodeSlice(o.preferredSlice, o)) yield o.preferredSlice;
    for (let i = 0; i < count; i++) yield formatPrefix4(slice4(subnet, o.nodePrefixLen, i));
  };
  for (const slice of candidates()) {
    if (taken.has(slice)) continue;
    taken.add(slice);
    if (await dir.claims.create(slice, self)) return done(slice, 'new claim');
  }
  throw new IdentityError(`no free /${o.nodePrefixLen} slice left in the pod subnet ${o.podSubnet} (${count} slices, all claimed or allocated; ${dir.claims.where})`);
}

async function addressOf(dir: NodeDirectory, self: NodeObject, o: IdentityOptions): Promise<string> {
  const known = nodeAddress(self);
  if (!o.nodeIp) {
    if (!known) throw new IdentityError(`Node ${o.nodeName} in ${dir.where} has no InternalIP in status.addresses: set nodeIp/--node-ip to the address other nodes reach it at`);
    return known;
  }
  if (o.nodeIp === known) return known;
  // Other nodes read this node's address from its Node object: it must say the same.
  if (!dir.publishAddress) {
    throw new IdentityError(`Node ${o.nodeName} in ${dir.where} gives other nodes ${known ? `the address ${known}` : 'no address'}, but nodeIp is ${o.nodeIp}: `
      + 'add the annotation tsvpp.io/node-ip: "' + o.nodeIp + '" to that Node (or drop nodeIp)');
  }
  await dir.publishAddress(self, o.nodeIp);
  o.log(`published node address ${o.nodeIp} (annotation tsvpp.io/node-ip on Node ${o.nodeName}${self.internalIp ? `; its InternalIP is ${self.internalIp}` : ''})`);
  return o.nodeIp;
}
