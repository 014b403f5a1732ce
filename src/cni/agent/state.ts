// Persistent agent state in the state dir: one JSON file per pod attachment (keyed by container
// id) and one node file (per-network VPP objects, id counters). Writes are atomic (temp file,
// fsync, rename), so a crash leaves either the old or the new version, never a torn file.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { TMP_MARK, writeFileAtomic } from '../atomic-file.js';
import { join } from 'node:path';
import type { CniResult } from '../spec.js';
import type { CustomIfType } from '../annotations.js';
import type { KindResource } from './kinds/index.js';
import type { PodMetadata } from './pod-metadata.js';

/** What a pod record holds that the pipeline itself creates; each interface kind adds its own (kinds/). */
export type PipelineResource =
  | { kind: 'lease'; network: string; ifName: string; address?: string }
  | { kind: 'route'; prefix: string; vrfId: number; swIfIndex: number; nextHop?: string }
  /** VPP's static neighbour (ARP entry) for a pod address, with the pod interface's MAC. */
  | { kind: 'neighbor'; ifName: string; swIfIndex: number; ip: string; mac: string }
  | { kind: 'nat'; localIp: string; externalIp: string; vrfId: number }
  /** A pod-side config key written to etcd (contivpp.io/microservice-label); deleted only while it holds value. */
  | { kind: 'etcd-key'; key: string; value: string }
  /** This pod holds its microservice label (etcd owner record, see etcd/label-owner.ts). */
  | { kind: 'label-claim'; label: string };

export type Resource = PipelineResource | KindResource;

export interface PodInterfaceState {
  name: string;
  type: CustomIfType;
  network: string;
  /** Whether this is the pod's main interface (CNI_IFNAME). */
  main: boolean;
  address?: string; // CIDR as configured in the pod (/32)
  gateway?: string;
  swIfIndex?: number;
  memif?: { id: number; socket: string; secret: string };
  /** Routes configured inside the pod for this interface. */
  podRoutes: Array<{ dst: string; gw?: string }>;
}

export interface PodRecord {
  containerId: string;
  ifName: string;
  netns?: string;
  pod?: { namespace: string; name: string; uid?: string };
  /** Where ADD read the pod's annotations and resource limits from. */
  metadataSources?: PodMetadata['sources'];
  /** adding: ADD in progress or cut short; deleting: DEL in progress, cut short or failed (reconcile finishes both). */
  phase: 'adding' | 'ready' | 'deleting';
  /** In creation order; DEL and rollback undo them in reverse. */
  resources: Resource[];
  interfaces: PodInterfaceState[];
  serviceEndpoint?: { interface: string; ip: string; podIp: string };
  microserviceLabel?: string;
  /** Chained after another CNI (it made eth0; the result extends its prevResult). */
  chained?: boolean;
  result?: CniResult;
  createdAt: string;
}

export interface NetworkState {
  name: string;
  kind: 'default' | 'L2' | 'L3';
  vrfId: number;
  bdId?: number;
  loopbackSwIfIndex?: number;
  gateway?: string; // CIDR on the loopback
  nodeSubnet?: string;
  subnetCIDR?: string;
}

export interface NodeState {
  networks: Record<string, NetworkState>;
  nextVrfId: number;
  nextBdId: number;
  nextMemifSocketId: number;
}

export const emptyNodeState = (): NodeState => ({ networks: {}, nextVrfId: 1, nextBdId: 1, nextMemifSocketId: 1 });

export class StateStore {
  readonly podsDir: string;
  readonly nodeFile: string;
  constructor(readonly dir: string) {
    this.podsDir = join(dir, 'pods');
    this.nodeFile = join(dir, 'node.json');
  }

  async init(): Promise<void> {
    await mkdir(this.podsDir, { recursive: true, mode: 0o700 });
    // Leftover temp files are writes that never got renamed: drop them.
    for (const n of await readdir(this.podsDir)) if (n.includes(TMP_MARK)) await rm(join(this.podsDir, n), { force: true });
  }

  private podFile(containerId: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) throw new Error(`invalid container id ${JSON.stringify(containerId)}`);
    return join(this.podsDir, `${containerId}.json`);
  }

  async savePod(r: PodRecord): Promise<void> { await writeFileAtomic(this.podFile(r.containerId), JSON.stringify(r, null, 2) + '\n'); }

  async loadPod(containerId: string): Promise<PodRecord | undefined> {
    try { return JSON.parse(await readFile(this.podFile(containerId), 'utf8')) as PodRecord; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`pod state ${this.podFile(containerId)}: ${(e as Error).message}`);
    }
  }

  async removePod(containerId: string): Promise<void> { await rm(this.podFile(containerId), { force: true }); }

  async listPods(): Promise<PodRecord[]> {
    const out: PodRecord[] = [];
    for (const n of (await readdir(this.podsDir)).sort()) {
      if (!n.endsWith('.json') || n.includes(TMP_MARK)) continue;
      const r = await this.loadPod(n.slice(0, -5));
      if (r) out.push(r);
    }
    return out;
  }

  async loadNode(): Promise<NodeState> {
    try { return { ...emptyNodeState(), ...(JSON.parse(await readFile(this.nodeFile, 'utf8')) as NodeState) }; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyNodeState();
      throw new Error(`node state ${this.nodeFile}: ${(e as Error).message}`);
    }
  }

  async saveNode(s: NodeState): Promise<void> { await writeFileAtomic(this.nodeFile, JSON.stringify(s, null, 2) + '\n'); }
}
