// The node agent: state store, IPAM, pod source, vswitch connection, restart reconcile, and the
// CNI socket, wired together. Dependencies can be injected (tests pass an emulator-backed or fake
// vswitch, a manifests pod source, ...); otherwise they are built from the config.
import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { StateStore } from './state.js';
import { Pipeline, type Ipam, type LinuxOps, type PipelineDeps } from './pipeline.js';
import { startCniServer, startInvocationServer } from './server.js';
import { resolveEth0Kind, resolveHostLink, VHOST_NET, type AgentConfig } from './config.js';
import { PendingDels } from './pending.js';
import { VethPool } from './veth-pool.js';
import type { Vswitch } from './vswitch.js';
import type { PodSource } from '../pods/types.js';
import { HostLocalIpam } from '../ipam.js';
import * as linuxIp from '../linux/ip.js';
import { Cluster, changed, type ClusterReport, type ClusterServices } from '../cluster/cluster.js';
import { hostLinkAddresses } from '../cluster/plan.js';
import { linuxHost, type HostNet } from '../cluster/host.js';
import type { NodeSource } from '../cluster/nodes.js';
import { establishIdentity, IdentityError, type NodeIdentity } from '../nodes/identity.js';
import { DirectoryNodeSource, type WatchedNodeDirectory } from '../nodes/node-source.js';
import { ChainedConflistWriter, tsvppPluginConf } from './chained-conflist.js';
import { hostRange4, parsePrefix4 } from '../ipv4.js';
import { Services } from '../services/services.js';
import type { ServiceSource } from '../services/types.js';
import { MEMIF_SOCKET_DIR_MAX_BYTES } from './kinds/memif.js';

export interface AgentDeps {
  vswitch?: Vswitch;
  pods?: PodSource;
  ipam?: Ipam;
  linux?: LinuxOps;
  /** memif allocations of the device plugin, via kubelet PodResources (issue 5). */
  memifs?: PipelineDeps['memifs'];
  /** etcd for microservice-label pods (issue 5). */
  vnfConfig?: PipelineDeps['vnfConfig'];
  /** Node objects and slice claims (default: the manifests dir with podManifests, else the API server). */
  nodeDirectory?: WatchedNodeDirectory;
  /** Services and EndpointSlices (default: from podManifests, else the API server). */
  serviceSource?: ServiceSource;
  /** The host's network stack (default: the agent's own network namespace). */
  host?: HostNet;
  /** The cluster's nodes (default: the Node objects of nodeDirectory, watched). */
  nodes?: NodeSource;
  log?: (msg: string) => void;
  /** Whether VPP can create taps on this node (default: /dev/vhost-net exists). The emulator's
   *  taps are made by its hook and need none. */
  vhostNet?: boolean;
}

export interface Agent {
  config: AgentConfig;
  /** This node's name, address and pod slice, as established at start. */
  node: NodeIdentity;
  /** The cluster's nodes (name, address, pod slice), watched. */
  nodes: NodeSource;
  pipeline: Pipeline;
  store: StateStore;
  server: Server;
  /** The service proxy (absent with services: off). */
  services?: Services;
  /** The host link and the paths to the other nodes (absent with hostLink none). */
  cluster?: Cluster;
  /** Pod veths made ahead (absent with vethPoolSize 0). */
  pool?: VethPool;
  /** Runs the cluster reconciler now, in the pipeline's turn (undefined with hostLink none). */
  reconcileCluster(): Promise<ClusterReport | undefined>;
  close(): Promise<void>;
}

/** How often the cluster reconciler looks again when nothing told it to (host routes or tables changed by others). */
export const CLUSTER_RESYNC_MS = 30_000;

/**
 * The cluster reconciler of an agent's config, for `node` (also used by `tsvpp agent teardown`,
 * which knows the node's slice only from its state dir, if at all).
 */
export function makeCluster(c: AgentConfig, node: { name: string; podSubnet?: string; internalIp?: string }, d: { vswitch: Vswitch; store: StateStore; host?: HostNet; nodes?: NodeSource; services?: ClusterServices; log: (m: string) => void; vhostNet: boolean }): Cluster | undefined {
  const kind = resolveHostLink(c, d.vhostNet);
  if (!kind) return undefined;
  return new Cluster({
    config: { nodeName: node.name, ...(node.podSubnet ? { podSubnet: node.podSubnet } : {}), ...(node.internalIp ? { internalIp: node.internalIp } : {}), clusterPodSubnet: c.podSubnet, nodePrefixLen: c.podSubnetNodePrefixLen, hostLinkSubnet: c.hostLinkSubnet, hostLink: kind, interconnect: c.nodeInterconnect },
    vswitch: d.vswitch, store: d.store, host: d.host ?? linuxHost(), ...(d.nodes ? { nodes: d.nodes } : {}), ...(d.services ? { services: d.services } : {}), log: d.log,
  });
}

async function defaultPods(c: AgentConfig): Promise<PodSource> {
  if (c.podManifests) {
    const { ManifestPodSource } = await import('../pods/manifests.js');
    return new ManifestPodSource(c.podManifests);
  }
  const { KubePodSource } = await import('../pods/kube.js');
  return KubePodSource.create(c.kubeconfig ? { kubeconfig: c.kubeconfig } : {});
}

/** With memifDevices > 0: the device plugin, and kubelet PodResources to find a pod's devices at ADD. */
async function defaultMemifs(c: AgentConfig, deps: AgentDeps, log: (m: string) => void) {
  if (deps.memifs || c.memifDevices === 0) return null;
  const { AllocationStore } = await import('../deviceplugin/allocations.js');
  const { MemifDevicePlugin } = await import('../deviceplugin/plugin.js');
  const { PodResourcesClient } = await import('../podresources/client.js');
  const { PodResourcesMemifSource } = await import('../podresources/memif-source.js');
  const store = new AllocationStore(c.stateDir, c.memifSocketDir);
  const plugin = new MemifDevicePlugin({ dir: c.devicePluginDir, devices: c.memifDevices, store, log });
  await plugin.start();
  const podResources = new PodResourcesClient(c.podResourcesSocket);
  return {
    memifs: new PodResourcesMemifSource(podResources, store),
    async close() { podResources.close(); await plugin.close(); },
  };
}

async function defaultNodeDirectory(c: AgentConfig): Promise<WatchedNodeDirectory> {
  if (c.podManifests) {
    const { ManifestNodeDirectory } = await import('../nodes/manifest-nodes.js');
    return new ManifestNodeDirectory(c.podManifests);
  }
  const { KubeNodeDirectory } = await import('../nodes/kube-nodes.js');
  return KubeNodeDirectory.create({ namespace: c.leaseNamespace, ...(c.kubeconfig ? { kubeconfig: c.kubeconfig } : {}) });
}

/**
 * This node's identity from its Node object and the slice claims. A node that had pods before
 * keeps its slice: the state dir remembers the default network's slice, which is claimed first
 * (this is also how a node that ran with a hand-set nodeId keeps its addresses). A cluster-given
 * spec.podCIDR other than that slice cannot be reconciled with live pods: refused, with what to do.
 */
async function nodeIdentity(c: AgentConfig, dir: WatchedNodeDirectory, store: StateStore, log: (m: string) => void): Promise<NodeIdentity> {
  const before = (await store.loadNode()).networks.default?.nodeSubnet;
  const node = await establishIdentity(dir, {
    nodeName: c.nodeName, podSubnet: c.podSubnet, nodePrefixLen: c.podSubnetNodePrefixLen, log,
    ...(c.nodeIp ? { nodeIp: c.nodeIp } : {}), ...(before ? { preferredSlice: before } : {}),
  });
  if (before && before !== node.podSubnet) {
    throw new IdentityError(`this node's pod slice is ${node.podSubnet} (${node.source}), but its state dir ${c.stateDir} has the default network on ${before}, `
      + 'where its pods have their addresses: delete the node\'s pods (CNI DEL) and the default network (node.json), or give the node back its slice');
  }
  return node;
}

async function defaultVnfConfig(c: AgentConfig) {
  if (c.etcdEndpoints.length === 0) return undefined;
  const { EtcdKeyValueStore } = await import('../etcd/store.js');
  return new EtcdKeyValueStore({ endpoints: c.etcdEndpoints });
}

async function defaultServiceSource(c: AgentConfig, log: (m: string) => void): Promise<ServiceSource> {
  if (c.podManifests) {
    const { ManifestServiceSource } = await import('../services/manifests.js');
    return ManifestServiceSource.open(c.podManifests, { log });
  }
  const { KubeServiceSource } = await import('../services/kube.js');
  return KubeServiceSource.create({ ...(c.kubeconfig ? { kubeconfig: c.kubeconfig } : {}), log });
}

/** The agent's vswitch: a VPP API client on config.vppApiSocket (reconnecting, for the agent itself). */
export async function connectVswitch(c: AgentConfig, log: (m: string) => void, reconnect = true): Promise<Vswitch> {
  const { VppClient } = await import('../../vppapi/client/index.js');
  const { VppVswitch } = await import('./vpp-vswitch.js');
  const client = await VppClient.connect({
    socket: c.vppApiSocket, name: 'tsvpp-agent', ...(c.vppApiDir ? { apiDir: c.vppApiDir } : {}),
    logger: { warn: (m) => log(`vpp: ${m}`) }, ...(reconnect ? {} : { reconnect: false }),
  });
  const r = client.tableReport;
  if (r.crcMismatch.length) log(`vpp: ${r.crcMismatch.length} message(s) have another CRC than the local API definitions`);
  return new VppVswitch(client);
}

/** How often recorded DELs are looked for again (written during start-up, or failed before). */
const PENDING_RETRY_MS = 10_000;

export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<Agent> {
  const log = deps.log ?? ((m: string) => process.stderr.write(`tsvpp-agent: ${m}\n`));
  // Decided once, before anything is started: an explicit tap on a node without vhost-net stops here.
  const vhostNet = deps.vhostNet ?? existsSync(VHOST_NET);
  const eth0 = resolveEth0Kind(config.eth0Kind, vhostNet);
  log(`eth0: ${eth0.wiring} (${eth0.why})`);
  if (Buffer.byteLength(config.memifSocketDir) > MEMIF_SOCKET_DIR_MAX_BYTES) {
    log(`warning: memifSocketDir ${config.memifSocketDir} is over ${MEMIF_SOCKET_DIR_MAX_BYTES} bytes: a pod with a 64-character sandbox id (containerd, CRI-O) cannot get a memif, its socket path would not fit a unix socket address`);
  }
  const hostLink = resolveHostLink(config, vhostNet);
  config = { ...config, eth0Kind: eth0.wiring };
  const store = new StateStore(config.stateDir);
  await store.init();
  // Who this node is comes first: without it nothing else can be configured.
  const nodeDir = deps.nodeDirectory ?? await defaultNodeDirectory(config);
  const node = await nodeIdentity(config, nodeDir, store, log);
  log(`node ${node.name}: address ${node.internalIp}, pod slice ${node.podSubnet} (${node.source}, ${node.source === 'podCIDR' ? 'spec.podCIDR' : nodeDir.claims.where})`);
  const ipam = deps.ipam ?? await HostLocalIpam.create(join(config.stateDir, 'ipam'), config.cniPluginDirs);
  const pods = deps.pods ?? await defaultPods(config);
  const vswitch = deps.vswitch ?? await connectVswitch(config, log);
  const linux = deps.linux ?? linuxIp;
  const memifPlugin = await defaultMemifs(config, deps, log);
  const memifs = deps.memifs ?? memifPlugin?.memifs;
  const vnfConfig = deps.vnfConfig ?? await defaultVnfConfig(config);
  const nodes = deps.nodes ?? await DirectoryNodeSource.open(nodeDir, { podSubnet: config.podSubnet, nodePrefixLen: config.podSubnetNodePrefixLen }, log);
  // Chained, Services are the primary CNI's: the pods' service traffic never passes VPP.
  const servicesOn = config.services === 'vpp' && config.chainedCniConfDir === undefined;
  const serviceSource = !servicesOn ? undefined : deps.serviceSource ?? await defaultServiceSource(config, log);
  const services = serviceSource && new Services({
    vswitch, source: serviceSource, store, log, nodeName: node.name, podSubnet: config.podSubnet, snatIp: hostRange4(parsePrefix4(node.podSubnet)).gateway,
    // With a host link, NodePorts are VPP's to serve: the host DNATs them to VPP's end of the link.
    ...(hostLink ? { nodePortVip: () => hostLinkAddresses(config.hostLinkSubnet).vpp, hostChanged: () => resync('NodePorts or ClusterIPs changed') } : {}),
  });
  const cluster = makeCluster(config, node, { vswitch, store, ...(deps.host ? { host: deps.host } : {}), nodes, ...(services ? { services } : {}), log, vhostNet });
  const runCluster = async (why: string): Promise<ClusterReport | undefined> => {
    if (!cluster) return undefined;
    const r = await cluster.reconcile();
    if (changed(r)) log(`cluster (${why}): ${JSON.stringify(r)}`);
    return r;
  };
  // Pod veths made ahead (eth0 is a veth: from the start; else once a pod asks for a veth).
  const pool = config.vethPoolSize === 0 ? undefined : new VethPool({
    size: config.vethPoolSize, idleMs: config.vethPoolIdleSeconds * 1000, stateDir: config.stateDir, vswitch, linux, mtu: config.mtu, log,
    turn: (fn) => pipeline.exclusive(fn), busy: () => pipeline.serving, servedAt: () => pipeline.servedAt,
    eager: config.eth0Kind === 'veth-afpacket' && config.chainedCniConfDir === undefined,
  });
  const pipeline: Pipeline = new Pipeline({
    config, node, vswitch, linux, ipam, pods, store, log, ...(memifs ? { memifs } : {}), ...(vnfConfig ? { vnfConfig } : {}), ...(services ? { services } : {}), ...(pool ? { pool } : {}),
    ...(cluster ? { networkCreated: async () => { await runCluster('network created'); } } : {}),
  });
  const reconcileCluster = () => pipeline.exclusive(() => runCluster('requested'));
  // Node set changes and the periodic look: at most one waiting run behind the current one.
  // A closed agent ignores them (a NodeSource or vswitch given in deps outlives it and still calls back).
  let resyncQueued: Promise<unknown> | undefined;
  let closed = false;
  const resync = (why: string) => {
    if (!cluster || resyncQueued || closed) return;
    resyncQueued = pipeline.exclusive(async () => { resyncQueued = undefined; await runCluster(why); })
      .catch((e) => log(`cluster reconcile (${why}) failed: ${(e as Error).message}`));
  };
  const reconcile = async (why: string) => {
    const rec = await pipeline.reconcile();
    if (rec.rolledBack.length || rec.leasesReleased.length || rec.orphansDeleted.length || rec.networksForgotten.length || rec.rewired.length || rec.rewireFailed.length || rec.poolDeleted.length) {
      log(`reconcile (${why}): ${JSON.stringify(rec)}`);
    }
    const sr = await services?.reconcile();
    if (sr && (sr.put.length || sr.deleted.length || sr.errors.length)) log(`services (${why}): ${JSON.stringify({ put: sr.put, deleted: sr.deleted, rejectsAdded: sr.rejectsAdded, errors: sr.errors })}`);
    await pipeline.exclusive(() => runCluster(why));
    return rec;
  };
  // DELs tsvpp-cni recorded while the agent was away go first: their pods must not be re-wired.
  const pending = new PendingDels(pipeline, config.stateDir, log);
  try {
    await pending.run();
    await reconcile('agent start');
  } catch (e) {
    await services?.close(); // its health check ports may be listening already
    if (!deps.nodes) await nodes.close?.();
    if (!deps.serviceSource) await serviceSource?.close();
    throw services && /cnat/.test((e as Error).message)
      ? new Error(`services: VPP's service NAT (the cnat plugin) is not usable: ${(e as Error).message} (load cnat_plugin.so in VPP, or set services: off)`)
      : e;
  }
  services?.start();
  // VPP restarted: it lost every pod interface, the service NAT and the host link; put them back.
  vswitch.onReconnected?.(() => {
    if (closed) return;
    services?.vppRestarted();
    const rewired = reconcile('VPP reconnected');
    pipeline.rewiringUntil(rewired); // STATUS is not ready meanwhile
    rewired.then(() => pool?.refill('reconcile'), (e) => log(`reconcile after VPP reconnect failed: ${(e as Error).message}`));
  });
  nodes.onChange(() => resync('node set changed'));
  const timer = cluster ? setInterval(() => resync('periodic'), CLUSTER_RESYNC_MS) : undefined;
  timer?.unref();
  const handler = async (req: Parameters<Pipeline['handle']>[0]) => {
    if (req.command === 'ADD' && pending.has(req.containerId)) await pending.run();
    if (req.command === 'STATUS') return pipeline.handle(req); // no pod's request: the pool's idle time goes on
    try { return await pipeline.handle(req); } finally { pool?.refill('request'); } // made after the answer is written
  };
  const server = await startCniServer({ socketPath: config.cniSocket, handler, log });
  // The shim's fast path; without it (no 127.0.0.1 here) the shim hands every call to the Node tsvpp-cni.
  const invocations = await startInvocationServer({ cniSocket: config.cniSocket, handler, log }).catch((e: Error) => {
    log(`cni tcp: not listening (${e.message}): tsvpp-cni goes through ${config.cniSocket}, ~35 ms slower per call`);
    return undefined;
  });
  pending.start(PENDING_RETRY_MS);
  pool?.refill('reconcile');
  log(`listening on ${config.cniSocket}${invocations ? ` and 127.0.0.1:${invocations.port}` : ''} (node ${node.name}, pods ${node.podSubnet} of ${config.podSubnet}, eth0 ${config.eth0Kind}, host link ${hostLink ?? 'none'}, services ${servicesOn ? 'in VPP' : config.services === 'off' ? 'off' : 'off (chained)'})`);
  // Chained mode: the conflist appears once the agent serves (the runtime uses it right away).
  const chained = config.chainedCniConfDir ? new ChainedConflistWriter(config.chainedCniConfDir, tsvppPluginConf(config), log) : undefined;
  await chained?.start();
  return {
    config, node, nodes, pipeline, store, server, reconcileCluster, ...(cluster ? { cluster } : {}), ...(services ? { services } : {}), ...(pool ? { pool } : {}),
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await chained?.stop();
      await invocations?.close();
      await new Promise<void>((r) => server.close(() => r()));
      await pending.stop();
      await resyncQueued;
      await pipeline.removePool().catch((e) => log(`veth pool: removing it failed: ${(e as Error).message}`));
      if (!deps.nodes) await nodes.close?.();
      await services?.close();
      if (!deps.serviceSource) await serviceSource?.close();
      await memifPlugin?.close();
      if (!deps.vnfConfig) await vnfConfig?.close();
      if (!deps.vswitch) await vswitch.close?.();
      if (!deps.pods) await pods.close?.();
    },
  };
}
