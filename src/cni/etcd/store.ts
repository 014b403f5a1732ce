// Conditional writes of pod configuration to etcd (etcd3 client library). A key is created only
// if absent and deleted only while it still holds the value we wrote, so a key owned by someone
// else (another node's agent, an operator) is never clobbered.
import { Etcd3, GRPCUnavailableError } from 'etcd3';

export interface KeyValueStore {
  /** Creates key=value; succeeds if the key already holds exactly this value; fails if it holds another. */
  createIfAbsent(key: string, value: string): Promise<void>;
  /** Deletes key if it holds value; returns whether it deleted (absent or changed = false). */
  compareAndDelete(key: string, value: string): Promise<boolean>;
  /**
   * Replaces key's value (undefined: absent) with what `change` returns (undefined: delete it),
   * atomically: if another writer changed the key in between, `change` runs again on the new
   * value. An error thrown by `change` aborts with nothing written.
   */
  update(key: string, change: (value: string | undefined) => string | undefined): Promise<void>;
  close(): Promise<void>;
}

export class EtcdError extends Error {
  /**
   * notApplied: the request certainly changed nothing (a conflict, or no connection to send it on).
   * Otherwise — a timeout above all — etcd may still apply it later.
   */
  constructor(readonly endpoints: string[], message: string, readonly conflict = false, readonly notApplied = conflict) {
    super(message);
    this.name = 'EtcdError';
  }
}

/** A fault-handling policy that just runs the call (the part of cockatiel's IPolicy etcd3 uses). */
const passThrough = {
  execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T) => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
} as unknown as NonNullable<NonNullable<NonNullable<ConstructorParameters<typeof Etcd3>[0]>['faultHandling']>['global']>;

export interface EtcdOptions { endpoints: string[]; timeoutMs?: number }

export class EtcdKeyValueStore implements KeyValueStore {
  private readonly client: Etcd3;
  readonly endpoints: string[];
  private readonly timeoutMs: number;

  constructor(o: EtcdOptions) {
    if (!o.endpoints.length) throw new Error('etcd: no endpoints');
    for (const e of o.endpoints) if (!/^https?:\/\/[^/]+\/?$/.test(e)) throw new Error(`etcd endpoint ${JSON.stringify(e)}: expected http://host:port or https://host:port`);
    this.endpoints = o.endpoints;
    this.timeoutMs = o.timeoutMs ?? 5000;
    const deadline = this.timeoutMs;
    this.client = new Etcd3({
      hosts: o.endpoints,
      dialTimeout: Math.min(deadline, 3000),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + deadline }),
      // The library's per-host circuit breaker opens after 3 failures and refuses every call for
      // 5 s ("Execution prevented because the circuit breaker is open"), even once etcd is back.
      // With one endpoint there is no other host to turn to: it only delays recovery (a DEL retried
      // right after etcd returned failed). Several endpoints keep it, to skip a dead one.
      ...(o.endpoints.length === 1 ? { faultHandling: { host: () => passThrough } } : {}),
    });
  }

  /** The etcd3 client, for watches (memif-agent). */
  get raw(): Etcd3 { return this.client; }

  private async guard<T>(what: string, p: Promise<T>): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs + 1000); });
    try { return await Promise.race([p, timeout]); } catch (e) {
      if (e instanceof EtcdError) throw e;
      // grpc-js fails a call it could not send with UNAVAILABLE "No connection established".
      const unsent = e instanceof GRPCUnavailableError && /No connection established/.test(e.message);
      throw new EtcdError(this.endpoints, `etcd ${this.endpoints.join(',')}: ${what}: ${(e as Error).message}`, false, unsent);
    } finally { clearTimeout(t); }
  }

  async createIfAbsent(key: string, value: string): Promise<void> {
    await this.guard(`create ${key}`, (async () => {
      const r = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(value)).else(this.client.get(key)).commit();
      if (r.succeeded) return;
      const have = r.responses[0]?.response_range?.kvs[0]?.value?.toString();
      if (have === value) return;
      throw new EtcdError(this.endpoints, `etcd key ${key} exists already with another value (owned by someone else; not overwritten)`, true);
    })());
  }

  async compareAndDelete(key: string, value: string): Promise<boolean> {
    return this.guard(`delete ${key}`, (async () => {
      const r = await this.client.if(key, 'Value', '==', value).then(this.client.delete().key(key)).commit();
      return r.succeeded;
    })());
  }

  async update(key: string, change: (value: string | undefined) => string | undefined): Promise<void> {
    let refused: { error: unknown } | undefined; // change's own error, passed on as it is
    await this.guard(`update ${key}`, (async () => {
      for (let attempt = 1; ; attempt++) {
        const kv = (await this.client.get(key).exec()).kvs[0];
        const have = kv?.value.toString();
        let next: string | undefined;
        try { next = change(have); } catch (error) { refused = { error }; return; }
        if (next === have) return;
        // Written only if nobody wrote the key since we read it (or it is still absent).
        const cmp = kv ? this.client.if(key, 'Mod', '==', kv.mod_revision) : this.client.if(key, 'Create', '==', 0);
        const r = await cmp.then(next === undefined ? this.client.delete().key(key) : this.client.put(key).value(next)).commit();
        if (r.succeeded) return;
        if (attempt === 20) throw new EtcdError(this.endpoints, `etcd key ${key} changed under every one of ${attempt} attempts to update it`, true);
      }
    })());
    if (refused) throw refused.error;
  }

  async close(): Promise<void> { this.client.close(); }
}
