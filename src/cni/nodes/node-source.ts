// The cluster's node set (cluster/nodes.ts NodeSource) over a NodeDirectory: Node objects plus
// slice claims, recomputed whenever the directory says something may have changed (the API
// server's watch events, or a poll of the manifests dir). Listeners hear only real changes of the
// set; a directory that cannot be read keeps the last good set (a failing API server or a
// half-written manifest must not tear down the routes and tunnels to nodes that are still there).
import type { ClusterNode, NodeSource } from '../cluster/nodes.js';
import { clusterNodes, type ClusterSubnet, type NodeDirectory } from './identity.js';

/** A NodeDirectory that can tell when Node objects or claims may have changed. */
export interface WatchedNodeDirectory extends NodeDirectory {
  /** Starts calling `changed` on (possible) changes; resolves to a function that stops it. */
  watch(changed: () => void, log: (msg: string) => void): Promise<() => Promise<void>>;
}

export class DirectoryNodeSource implements NodeSource {
  private nodes: ClusterNode[] = [];
  private key = '';
  private skipped = '';
  private cbs: Array<() => void> = [];
  private stop: (() => Promise<void>) | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  private constructor(readonly dir: WatchedNodeDirectory, private readonly cluster: ClusterSubnet, private readonly log: (m: string) => void) {}

  /** Reads the set once (an unreadable directory is an error here) and starts watching. */
  static async open(dir: WatchedNodeDirectory, cluster: ClusterSubnet, log: (m: string) => void): Promise<DirectoryNodeSource> {
    const s = new DirectoryNodeSource(dir, cluster, log);
    await s.compute();
    s.stop = await dir.watch(() => s.refresh(), log);
    return s;
  }

  private async compute(): Promise<boolean> {
    const [objs, claims] = await Promise.all([this.dir.listNodes(), this.dir.claims.list()]);
    const { nodes, skipped } = clusterNodes(objs, claims, this.cluster);
    const sk = skipped.join('; ');
    if (sk !== this.skipped && sk) this.log(`nodes not (yet) in the cluster set: ${sk}`);
    this.skipped = sk;
    const key = JSON.stringify(nodes);
    if (key === this.key) return false;
    this.nodes = nodes;
    this.key = key;
    return true;
  }

  /** Recomputes the set (one run at a time; calls during a run cause one more). */
  refresh(): Promise<void> {
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          if (await this.compute()) {
            this.log(`node set: ${this.nodes.map((n) => `${n.name} ${n.internalIp} ${n.podSubnet}`).join(', ') || 'empty'}`);
            for (const cb of this.cbs) cb();
          }
        } catch (e) {
          this.log(`reading the nodes from ${this.dir.where} failed, keeping the previous ${this.nodes.length}: ${(e as Error).message}`);
        }
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }

  async list(): Promise<ClusterNode[]> { return this.nodes.map((n) => ({ ...n })); }
  onChange(cb: () => void): void { this.cbs.push(cb); }

  async close(): Promise<void> {
    const stop = this.stop;
    this.stop = undefined;
    await stop?.();
    await this.running;
  }
}
