// A Kubernetes API server stand-in for the agent's node identity: Nodes (list, get, watch, merge
// patch) and coordination.k8s.io Leases in any namespace (list with a label selector, get, create,
// delete with preconditions, watch), over plain HTTP on loopback. What it models of the real one:
// one resourceVersion counter for everything, create refused with 409 AlreadyExists when the name
// is taken (the atomic claim), delete preconditions (409 on a uid or resourceVersion mismatch),
// watch streams of ADDED/MODIFIED/DELETED that replay what happened after the resourceVersion asked
// for. Not modelled: authentication, field selectors, other kinds, garbage collection (the test
// deletes a Node's Leases itself where the collector would), bookmarks, 410 Gone.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

type Obj = { metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown }; [k: string]: unknown };
interface Event { rv: number; type: 'ADDED' | 'MODIFIED' | 'DELETED'; coll: string; object: Obj }

const NODES = '/api/v1/nodes';
const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases$/;

export class KubeApiStandin {
  private rv = 1;
  /** collection path → name → object */
  private readonly objects = new Map<string, Map<string, Obj>>();
  private readonly events: Event[] = [];
  private readonly watchers = new Set<{ coll: string; selector?: string; res: ServerResponse }>();
  private server: Server | undefined;
  /** Every request, "METHOD path", for assertions. */
  readonly requests: string[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => { this.handle(req, res).catch((e) => this.send(res, 500, status(500, 'InternalError', String(e)))); });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** A kubeconfig for this stand-in (token auth, which it does not check). */
  kubeconfig(): string {
    return `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`;
  }

  /** Creates or replaces a Node (as kubelet registering, or the node controller updating it). */
  putNode(node: Record<string, unknown>): void {
    const o = node as Obj;
    const had = this.coll(NODES).get(o.metadata.name);
    this.store(NODES, { apiVersion: 'v1', kind: 'Node', ...o, metadata: { uid: had?.metadata.uid ?? randomUUID(), ...o.metadata } }, had ? 'MODIFIED' : 'ADDED');
  }

  deleteNode(name: string): void { this.remove(NODES, name); }
  node(name: string): Obj | undefined { return this.coll(NODES).get(name); }
  leases(namespace: string): Obj[] { return [...this.coll(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`).values()]; }
  deleteLease(namespace: string, name: string): void { this.remove(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, name); }

  private coll(path: string): Map<string, Obj> {
    let m = this.objects.get(path);
    if (!m) this.objects.set(path, (m = new Map()));
    return m;
  }

  private store(coll: string, o: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    const rv = ++this.rv;
    const obj = { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } };
    this.coll(coll).set(obj.metadata.name, obj);
    this.emit({ rv, type, coll, object: obj });
    return obj;
  }

  private remove(coll: string, name: string): Obj | undefined {
    const o = this.coll(coll).get(name);
    if (!o) return undefined;
    this.coll(coll).delete(name);
    this.emit({ rv: ++this.rv, type: 'DELETED', coll, object: o });
    return o;
  }

  private emit(e: Event): void {
    this.events.push(e);
    for (const w of this.watchers) if (w.coll === e.coll && matches(e.object, w.selector)) w.res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.statusCode = code;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${url.pathname}`);
    let body: Obj | undefined;
    if (req.method === 'POST' || req.method === 'PATCH' || req.method === 'DELETE') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      body = text ? JSON.parse(text) as Obj : undefined;
    }
    const p = url.pathname;
    const lm = LEASES.exec(p);
    const collPath = p === NODES || lm ? p : p.slice(0, p.lastIndexOf('/'));
    const name = p === NODES || lm ? undefined : decodeURIComponent(p.slice(p.lastIndexOf('/') + 1));
    if (collPath !== NODES && !LEASES.test(collPath)) return this.send(res, 404, status(404, 'NotFound', `${p} is not served by this stand-in`));
    const coll = this.coll(collPath);
    const selector = url.searchParams.get('labelSelector') ?? undefined;
    if (req.method === 'GET' && !name && url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const since = Number(url.searchParams.get('resourceVersion') || '0');
      for (const e of this.events) if (e.rv > since && e.coll === collPath && matches(e.object, selector)) res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
      const w = { coll: collPath, ...(selector ? { selector } : {}), res };
      this.watchers.add(w);
      req.on('close', () => this.watchers.delete(w));
      return;
    }
    if (req.method === 'GET' && !name) {
      return this.send(res, 200, { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: String(this.rv) }, items: [...coll.values()].filter((o) => matches(o, selector)) });
    }
    if (req.method === 'POST' && !name && body) {
      if (coll.has(body.metadata.name)) return this.send(res, 409, status(409, 'AlreadyExists', `"${body.metadata.name}" already exists`));
      const ns = lm?.[1];
      return this.send(res, 201, this.store(collPath, { ...body, metadata: { ...body.metadata, ...(ns ? { namespace: ns } : {}), uid: randomUUID() } }, 'ADDED'));
    }
    const o = name ? coll.get(name) : undefined;
    if (!o) return this.send(res, 404, status(404, 'NotFound', `${name} not found`));
    switch (req.method) {
      case 'GET': return this.send(res, 200, o);
      case 'PATCH': {
        if (!/merge-patch\+json/.test(req.headers['content-type'] ?? '')) return this.send(res, 415, status(415, 'UnsupportedMediaType', `content type ${req.headers['content-type']}`));
        const ann = { ...(o.metadata.annotations ?? {}), ...((body?.metadata as Obj['metadata'] | undefined)?.annotations ?? {}) };
        return this.send(res, 200, this.store(collPath, { ...o, metadata: { ...o.metadata, annotations: ann } }, 'MODIFIED'));
      }
      case 'DELETE': {
        const pre = (body as { preconditions?: { uid?: string; resourceVersion?: string } } | undefined)?.preconditions;
        if (pre && ((pre.uid && pre.uid !== o.metadata.uid) || (pre.resourceVersion && pre.resourceVersion !== o.metadata.resourceVersion))) {
          return this.send(res, 409, status(409, 'Conflict', 'precondition failed'));
        }
        this.remove(collPath, name!);
        return this.send(res, 200, status(200, 'Success', 'deleted'));
      }
      default: return this.send(res, 405, status(405, 'MethodNotAllowed', `${req.method}`));
    }
  }
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: code < 300 ? 'Success' : 'Failure', reason, code, message };
}

/** Label selectors of the forms `key` and `key=value`, comma-separated (all must hold). */
function matches(o: Obj, selector: string | undefined): boolean {
  if (!selector) return true;
  const labels = o.metadata.labels ?? {};
  return selector.split(',').every((s) => {
    const [k, v] = s.split('=');
    return v === undefined ? k! in labels : labels[k!] === v;
  });
}
