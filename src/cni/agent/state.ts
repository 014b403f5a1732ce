// Persistent agent state in the state dir: one JSON file per pod attachment (keyed by container
// id) and one node file (per-network VPP objects, id counters). Writes are atomic (temp file,
// rename), so a crash leaves either the old or the new version, never a torn file; how much is
// synced to disk depends on what the record must survive (see savePod).
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { OrderedWrites, TMP_MARK, writeFileAtomic } from '../atomic-file.js';
import { join } from 'node:path';
import type { CniResult } from '../spec.cjs';
import type { CustomIfType } from '../annotations.js';
import type { KindResource } from './kinds/index.js';
import type { PodMetadata } from './pod-metadata.js';

/** What a pod record holds that the pipeline itself creates; each interface kind adds its own (kinds/). */
export type PipelineResource =
  | { kind: 'lease'; network: string; ifName: string; address?: string }
  | { kind: 'route'; prefix: string; vrfId: number; swIfIndex: number; nextHop?: string }
  /** VPP's static neighbour (ARP entry) for a pod address, with the pod interface's MAC. */
  | { kind: 'neighbor'; ifName: string; swIfIndex: number; ip: string; mac: string }
  /** A pod-side config key written to etcd (contivpp.io/microservice-label); deleted only while it holds value. */
  | { kind: 'etcd-key'; key: string; value: string }
  /** This pod holds its microservice label (etcd owner record, see etcd/label-owner.ts). */
  | { kind: 'label-claim'; label: string }
  /**
   * Recorded only by agents before the cnat Services: the NAT44-ED address-only static mapping they
   * made for a service-endpoint-if. Never made now; DEL removes one an older record names.
   */
  | ({ kind: 'nat' } & LegacyNatMapping);

/** NAT44-ED address-only static mapping (the pre-cnat service-endpoint-if). */
export interface LegacyNatMapping { localIp: string; externalIp: string; vrfId: number }

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
  /**
   * vppMac: the VPP-side memif's MAC, chosen by the agent so a re-created memif (VPP restarted)
   * keeps the one the pod has as its gateway's; mac: the pod end's, when the agent configures the
   * pod side (microservice label), VPP's static neighbour for the pod's address.
   */
  memif?: { id: number; socket: string; secret: string; vppMac?: string; mac?: string };
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
  /** contivpp.io/service-endpoint-if: Services reach the pod at this interface's address (ip), not at eth0's (podIp). */
  serviceEndpoint?: { interface: string; ip: string; podIp: string };
  microserviceLabel?: string;
  /** Chained after another CNI (it made eth0; the result extends its prevResult). */
  chained?: boolean;
  result?: CniResult;
  /** The CNI network (the conflist's name) ADD came through: GC collects its own network's only. Absent in records of agents before GC. */
  cniNetwork?: string;
  createdAt: string;
  /**
   * The kernel's boot id when ADD began (/proc/sys/kernel/random/boot_id): a record of another boot
   * belongs to a sandbox that died with the node. Absent in records of older agents.
   */
  bootId?: string;
}

export interface NetworkState {
  name: string;
  kind: 'default' | 'L2' | 'L3';
  vrfId: number;
  bdId?: number;
  /** L2/L3: the VXLAN network identifier of the network's segment between nodes. */
  vni?: number;
  loopbackSwIfIndex?: number;
  gateway?: string; // CIDR on the loopback
  nodeSubnet?: string;
  subnetCIDR?: string;
}

/** A VPP route the cluster reconciler added (src/cni/cluster): recorded before it is added. */
export interface ClusterRoute { prefix: string; vrfId: number; swIfIndex: number; nextHop: string }

export interface NodeState {
  networks: Record<string, NetworkState>;
  clusterRoutes: ClusterRoute[];
  /** sw_if_index of the host link whose service NAT the cluster reconciler turned on. */
  hostLinkServiceNat?: number;
  nextVrfId: number;
  nextBdId: number;
  nextMemifSocketId: number;
}

export const emptyNodeState = (): NodeState => ({ networks: {}, clusterRoutes: [], nextVrfId: 1, nextBdId: 1, nextMemifSocketId: 1 });

export class StateStore {
  /** Saves of one record land in the order they were asked for (an ADD saves from steps that overlap). */
  readonly #files = new OrderedWrites();
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

  /**
   * Saves a pod record. Left in the page cache by default: the record guards against the agent
   * dying in the middle of an ADD or DEL (the page cache outlives the agent), and a crash of the
   * node takes the pod's VPP interfaces, netns and links with it (the leases it may leave without
   * a record are released when the agent starts: Pipeline.sweepLeases). `durable` (file and rename synced)
   * where the record must outlive the node: an ADD's answer, what a DEL or rollback left, and
   * before anything is written to etcd.
   */
  async savePod(r: PodRecord, o: { durable?: boolean } = {}): Promise<void> {
    // Coalesced saves carry the newest record (it only grows or loses what was undone).
    await this.#files.write(this.podFile(r.containerId), JSON.stringify(r, null, 2) + '\n', o);
  }

  async loadPod(containerId: string): Promise<PodRecord | undefined> {
    try { return JSON.parse(await readFile(this.podFile(containerId), 'utf8')) as PodRecord; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`pod state ${this.podFile(containerId)}: ${(e as Error).message}`);
    }
  }

  /** In the same order as the record's saves: a save still queued cannot bring the file back after it. */
  async removePod(containerId: string): Promise<void> { await this.#files.write(this.podFile(containerId), null); }

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
