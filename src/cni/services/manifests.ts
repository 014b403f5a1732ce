// ServiceSource over the agent's manifests dir (--pod-manifests): the Service and EndpointSlice
// objects there, as `kubectl apply -f DIR` would create them. The dir is read again every
// intervalMs; a change calls the listeners. A dir that no longer parses is logged and the last
// good objects are kept, so a half-written file never takes every Service away.
import { readManifests } from '../pods/manifests.js';
import { endpointSliceFromObject, serviceFromObject } from './objects.js';
import { ServiceSourceError, type ServiceSnapshot, type ServiceSource } from './types.js';

export class ManifestServiceSource implements ServiceSource {
  private current: ServiceSnapshot = { services: [], slices: [] };
  private text = '';
  private readonly cbs: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  private constructor(readonly dir: string, private readonly log: (m: string) => void) {}

  /** Reads the dir once (an error here is the caller's) and keeps watching it. */
  static async open(dir: string, o: { log: (m: string) => void; intervalMs?: number }): Promise<ManifestServiceSource> {
    const s = new ManifestServiceSource(dir, o.log);
    s.take(await s.read());
    s.timer = setInterval(() => { s.reading ??= s.reload().finally(() => { s.reading = undefined; }); }, o.intervalMs ?? 1000);
    s.timer.unref();
    return s;
  }

  private async read(): Promise<ServiceSnapshot> {
    const snap: ServiceSnapshot = { services: [], slices: [] };
    for (const { obj, kind, where } of await readManifests(this.dir, (m) => new ServiceSourceError(m))) {
      if (kind === 'Service') snap.services.push(serviceFromObject(obj, where));
      else if (kind === 'EndpointSlice') snap.slices.push(endpointSliceFromObject(obj, where));
    }
    return snap;
  }

  /** Takes a snapshot; true when it differs from the current one. */
  private take(snap: ServiceSnapshot): boolean {
    const text = JSON.stringify(snap);
    if (text === this.text) return false;
    this.current = snap;
    this.text = text;
    return true;
  }

  private async reload(): Promise<void> {
    let snap: ServiceSnapshot;
    try { snap = await this.read(); } catch (e) {
      this.log(`services from ${this.dir}: ${(e as Error).message}; keeping the previous ${this.current.services.length} Service(s)`);
      return;
    }
    if (this.take(snap)) for (const cb of this.cbs) cb();
  }

  snapshot(): ServiceSnapshot { return this.current; }
  onChange(cb: () => void): void { this.cbs.push(cb); }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }
}
