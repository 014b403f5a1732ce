// What the agent reads from a Kubernetes Node object (as the API returns it or a manifest holds
// it): its name and uid, the pod slice the cluster allocated (spec.podCIDRs / spec.podCIDR), its
// InternalIP (status.addresses) and the address an agent published for it (annotation, set when
// the agent runs with --node-ip). Malformed objects are named with the field.
import { parseIp4, parsePrefix4 } from '../ipv4.js';

/** Where an agent started with --node-ip publishes the address other nodes reach it at. */
export const NODE_IP_ANNOTATION = 'tsvpp.io/node-ip';

export interface NodeObject {
  name: string;
  uid?: string;
  /** The IPv4 entry of spec.podCIDRs (or spec.podCIDR), when the cluster allocates node slices. */
  podCIDR?: string;
  /** The first IPv4 InternalIP in status.addresses. */
  internalIp?: string;
  /** The tsvpp.io/node-ip annotation. */
  annotatedIp?: string;
}

export class NodeObjectError extends Error {
  constructor(message: string) { super(message); this.name = 'NodeObjectError'; }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIp4 = (s: string) => { try { parseIp4(s); return true; } catch { return false; } };

/** The address other nodes reach this node at: the published one, else its InternalIP. */
export function nodeAddress(n: NodeObject): string | undefined {
  return n.annotatedIp ?? n.internalIp;
}

export function nodeFromObject(o: unknown, where: string): NodeObject {
  if (!isObj(o)) throw new NodeObjectError(`${where}: Node is not an object`);
  const meta = isObj(o.metadata) ? o.metadata : {};
  const name = meta.name;
  if (typeof name !== 'string' || name === '') throw new NodeObjectError(`${where}: Node without metadata.name`);
  const w = `${where}: Node ${name}`;
  const spec = isObj(o.spec) ? o.spec : {};
  const status = isObj(o.status) ? o.status : {};
  // spec.podCIDRs is the dual-stack list (spec.podCIDR is its first entry); tsvpp is IPv4.
  const cidrs = Array.isArray(spec.podCIDRs) ? spec.podCIDRs : typeof spec.podCIDR === 'string' && spec.podCIDR !== '' ? [spec.podCIDR] : [];
  let podCIDR: string | undefined;
  for (const c of cidrs) {
    if (typeof c !== 'string') throw new NodeObjectError(`${w}: spec.podCIDRs holds ${JSON.stringify(c)}, not a CIDR string`);
    if (c.includes(':')) continue;
    try { parsePrefix4(c); } catch (e) { throw new NodeObjectError(`${w}: spec.podCIDR ${(e as Error).message}`); }
    podCIDR = c;
    break;
  }
  let internalIp: string | undefined;
  if (status.addresses !== undefined && !Array.isArray(status.addresses)) throw new NodeObjectError(`${w}: status.addresses is not a list`);
  for (const a of (status.addresses as unknown[] | undefined) ?? []) {
    if (!isObj(a) || typeof a.type !== 'string' || typeof a.address !== 'string') throw new NodeObjectError(`${w}: status.addresses entry ${JSON.stringify(a)} needs type and address`);
    if (a.type === 'InternalIP' && isIp4(a.address)) { internalIp = a.address; break; }
  }
  const ann = isObj(meta.annotations) ? meta.annotations[NODE_IP_ANNOTATION] : undefined;
  if (ann !== undefined && (typeof ann !== 'string' || !isIp4(ann))) throw new NodeObjectError(`${w}: annotation ${NODE_IP_ANNOTATION} ${JSON.stringify(ann)} is not an IPv4 address`);
  return {
    name,
    ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
    ...(podCIDR ? { podCIDR } : {}),
    ...(internalIp ? { internalIp } : {}),
    ...(typeof ann === 'string' ? { annotatedIp: ann } : {}),
  };
}
