// The node's service proxy: Kubernetes Services served by VPP's cnat plugin, so no kube-proxy is
// needed on the node. It keeps VPP's translations and ClusterIP reject routes equal to the plan
// (plan.ts) of what the ServiceSource says and what this node's pods are (a service-endpoint pod
// is a backend at its interface's address, and its pod IP is re-translated there), and turns service NAT on
// for every pod interface of the default network (ServiceHooks, called by the pipeline) and for
// VPP's end of the host link (ClusterServices, called by the cluster reconciler, which also hands
// the host the NodePorts and ClusterIPs of the last plan: nftables DNAT and host routes into VPP).
//
// The agent owns every cnat translation and every ICMP-unreachable /32 route of VRF 0 on its VPP:
// what the plan does not want is deleted. Reconciling runs one at a time, after the source or the
// pods changed, after VPP restarted and every RESYNC_MS; each run changes only the difference.
import type { ServiceHooks } from '../agent/pipeline.js';
import type { ClusterServices } from '../cluster/cluster.js';
import type { HostServices } from '../cluster/plan.js';
import type { StateStore } from '../agent/state.js';
import type { ServiceTranslation, Vswitch } from '../agent/vswitch.js';
import { planServices, translationKey, type ServicePlan } from './plan.js';
import { HealthCheckServers } from './health-check.js';
import type { ServiceSource } from './types.js';

export const SERVICES_RESYNC_MS = 30_000;

export interface ServicesDeps {
  vswitch: Vswitch;
  source: ServiceSource;
  /** Pod records: which local pods have a service-endpoint interface. */
  store: StateStore;
  /** The source address of flows that must come back through this node (the node's pod gateway). */
  snatIp: string;
  /** This node's name (EndpointSlices name each endpoint's node: internalTrafficPolicy Local). */
  nodeName: string;
  /** The cluster pod subnet (no Service's external address may be inside it). */
  podSubnet: string;
  /** VPP's address the host hands NodePort traffic to, when the node has a host link. */
  nodePortVip?: () => string | undefined;
  /** Called after a run whose NodePorts, ClusterIPs or external addresses' ports differ from the last (the host's part changes). */
  hostChanged?: () => void;
  /** Where health check node ports listen (default every address; tests: 127.0.0.1). */
  healthCheckHost?: string;
  log: (msg: string) => void;
}

export interface ServiceReport {
  put: string[];
  deleted: string[];
  rejectsAdded: string[];
  rejectsDeleted: string[];
  warnings: string[];
  errors: string[];
  plan: ServicePlan;
}

export const changedServices = (r: ServiceReport): boolean =>
  r.put.length + r.deleted.length + r.rejectsAdded.length + r.rejectsDeleted.length + r.errors.length > 0;

const sameBackends = (e: ServiceTranslation, t: ServiceTranslation): boolean =>
  e.backends.length === t.backends.length && e.backends.every((b, i) => b.ip === t.backends[i]!.ip && b.port === t.backends[i]!.port);

/**
 * `tsvpp agent teardown`: deletes every Service translation and ClusterIP reject route in VPP —
 * what the reconciler takes for its own (IPv4 TCP/UDP cnat translations, /32 ICMP-prohibit routes
 * in table 0), so what it would have deleted had the Services gone. VPP's cnat source-NAT address
 * stays (one global setting, harmless without translations); interface features go with the
 * interfaces.
 */
export async function removeServices(vs: Vswitch): Promise<{ removed: string[]; errors: string[] }> {
  const removed: string[] = [], errors: string[] = [];
  const attempt = async (what: string, f: () => Promise<void>) => {
    try { await f(); removed.push(what); } catch (e) { errors.push(`${what}: ${(e as Error).message}`); }
  };
  for (const t of await vs.dumpServiceTranslations()) await attempt(`Service translation ${translationKey(t)}`, () => vs.deleteServiceTranslation(t.id));
  for (const ip of await vs.dumpRejectRoutes()) await attempt(`ClusterIP reject route ${ip}`, () => vs.deleteRejectRoute(ip));
  return { removed, errors };
}

export class Services implements ServiceHooks, ClusterServices {
  private snat: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private lastWarnings = '';
  private closed = false;
  private lastHost = JSON.stringify({ nodePorts: [], clusterIps: [], externals: [] });
  /** The last run's plan, for `tsvpp agent services`-like inspection and tests. */
  lastPlan: ServicePlan | undefined;

  private readonly health: HealthCheckServers;

  constructor(private readonly d: ServicesDeps) {
    this.health = new HealthCheckServers(d.log, d.healthCheckHost);
  }

  /** The health check node ports served now. */
  healthCheckPorts(): number[] { return this.health.ports(); }

  /** Follows the source and resyncs periodically; the first reconcile is the caller's. */
  start(): void {
    this.d.source.onChange(() => this.kick('Services or EndpointSlices changed'));
    this.timer = setInterval(() => this.kick('periodic'), SERVICES_RESYNC_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true; // a source change or a kick from now on runs nothing (no port opened again)
    clearInterval(this.timer);
    await this.queue;
    await this.health.close();
  }

  /** cnat's source NAT address and policy, set once per VPP life (pod interfaces need it first). */
  private ensureSnat(): Promise<void> {
    this.snat ??= this.d.vswitch.setServiceSnat(this.d.snatIp).catch((e) => { this.snat = undefined; throw e; });
    return this.snat;
  }

  async podInterface(swIfIndex: number): Promise<void> {
    await this.ensureSnat();
    await this.d.vswitch.enableServiceNat(swIfIndex, 'pod');
  }

  /** The host's part of the last plan: NodePorts served by VPP, every ClusterIP, the external addresses' ports. */
  hostServices(): HostServices {
    return { nodePorts: this.lastPlan?.nodePorts ?? [], clusterIps: this.lastPlan?.rejects ?? [], externals: this.lastPlan?.externals ?? [] };
  }

  async enableOnHostLink(swIfIndex: number): Promise<void> {
    await this.ensureSnat();
    await this.d.vswitch.enableServiceNat(swIfIndex, 'uplink');
  }

  /** Resolves once VPP matches the pods as they are now (a failed run is logged, not thrown). */
  async podsChanged(): Promise<void> {
    const r = await this.reconcile().catch((e: Error) => { this.d.log(`services reconcile (pods with a service endpoint changed) failed: ${e.message}`); return undefined; });
    if (r && changedServices(r)) this.d.log(`services (pods with a service endpoint changed): ${JSON.stringify({ put: r.put, deleted: r.deleted, errors: r.errors })}`);
  }

  /** VPP restarted: it has none of the service NAT any more. Call before pod interfaces are re-made. */
  vppRestarted(): void {
    this.snat = undefined;
    this.health.proxyHealthy(false); // until a run has put everything back
  }

  /** A reconcile in the background, at most one waiting behind the running one. */
  kick(why: string): void {
    if (this.pending || this.closed) return;
    this.pending = true;
    this.serial(async () => {
      this.pending = false;
      const r = await this.run();
      if (changedServices(r)) this.d.log(`services (${why}): ${JSON.stringify({ put: r.put, deleted: r.deleted, rejectsAdded: r.rejectsAdded, rejectsDeleted: r.rejectsDeleted, errors: r.errors })}`);
    }).catch((e) => this.d.log(`services reconcile (${why}) failed: ${(e as Error).message}`));
  }

  /** Makes VPP match the plan now (after whatever reconcile is running). */
  reconcile(): Promise<ServiceReport> { return this.serial(() => this.run()); }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async endpointRewrites(): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const rec of await this.d.store.listPods()) if (rec.phase === 'ready' && rec.serviceEndpoint) m.set(rec.serviceEndpoint.podIp, rec.serviceEndpoint.ip);
    return m;
  }

  /** One run; the health check ports say whether it left VPP at the plan. */
  private async run(): Promise<ServiceReport> {
    if (this.closed) throw new Error('services: closed');
    try {
      const r = await this.runOnce();
      this.health.proxyHealthy(r.errors.length === 0);
      return r;
    } catch (e) {
      this.health.proxyHealthy(false);
      throw e;
    }
  }

  private async runOnce(): Promise<ServiceReport> {
    const vs = this.d.vswitch;
    const vip = this.d.nodePortVip?.();
    const plan = planServices({ ...this.d.source.snapshot(), endpointRewrites: await this.endpointRewrites(), nodeName: this.d.nodeName, podSubnet: this.d.podSubnet, ...(vip ? { nodePortVip: vip } : {}),
      linkPorts: new Map((this.lastPlan?.externals ?? []).flatMap((e) => (e.linkPort !== undefined ? [[`${e.ip}:${e.port}/${e.proto}`, e.linkPort] as const] : []))) });
    this.lastPlan = plan;
    const r: ServiceReport = { put: [], deleted: [], rejectsAdded: [], rejectsDeleted: [], warnings: plan.warnings, errors: [], plan };
    const warnings = plan.warnings.join('\n');
    if (warnings !== this.lastWarnings) for (const w of plan.warnings) this.d.log(`services: ${w}`);
    this.lastWarnings = warnings;
    const attempt = async (what: string, f: () => Promise<void>) => {
      try { await f(); } catch (e) { r.errors.push(`${what}: ${(e as Error).message}`); }
    };
    await this.ensureSnat();

    // Reject routes first: a ClusterIP's translation interposes on its route.
    const rejects = new Set(plan.rejects);
    const haveRejects = new Set(await vs.dumpRejectRoutes());
    for (const ip of plan.rejects) {
      if (!haveRejects.has(ip)) await attempt(`reject route ${ip}`, async () => { await vs.addRejectRoute(ip); r.rejectsAdded.push(ip); });
    }

    const want = new Map(plan.translations.map((t) => [translationKey(t), t]));
    const have = await vs.dumpServiceTranslations();
    for (const e of have) {
      const k = translationKey(e);
      if (want.has(k)) continue;
      await attempt(`delete translation ${k}`, async () => { await vs.deleteServiceTranslation(e.id); r.deleted.push(k); });
    }
    const byKey = new Map(have.map((e) => [translationKey(e), e]));
    for (const [k, t] of want) {
      const e = byKey.get(k);
      if (e && e.affinity === t.affinity && sameBackends(e, t)) continue;
      await attempt(`translation ${k}`, async () => {
        // VPP keeps a translation's load-balancing type from its creation: a new affinity needs a new one.
        if (e && e.affinity !== t.affinity) await vs.deleteServiceTranslation(e.id);
        await vs.putServiceTranslation(t);
        r.put.push(k);
      });
    }

    for (const ip of haveRejects) {
      if (!rejects.has(ip)) await attempt(`delete reject route ${ip}`, async () => { await vs.deleteRejectRoute(ip); r.rejectsDeleted.push(ip); });
    }
    // The host's part follows VPP's: a NodePort is DNATed to VPP once its translation is there.
    const host = JSON.stringify(this.hostServices());
    if (host !== this.lastHost) { this.lastHost = host; this.d.hostChanged?.(); }
    await this.health.update(plan.healthChecks);
    return r;
  }
}
