// The node agent: state store, IPAM, pod source, vswitch connection, restart reconcile, and the
// CNI socket, wired together. Dependencies can be injected (tests pass an emulator-backed or fake
// vswitch, a manifests pod source, ...); otherwise they are built from the config.
import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { StateStore } from './state.js';
import { Pipeline, type Ipam, type LinuxOps, type PipelineDeps } from './pipeline.js';
import { startCniServer } from './server.js';
import { resolveEth0Kind, VHOST_NET, type AgentConfig } from './config.js';
import { PendingDels } from './pending.js';
import type { Vswitch } from './vswitch.js';
import type { PodSource } from '../pods/types.js';
import { HostLocalIpam } from '../ipam.js';
import * as linuxIp from '../linux/ip.js';

export interface AgentDeps {
  vswitch?: Vswitch;
  pods?: PodSource;
  ipam?: Ipam;
  linux?: LinuxOps;
  /** memif allocations of the device plugin, via kubelet PodResources (issue 5). */
  memifs?: PipelineDeps['memifs'];
  /** etcd for microservice-label pods (issue 5). */
  vnfConfig?: PipelineDeps['vnfConfig'];
  log?: (msg: string) => void;
  /** Whether VPP can create taps on this node (default: /dev/vhost-net exists). The emulator's
   *  taps are made by its hook and need none. */
  vhostNet?: boolean;
}

export interface Agent {
  config: AgentConfig;
  pipeline: Pipeline;
  store: StateStore;
  server: Server;
  close(): Promise<void>;
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

async function defaultVnfConfig(c: AgentConfig) {
  if (c.etcdEndpoints.length === 0) return undefined;
  const { EtcdKeyValueStore } = await import('../etcd/store.js');
  return new EtcdKeyValueStore({ endpoints: c.etcdEndpoints });
}

async function defaultVswitch(c: AgentConfig, log: (m: string) => void): Promise<Vswitch> {
  const { VppClient } = await import('../../vppapi/client/index.js');
  const { VppVswitch } = await import('./vpp-vswitch.js');
  const client = await VppClient.connect({
    socket: c.vppApiSocket, name: 'tsvpp-agent', ...(c.vppApiDir ? { apiDir: c.vppApiDir } : {}),
    logger: { warn: (m) => log(`vpp: ${m}`) },
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
  const eth0 = resolveEth0Kind(config.eth0Kind, deps.vhostNet ?? existsSync(VHOST_NET));
  log(`eth0: ${eth0.wiring} (${eth0.why})`);
  config = { ...config, eth0Kind: eth0.wiring };
  const store = new StateStore(config.stateDir);
  await store.init();
  const ipam = deps.ipam ?? await HostLocalIpam.create(join(config.stateDir, 'ipam'), config.cniPluginDirs);
  const pods = deps.pods ?? await defaultPods(config);
  const vswitch = deps.vswitch ?? await defaultVswitch(config, log);
  const linux = deps.linux ?? linuxIp;
  const memifPlugin = await defaultMemifs(config, deps, log);
  const memifs = deps.memifs ?? memifPlugin?.memifs;
  const vnfConfig = deps.vnfConfig ?? await defaultVnfConfig(config);
  const pipeline = new Pipeline({ config, vswitch, linux, ipam, pods, store, log, ...(memifs ? { memifs } : {}), ...(vnfConfig ? { vnfConfig } : {}) });
  const reconcile = async (why: string) => {
    const rec = await pipeline.reconcile();
    if (rec.rolledBack.length || rec.orphansDeleted.length || rec.networksForgotten.length || rec.rewired.length || rec.rewireFailed.length) {
      log(`reconcile (${why}): ${JSON.stringify(rec)}`);
    }
    return rec;
  };
  // DELs tsvpp-cni recorded while the agent was away go first: their pods must not be re-wired.
  const pending = new PendingDels(pipeline, config.stateDir, log);
  await pending.run();
  await reconcile('agent start');
  // VPP restarted: it lost every pod interface; put them back from the pod records.
  vswitch.onReconnected?.(() => { reconcile('VPP reconnected').catch((e) => log(`reconcile after VPP reconnect failed: ${(e as Error).message}`)); });
  const handler = async (req: Parameters<Pipeline['handle']>[0]) => {
    if (req.command === 'ADD' && pending.has(req.containerId)) await pending.run();
    return pipeline.handle(req);
  };
  const server = await startCniServer({ socketPath: config.cniSocket, handler, log });
  pending.start(PENDING_RETRY_MS);
  log(`listening on ${config.cniSocket} (node ${config.nodeId}, pods ${config.podSubnet} /${config.podSubnetNodePrefixLen}, eth0 ${config.eth0Kind})`);
  return {
    config, pipeline, store, server,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await pending.stop();
      await memifPlugin?.close();
      if (!deps.vnfConfig) await vnfConfig?.close();
      if (!deps.vswitch) await vswitch.close?.();
      if (!deps.pods) await pods.close?.();
    },
  };
}
