// Nodes without an API server (--pod-manifests): the Node objects in the manifests dir stand for
// the cluster's Nodes, and slice claims are files in <dir>/tsvpp-slices/ (claims.ts: atomic
// between every agent sharing the dir). Changes are found by polling: it works on any file
// system, across editors' rename-writes and between agents on one machine.
import { join } from 'node:path';
import { ManifestPodSource } from '../pods/manifests.js';
import { FileSliceClaims } from './claims.js';
import type { NodeObject } from './node-object.js';
import type { WatchedNodeDirectory } from './node-source.js';

export const CLAIMS_SUBDIR = 'tsvpp-slices';
export const MANIFEST_POLL_MS = 1000;

export class ManifestNodeDirectory implements WatchedNodeDirectory {
  readonly where: string;
  readonly claims: FileSliceClaims;
  private readonly manifests: ManifestPodSource;

  constructor(readonly dir: string, private readonly pollMs = MANIFEST_POLL_MS) {
    this.where = `manifests dir ${dir}`;
    this.claims = new FileSliceClaims(join(dir, CLAIMS_SUBDIR));
    this.manifests = new ManifestPodSource(dir);
  }

  async listNodes(): Promise<NodeObject[]> {
    return [...(await this.manifests.load()).nodes.values()];
  }

  async watch(changed: () => void): Promise<() => Promise<void>> {
    const timer = setInterval(changed, this.pollMs);
    timer.unref();
    return async () => clearInterval(timer);
  }
}
