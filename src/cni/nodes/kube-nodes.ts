// Nodes and slice claims through the Kubernetes API (@kubernetes/client-node, loaded lazily like
// pods/kube.ts). Node objects are watched (an informer: list, then watch, re-list when the watch
// breaks), so nodes joining and leaving are seen without a restart. A slice claim is a
// coordination.k8s.io Lease named after its slice, created by the node that takes it: creation is
// the atomic claim (a second create gets 409 AlreadyExists). spec.holderIdentity is the node name,
// and the Lease is owned by the Node (ownerReferences), so Kubernetes' garbage collector frees the
// slice when the Node is deleted from the cluster. Leases are watched too: a node's slice is known
// to the others as soon as it claims it.
import type { CoordinationV1Api, CoreV1Api, Informer, KubeConfig, KubernetesObject, V1Lease, V1Node } from '@kubernetes/client-node';
import { ClaimError, sliceName, type SliceClaim, type SliceClaims } from './claims.js';
import { NODE_IP_ANNOTATION, nodeFromObject, type NodeObject } from './node-object.js';
import type { WatchedNodeDirectory } from './node-source.js';
import { loadKube } from '../kube-config.js';

/** Label on every slice-claim Lease (the watch selects on it); its value is the slice, 10-1-3-0-24. */
export const SLICE_LABEL = 'tsvpp.io/pod-slice';
/** Annotation holding the slice in CIDR form (a label value cannot hold "/"). */
export const SLICE_ANNOTATION = 'tsvpp.io/pod-slice';
export const LEASE_PREFIX = 'tsvpp-slice-';
/** After a watch broke: wait this long before starting it again. */
export const REWATCH_MS = 2000;

function statusOf(e: unknown): number | undefined {
  const x = e as { code?: unknown; statusCode?: unknown };
  if (typeof x?.code === 'number') return x.code;
  if (typeof x?.statusCode === 'number') return x.statusCode;
  return undefined;
}

const apiError = (what: string, e: unknown) => {
  const st = statusOf(e);
  return new ClaimError(`${what} failed${st ? ` (HTTP ${st})` : ''}: ${(e as Error).message}`);
};

function claimOf(l: V1Lease): SliceClaim | undefined {
  const slice = l.metadata?.annotations?.[SLICE_ANNOTATION];
  const holder = l.spec?.holderIdentity;
  return slice && holder ? { slice, holder } : undefined;
}

export class LeaseSliceClaims implements SliceClaims {
  readonly where: string;
  constructor(private readonly api: CoordinationV1Api, readonly namespace: string) { this.where = `Leases in namespace ${namespace}`; }

  /** The slice-claim Leases (the informer lists them this way too). */
  listLeases() { return this.api.listNamespacedLease({ namespace: this.namespace, labelSelector: SLICE_LABEL }); }

  async list(): Promise<SliceClaim[]> {
    let list;
    try { list = await this.listLeases(); } catch (e) { throw apiError(`listing ${this.where}`, e); }
    return list.items.map(claimOf).filter((c): c is SliceClaim => c !== undefined);
  }

  async create(slice: string, holder: NodeObject): Promise<boolean> {
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: {
        name: LEASE_PREFIX + sliceName(slice), namespace: this.namespace,
        labels: { [SLICE_LABEL]: sliceName(slice), 'app.kubernetes.io/managed-by': 'tsvpp' },
        annotations: { [SLICE_ANNOTATION]: slice },
        ...(holder.uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: holder.name, uid: holder.uid }] } : {}),
      },
      spec: { holderIdentity: holder.name, acquireTime: new Date() },
    };
    try {
      await this.api.createNamespacedLease({ namespace: this.namespace, body });
      return true;
    } catch (e) {
      if (statusOf(e) === 409) return false;
      throw apiError(`creating Lease ${body.metadata!.name} in ${this.namespace}`, e);
    }
  }

  async release(slice: string, holder: string): Promise<void> {
    const name = LEASE_PREFIX + sliceName(slice);
    let l: V1Lease;
    try { l = await this.api.readNamespacedLease({ name, namespace: this.namespace }); } catch (e) {
      if (statusOf(e) === 404) return;
      throw apiError(`reading Lease ${name}`, e);
    }
    if (l.spec?.holderIdentity !== holder) return;
    try {
      // Only this version of it: a Lease recreated meanwhile by another node stays.
      await this.api.deleteNamespacedLease({ name, namespace: this.namespace, body: { preconditions: { uid: l.metadata!.uid!, resourceVersion: l.metadata!.resourceVersion! } } });
    } catch (e) {
      if (statusOf(e) === 404 || statusOf(e) === 409) return;
      throw apiError(`deleting Lease ${name}`, e);
    }
  }
}

export class KubeNodeDirectory implements WatchedNodeDirectory {
  readonly where = 'the Kubernetes API';
  readonly claims: LeaseSliceClaims;

  private constructor(private readonly k8s: typeof import('@kubernetes/client-node'), private readonly kc: KubeConfig, private readonly core: CoreV1Api, coord: CoordinationV1Api, readonly namespace: string) {
    this.claims = new LeaseSliceClaims(coord, namespace);
  }

  /** `namespace`: where the slice Leases live (the agent's own, kube-system in deploy/). */
  static async create(o: { kubeconfig?: string; namespace: string }): Promise<KubeNodeDirectory> {
    const { k8s, kc } = await loadKube(o.kubeconfig, (m) => new ClaimError(m));
    return new KubeNodeDirectory(k8s, kc, kc.makeApiClient(k8s.CoreV1Api), kc.makeApiClient(k8s.CoordinationV1Api), o.namespace);
  }

  async listNodes(): Promise<NodeObject[]> {
    let list;
    try { list = await this.core.listNode(); } catch (e) { throw apiError('listing Nodes', e); }
    return list.items.map((n) => nodeFromObject(n, 'Kubernetes API'));
  }

  async publishAddress(node: NodeObject, ip: string): Promise<void> {
    try {
      await this.core.patchNode({ name: node.name, body: { metadata: { annotations: { [NODE_IP_ANNOTATION]: ip } } } },
        this.k8s.setHeaderOptions('Content-Type', this.k8s.PatchStrategy.MergePatch));
    } catch (e) { throw apiError(`annotating Node ${node.name} with ${NODE_IP_ANNOTATION}=${ip}`, e); }
  }

  /** Informers on Nodes and on the slice Leases; each restarts itself after its watch broke. */
  async watch(changed: () => void, log: (msg: string) => void): Promise<() => Promise<void>> {
    const k8s = this.k8s;
    let stopped = false;
    const timers = new Set<NodeJS.Timeout>();
    const informers: Array<Informer<KubernetesObject>> = [
      k8s.makeInformer<V1Node>(this.kc, '/api/v1/nodes', () => this.core.listNode()),
      k8s.makeInformer<V1Lease>(this.kc, `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`,
        () => this.claims.listLeases(), SLICE_LABEL),
    ];
    for (const [i, inf] of informers.entries()) {
      inf.on('add', changed);
      inf.on('update', changed);
      inf.on('delete', changed);
      inf.on('error', (e: unknown) => {
        if (stopped) return;
        log(`watching ${i === 0 ? 'Nodes' : 'slice Leases'} failed (retrying in ${REWATCH_MS} ms): ${(e as Error)?.message ?? String(e)}`);
        const t = setTimeout(() => { timers.delete(t); if (!stopped) inf.start().catch(() => undefined); }, REWATCH_MS);
        timers.add(t);
      });
      await inf.start();
    }
    return async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      for (const inf of informers) await inf.stop();
    };
  }
}
