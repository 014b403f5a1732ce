// The health check node ports of LoadBalancer Services with externalTrafficPolicy Local, served as
// kube-proxy serves them: a load balancer sends NodePort traffic only to nodes whose
// `GET http://<node>:<healthCheckNodePort>/` answers 200 (the Service has a ready endpoint on this
// node: only those get that traffic here); 503 when it has none, and while the service proxy is
// not working (`serviceProxyHealthy: false`: VPP away or restarted, the last run failed). The body
// and the endpoint-weight header are kube-proxy's. One HTTP server per port, on every address of
// the node's namespace (the agent runs in the host's), kept equal to the plan's list; a port that
// cannot be bound is logged (once per error) and tried again at the next run.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { HealthCheck } from './plan.js';

interface Served { server: Server; check: HealthCheck }

export class HealthCheckServers {
  private readonly served = new Map<number, Served>();
  private readonly failed = new Map<number, string>();
  /** Whether VPP holds what the last plan wants (set by the reconciler). */
  private healthy = true;

  /** `host`: the address to listen on (every one of the namespace's by default). */
  constructor(private readonly log: (msg: string) => void, private readonly host = '0.0.0.0') {}

  /** Serves exactly `checks` (one per port), with their current endpoint counts. */
  async update(checks: readonly HealthCheck[]): Promise<void> {
    const want = new Map(checks.map((c) => [c.port, c]));
    for (const [port, s] of this.served) {
      if (want.has(port)) continue;
      this.served.delete(port);
      await close(s.server);
    }
    for (const port of this.failed.keys()) if (!want.has(port)) this.failed.delete(port);
    for (const [port, check] of want) {
      const have = this.served.get(port);
      if (have) { have.check = check; continue; }
      const entry: Served = { server: createServer((_req, res) => answer(entry.check, this.healthy, res)), check };
      try {
        await listen(entry.server, port, this.host);
        // From now on an 'error' (a failed accept: EMFILE) is logged; unheard, it would end the agent.
        entry.server.on('error', (e) => this.log(`services: health check port ${port}: ${e.message}`));
        this.served.set(port, entry);
        this.failed.delete(port);
      } catch (e) {
        const msg = `services: health check of ${check.namespace}/${check.name} on port ${port} not served: ${(e as Error).message}`;
        if (this.failed.get(port) !== msg) this.log(msg);
        this.failed.set(port, msg);
      }
    }
  }

  /** Whether the service proxy works: false answers 503 on every port. */
  proxyHealthy(ok: boolean): void { this.healthy = ok; }

  /** The ports served now. */
  ports(): number[] { return [...this.served.keys()].sort((a, b) => a - b); }

  async close(): Promise<void> { await this.update([]); }
}

function answer(c: HealthCheck, healthy: boolean, res: ServerResponse): void {
  const body = JSON.stringify({ service: { namespace: c.namespace, name: c.name }, localEndpoints: c.localEndpoints, serviceProxyHealthy: healthy });
  res.writeHead(c.localEndpoints > 0 && healthy ? 200 : 503, {
    'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': String(c.localEndpoints),
  });
  res.end(body);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
