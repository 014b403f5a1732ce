// The vswitch a CNI latency harness drives (cni-latency.ts, cri-latency.ts): the VPP emulator with
// real kernel taps, or a real VPP of its own (scripts/vpp-peer.sh, its default poll-sleep-usec
// 100, not pinned) when a prefix is given; and the interfaces a pod asks for on each, since a VPP
// here has no tap without /dev/vhost-net.
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { VppClient, shippedApiDir } from '../../src/vppapi/client/index.js';
import { VppVswitch } from '../../src/cni/agent/vpp-vswitch.js';
import type { Eth0Kind } from '../../src/cni/agent/config.js';
import type { VswitchInterface } from '../../src/cni/agent/vswitch.js';
import { startVppEmulator, type VppEmulator } from '../../src/testing/vpp-emulator/index.js';
import { startVppPeer, stopVppPeerSync, type VppPeer } from '../peers/vpp.js';

/** The vswitch a run drives: the emulator, or a real VPP installed at `prefix`. */
export type LatencyVswitch = { kind: 'emulator' } | { kind: 'vpp'; prefix: string };

/** Pods with this many custom interfaces are timed. */
export const CNI_LATENCY_SIZES = [0, 1, 3] as const;
export type CustomIfCount = (typeof CNI_LATENCY_SIZES)[number];

/** What a pod of each size asks for on each vswitch, and the kind of its eth0. */
export const POD_INTERFACES: { [K in LatencyVswitch['kind']]: { eth0: Eth0Kind; custom: Record<CustomIfCount, string[]> } } = {
  emulator: { eth0: 'tap', custom: { 0: [], 1: ['memif1/memif'], 3: ['tap1/tap', 'veth1/veth', 'memif1/memif'] } },
  vpp: { eth0: 'veth-afpacket', custom: { 0: [], 1: ['memif1/memif'], 3: ['veth1/veth', 'veth2/veth', 'memif1/memif'] } },
};

export interface StartedVswitch {
  /** "emulator", or "VPP <version>". */
  name: string;
  client: VppClient;
  vswitch: VppVswitch;
  /** The agent's vhostNet: the emulator's kernel taps need none; real VPP here gets veths. */
  vhostNet: boolean;
  /** Where the agent finds the API socket and, for real VPP, its .api.json files. */
  apiSocket: string;
  apiDir?: string;
  interfaces(): Promise<VswitchInterface[]>;
  close(): Promise<void>;
  /** Interrupted (SIGINT/SIGTERM): stops a real VPP synchronously. */
  stopSync(): void;
}

/** Starts the vswitch `target` (the emulator at `apiSocket` in `dir`) and connects a client. */
export async function startLatencyVswitch(target: LatencyVswitch, o: { dir: string; apiSocket: string; clientName: string }): Promise<StartedVswitch> {
  let vpp: VppPeer | undefined;
  let emu: VppEmulator | undefined;
  let registry: ApiRegistry;
  let apiSocket = o.apiSocket;
  let apiDir: string | undefined;
  if (target.kind === 'vpp') {
    vpp = await startVppPeer(target.prefix, `${o.clientName.replace(/[^a-z0-9]/gi, '')}${process.pid}`, { cpu: false, pollSleepUsec: 'script default' });
    apiSocket = vpp.apiSocket;
    apiDir = vpp.apiDir;
    registry = ApiRegistry.fromDir(vpp.apiDir);
  } else {
    registry = ApiRegistry.fromDir(shippedApiDir());
    emu = await startVppEmulator({
      socketPath: apiSocket, registry, runtimeDir: o.dir, vhostNet: true,
      kernelTaps: true, // what real VPP does for tap_create_v2
    });
  }
  let client: VppClient;
  try {
    client = await VppClient.connect({ socket: apiSocket, registry, name: o.clientName, reconnect: false });
  } catch (e) {
    await emu?.close().catch(() => undefined);
    await vpp?.stop().catch(() => undefined);
    throw e;
  }
  const vswitch = new VppVswitch(client);
  return {
    name: vpp ? `VPP ${vpp.version}` : 'emulator',
    client, vswitch, vhostNet: target.kind === 'emulator', apiSocket, ...(apiDir ? { apiDir } : {}),
    interfaces: () => vswitch.dumpInterfaces(),
    async close() {
      try { await client.close(); } catch { /* already closed */ }
      try { await emu?.close(); } catch { /* already closed */ }
      try { await vpp?.stop(); } catch { /* stopped */ }
    },
    stopSync() { if (vpp) stopVppPeerSync(vpp); },
  };
}
