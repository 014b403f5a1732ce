// ServiceSource over the Kubernetes API: list-and-watch informers (@kubernetes/client-node) on
// Services and discovery.k8s.io/v1 EndpointSlices of every namespace. An object that does not parse
// is logged and left out; a watch that fails is started again after a pause (the informer does not
// do that by itself), keeping what it had meanwhile.
import type { KubernetesObject } from '@kubernetes/client-node';
import { endpointSliceFromObject, serviceFromObject } from './objects.js';
import { ServiceSourceError, type EndpointSliceInfo, type ServiceInfo, type ServiceSnapshot, type ServiceSource } from './types.js';
import { loadKube } from '../kube-config.js';

const RESTART_MS = 5000;

interface Watched<T> { list(): readonly KubernetesObject[]; parse(o: unknown, where: string): T }

export class KubeServiceSource implements ServiceSource {
  private current: ServiceSnapshot = { services: [], slices: [] };
  private readonly cbs: Array<() => void> = [];
  private readonly stops: Array<() => Promise<void>> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private services!: Watched<ServiceInfo>;
  private slices!: Watched<EndpointSliceInfo>;

  private constructor(private readonly log: (m: string) => void) {}

  /** Starts both watches; resolves once both have listed what exists. */
  static async create(o: { kubeconfig?: string; log: (m: string) => void }): Promise<KubeServiceSource> {
    const { k8s, kc } = await loadKube(o.kubeconfig, (m) => new ServiceSourceError(m));
    const s = new KubeServiceSource(o.log);
    const core = kc.makeApiClient(k8s.CoreV1Api), discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const watch = async <T>(what: string, path: string, list: () => Promise<{ items: KubernetesObject[] }>, parse: (o: unknown, where: string) => T): Promise<Watched<T>> => {
      // The informer reports a failed list to its error listeners and still resolves start(): the
      // first list is watched here, so the agent never starts from an empty set it did not read
      // (it would take every Service out of VPP).
      let listed = false, listError: unknown;
      const listing = async () => {
        try { const l = await list(); listed = true; return l; } catch (e) { listError = e; throw e; }
      };
      const inf = k8s.makeInformer(kc, path, listing as never);
      for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, () => s.changed());
      inf.on('error', (e) => {
        if (s.closed) return;
        s.log(`watching ${what}: ${(e as Error)?.message ?? String(e)}; again in ${RESTART_MS / 1000} s`);
        const t = setTimeout(() => { s.timers.delete(t); if (!s.closed) inf.start().catch(() => undefined); }, RESTART_MS);
        s.timers.add(t);
      });
      s.stops.push(() => inf.stop());
      try { await inf.start(); } catch (e) { listError = e; }
      if (!listed) throw new ServiceSourceError(`listing ${what} from the Kubernetes API failed: ${(listError as Error)?.message ?? String(listError)}`);
      return { list: () => inf.list(), parse };
    };
    try {
      s.services = await watch('Services', '/api/v1/services', () => core.listServiceForAllNamespaces(), serviceFromObject);
      s.slices = await watch('EndpointSlices', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces(), endpointSliceFromObject);
    } catch (e) {
      await s.close();
      throw e;
    }
    s.current = s.parse();
    return s;
  }

  private parseAll<T>(w: Watched<T>): T[] {
    const out: T[] = [];
    for (const o of w.list()) {
      try { out.push(w.parse(o, 'Kubernetes API')); } catch (e) { this.log(`${(e as Error).message} (left out)`); }
    }
    return out;
  }

  private parse(): ServiceSnapshot {
    return { services: this.parseAll(this.services), slices: this.parseAll(this.slices) };
  }

  private changed(): void {
    if (!this.services || !this.slices) return; // still starting: create() takes the first snapshot
    this.current = this.parse();
    for (const cb of this.cbs) cb();
  }

  snapshot(): ServiceSnapshot { return this.current; }
  onChange(cb: () => void): void { this.cbs.push(cb); }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const stop of this.stops.splice(0)) await stop().catch(() => undefined);
  }
}
