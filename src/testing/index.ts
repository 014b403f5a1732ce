// tsvpp/testing: test doubles for your own tests (and ours), the way GoVPP ships a mock adapter.
// Nothing here is used by the product (src/sys, memif, vppapi, cni, cli): the tools (perf/, fuzz/)
// and the tests import it. Each double says in its header what it models and what it does not.
//  - the VPP emulator: VPP's binary API socket protocol with a small stateful model, so a
//    VppClient or the CNI agent can run without VPP (docs/vppapi-client.md);
//  - the kubelet stand-in: kubelet's device plugin Registration and PodResources gRPC services;
//  - a raw memif peer: speaks the memif control protocol byte by byte, so it can misbehave;
//  - nodeManifest: a Node object for a manifests dir (the agent takes its pod slice and address from it);
//  - the Kubernetes API stand-in: Nodes and Leases over HTTP, for the agent's node identity;
//  - the libcni stand-in: runs a conflist's plugins as container runtimes do (chained plugins).
export * from './vpp-emulator/index.js';
export { KubeletStandin } from './kubelet-standin.js';
export {
  RawMemifPeer, RawMemifListener, rawSlaveSetup, rawMasterHandshake, helloMsg, initMsg, describe as describeReceived,
} from './raw-memif-peer.js';
export type { Received, RawSlaveSetup } from './raw-memif-peer.js';
export { nodeManifest } from './node-manifest.js';
export type { NodeManifestOptions } from './node-manifest.js';
export { KubeApiStandin } from './kube-api-standin.js';
export { LibcniStandin } from './libcni-standin.js';
export type { Conflist, LibcniCall, PluginRun } from './libcni-standin.js';
