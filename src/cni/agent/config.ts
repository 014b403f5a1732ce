// Agent configuration: a YAML or JSON file (--config) overridden by command-line flags.
// Every validation error names the field (or flag) and the offending value.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { overlaps4, parseIp4, parsePrefix4 } from '../ipv4.js';
import { DEFAULT_AGENT_SOCKET, DEFAULT_AGENT_STATE_DIR } from '../agent-protocol.cjs';
import { DEFAULT_CNI_PLUGIN_DIRS } from '../ipam.js';
import { NODE_INTERCONNECTS, type NodeInterconnect } from '../cluster/plan.js';

export type Eth0Kind = 'auto' | 'tap' | 'veth-afpacket';
/** What eth0Kind means on this node, decided once when the agent starts. */
export type Eth0Wiring = Exclude<Eth0Kind, 'auto'>;

/** VPP's tap v2 opens this (tap.c: open "/dev/vhost-net"); without it tap_create_v2 returns -11. */
export const VHOST_NET = '/dev/vhost-net';
/** The VPP ↔ host link: chosen like eth0Kind (auto: tap where /dev/vhost-net exists), or none. */
export type HostLinkSetting = 'auto' | 'tap' | 'veth-afpacket' | 'none';

export interface AgentConfig {
  /** VPP binary API socket. */
  vppApiSocket: string;
  /** Directory of VPP's .api.json files (default: the client's, /usr/share/vpp/api). */
  vppApiDir?: string;
  /** Cluster pod subnet, e.g. 10.1.0.0/16. */
  podSubnet: string;
  /** Each node's slice of podSubnet, e.g. 24: a node gets a /24 (its Node's spec.podCIDR, or one it claims). */
  podSubnetNodePrefixLen: number;
  /** This node's name: its Node object's metadata.name (default: the host name). */
  nodeName: string;
  /** The address other nodes reach this node at, when its Node's InternalIP is not it (published on the Node). */
  nodeIp?: string;
  /** Namespace of the slice-claim Leases (API server mode). */
  leaseNamespace: string;
  /** Per-pod memif sockets are created under this directory. */
  memifSocketDir: string;
  /** Pod state, node state and host-local leases (stateDir/ipam) live here. */
  stateDir: string;
  /** Unix socket tsvpp-cni talks to. */
  cniSocket: string;
  /** Read pods and CustomNetworks from manifests in this directory instead of the API server. */
  podManifests?: string;
  /** Kubeconfig for the API server; neither this nor podManifests = in-cluster config. */
  kubeconfig?: string;
  /** Pod eth0 as a VPP tap v2 (needs /dev/vhost-net), a veth pair + af_packet, or auto: tap where
   *  the node has /dev/vhost-net, veth + af_packet otherwise. */
  eth0Kind: Eth0Kind;
  /** Most custom interfaces one pod may ask for. */
  maxCustomInterfaces: number;
  /** Where to look for host-local. */
  cniPluginDirs: string[];
  /** MTU of pod interfaces (0 = kernel default). */
  mtu: number;
  /** Pod veths (with their af_packet) kept ready for ADD (veth-pool.ts); 0 = none. */
  vethPoolSize: number;
  /** Members beyond vethPoolSize (handed back after more pods had them at once) are deleted after this many seconds without a CNI request. */
  vethPoolIdleSeconds: number;
  /** memif devices the device plugin advertises as contivpp.io/memif (0 = no device plugin). */
  memifDevices: number;
  /** kubelet's device-plugins directory (its kubelet.sock, and our plugin socket). */
  devicePluginDir: string;
  /** kubelet's PodResources socket, asked at ADD which memif devices a pod got. */
  podResourcesSocket: string;
  /** etcd endpoints (http://host:port) for contivpp.io/microservice-label pods; empty = off. */
  etcdEndpoints: string[];
  /** Chained mode: another CNI makes eth0; the agent keeps <dir>/00-tsvpp-chained.conflist = that
   *  CNI's conflist in this dir + tsvpp-cni (chained-conflist.ts). Unset: tsvpp is the primary CNI. */
  chainedCniConfDir?: string;
  /** Kubernetes Services: served in VPP (its cnat plugin; no kube-proxy needed), or off (left to
   *  whatever else serves them, e.g. kube-proxy behind the host link). */
  services: ServicesMode;
  /** How VPP is linked to the host's network stack; none = pods reach only VPP (no host, no other nodes, no outside). */
  hostLink: HostLinkSetting;
  /** Addresses of the VPP ↔ host link (at least a /30): VPP .1, host .2. */
  hostLinkSubnet: string;
  /** How the default network crosses between nodes: host-gw (nodes on one L2 segment) or vxlan
   *  (a Linux VXLAN overlay between the hosts: nodes anywhere they reach each other over UDP 4789). */
  nodeInterconnect: NodeInterconnect;
}

export type ServicesMode = 'vpp' | 'off';

export const DEFAULT_CONFIG: AgentConfig = {
  vppApiSocket: '/run/vpp/api.sock',
  podSubnet: '10.1.0.0/16',
  podSubnetNodePrefixLen: 24,
  nodeName: hostname().toLowerCase(),
  leaseNamespace: 'kube-system',
  memifSocketDir: '/run/tsvpp/memif',
  stateDir: DEFAULT_AGENT_STATE_DIR,
  cniSocket: DEFAULT_AGENT_SOCKET,
  eth0Kind: 'auto',
  maxCustomInterfaces: 16,
  cniPluginDirs: [...DEFAULT_CNI_PLUGIN_DIRS],
  mtu: 0,
  vethPoolSize: 4,
  vethPoolIdleSeconds: 60,
  memifDevices: 0,
  devicePluginDir: '/var/lib/kubelet/device-plugins',
  podResourcesSocket: '/var/lib/kubelet/pod-resources/kubelet.sock',
  etcdEndpoints: [],
  services: 'vpp',
  // Off unless configured (deploy/ turns it on): it changes the host's routes and nftables.
  hostLink: 'none',
  hostLinkSubnet: '169.254.100.0/30',
  nodeInterconnect: 'host-gw',
};

/** Flag name ↔ config field. */
export const FLAGS: Record<string, keyof AgentConfig> = {
  '--vpp-api-socket': 'vppApiSocket',
  '--vpp-api-dir': 'vppApiDir',
  '--pod-subnet': 'podSubnet',
  '--pod-subnet-node-prefix-len': 'podSubnetNodePrefixLen',
  '--node-name': 'nodeName',
  '--node-ip': 'nodeIp',
  '--lease-namespace': 'leaseNamespace',
  '--memif-socket-dir': 'memifSocketDir',
  '--state-dir': 'stateDir',
  '--cni-socket': 'cniSocket',
  '--pod-manifests': 'podManifests',
  '--kubeconfig': 'kubeconfig',
  '--eth0-kind': 'eth0Kind',
  '--max-custom-interfaces': 'maxCustomInterfaces',
  '--cni-plugin-dirs': 'cniPluginDirs',
  '--mtu': 'mtu',
  '--veth-pool-size': 'vethPoolSize',
  '--veth-pool-idle-seconds': 'vethPoolIdleSeconds',
  '--memif-devices': 'memifDevices',
  '--device-plugin-dir': 'devicePluginDir',
  '--pod-resources-socket': 'podResourcesSocket',
  '--etcd': 'etcdEndpoints',
  '--chained-cni-conf-dir': 'chainedCniConfDir',
  '--services': 'services',
  '--host-link': 'hostLink',
  '--host-link-subnet': 'hostLinkSubnet',
  '--node-interconnect': 'nodeInterconnect',
};

const NUMERIC: ReadonlySet<keyof AgentConfig> = new Set(['podSubnetNodePrefixLen', 'maxCustomInterfaces', 'mtu', 'vethPoolSize', 'vethPoolIdleSeconds', 'memifDevices']);

/** Fields optional in AgentConfig (absent from DEFAULT_CONFIG) that a config file may set. */
const OPTIONAL_FIELDS: ReadonlySet<string> = new Set(['podManifests', 'kubeconfig', 'vppApiDir', 'nodeIp', 'chainedCniConfDir']);

/** nodeId is gone (issue 13): said plainly to whoever still sets it. */
const NODE_ID_GONE = 'node ids are no longer set by hand: the node\'s pod slice is its Node\'s spec.podCIDR, or one the agent claims '
  + 'atomically (a Lease per slice, or a file in <podManifests>/tsvpp-slices) and keeps across restarts; '
  + 'a node that had pods keeps its slice (the state dir remembers it). Remove nodeId (and /etc/tsvpp/node-id); see docs/cni.md "Node identity"';

export class ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

/** Splits argv into a config file path, field overrides and leftover positional args. */
export function parseFlags(argv: string[]): { configFile?: string; overrides: Partial<AgentConfig>; rest: string[] } {
  const overrides: Record<string, unknown> = {};
  const rest: string[] = [];
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`flag ${flag} needs a value`);
      return v;
    };
    if (flag === '--config') { configFile = takeValue(); continue; }
    if (flag === '--node-id') throw new ConfigError(`flag --node-id: ${NODE_ID_GONE}`);
    const field = FLAGS[flag];
    if (field) {
      const v = takeValue();
      overrides[field] = NUMERIC.has(field) ? Number(v) : field === 'cniPluginDirs' ? v.split(':') : field === 'etcdEndpoints' ? v.split(',').filter(Boolean) : v;
      if (NUMERIC.has(field) && !/^\d+$/.test(v)) throw new ConfigError(`flag ${flag}: ${JSON.stringify(v)} is not a whole number`);
      continue;
    }
    if (a.startsWith('--')) throw new ConfigError(`unknown flag ${flag} (known: --config, ${Object.keys(FLAGS).join(', ')})`);
    rest.push(a);
  }
  return { overrides: overrides as Partial<AgentConfig>, rest, ...(configFile ? { configFile } : {}) };
}

export function validateConfig(c: AgentConfig): AgentConfig {
  const bad = (field: keyof AgentConfig, why: string) => new ConfigError(`config ${field}=${JSON.stringify(c[field])}: ${why}`);
  for (const f of ['vppApiSocket', 'memifSocketDir', 'stateDir', 'cniSocket'] as const) {
    if (typeof c[f] !== 'string' || c[f] === '') throw bad(f, 'must be a non-empty path');
  }
  let subnet;
  try { subnet = parsePrefix4(c.podSubnet); } catch (e) { throw bad('podSubnet', (e as Error).message); }
  if (!Number.isInteger(c.podSubnetNodePrefixLen) || c.podSubnetNodePrefixLen < subnet.len || c.podSubnetNodePrefixLen > 30) {
    throw bad('podSubnetNodePrefixLen', `must be an integer between ${subnet.len} and 30`);
  }
  if (typeof c.nodeName !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(c.nodeName)) throw bad('nodeName', 'must be a Kubernetes node name (lower-case letters, digits, "-" and ".")');
  if (c.nodeIp !== undefined) {
    try { parseIp4(String(c.nodeIp)); } catch (e) { throw bad('nodeIp', (e as Error).message); }
  }
  if (typeof c.leaseNamespace !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(c.leaseNamespace)) throw bad('leaseNamespace', 'must be a Kubernetes namespace name');
  if (c.eth0Kind !== 'auto' && c.eth0Kind !== 'tap' && c.eth0Kind !== 'veth-afpacket') throw bad('eth0Kind', 'must be "auto", "tap" or "veth-afpacket"');
  if (!Number.isInteger(c.maxCustomInterfaces) || c.maxCustomInterfaces < 0) throw bad('maxCustomInterfaces', 'must be a non-negative integer');
  if (!Number.isInteger(c.mtu) || c.mtu < 0 || (c.mtu !== 0 && c.mtu < 576)) throw bad('mtu', 'must be 0 (default) or at least 576');
  if (!Number.isInteger(c.vethPoolSize) || c.vethPoolSize < 0 || c.vethPoolSize > 64) throw bad('vethPoolSize', 'must be an integer from 0 (no pool) to 64');
  if (!Number.isInteger(c.vethPoolIdleSeconds) || c.vethPoolIdleSeconds < 0 || c.vethPoolIdleSeconds > 86400) throw bad('vethPoolIdleSeconds', 'must be a whole number of seconds from 0 to 86400');
  if (!Array.isArray(c.cniPluginDirs) || c.cniPluginDirs.some((d) => typeof d !== 'string')) throw bad('cniPluginDirs', 'must be a list of directories');
  if (!Number.isInteger(c.memifDevices) || c.memifDevices < 0 || c.memifDevices > 4096) throw bad('memifDevices', 'must be an integer from 0 to 4096');
  if (!Array.isArray(c.etcdEndpoints) || c.etcdEndpoints.some((e) => typeof e !== 'string' || !/^https?:\/\/[^/]+\/?$/.test(e))) {
    throw bad('etcdEndpoints', 'must be a list of http://host:port URLs');
  }
  if (c.chainedCniConfDir !== undefined && (typeof c.chainedCniConfDir !== 'string' || !c.chainedCniConfDir.startsWith('/'))) {
    throw bad('chainedCniConfDir', 'must be an absolute directory (the runtime\'s CNI config dir, e.g. /etc/cni/net.d)');
  }
  if (c.services !== 'vpp' && c.services !== 'off') throw bad('services', 'must be "vpp" (served in VPP) or "off"');
  if (c.podManifests !== undefined && c.kubeconfig !== undefined) throw bad('podManifests', 'use either podManifests or kubeconfig, not both');
  if (!['auto', 'tap', 'veth-afpacket', 'none'].includes(c.hostLink)) throw bad('hostLink', 'must be "auto", "tap", "veth-afpacket" or "none"');
  let link;
  try { link = parsePrefix4(c.hostLinkSubnet); } catch (e) { throw bad('hostLinkSubnet', (e as Error).message); }
  if (link.len > 30) throw bad('hostLinkSubnet', 'must be at least a /30 (VPP and the host each need an address)');
  if (overlaps4(link, subnet)) throw bad('hostLinkSubnet', `overlaps the pod subnet ${c.podSubnet}`);
  if (!NODE_INTERCONNECTS.includes(c.nodeInterconnect)) throw bad('nodeInterconnect', `must be ${NODE_INTERCONNECTS.map((x) => JSON.stringify(x)).join(' or ')}`);
  return c;
}

/**
 * eth0Kind on this node: auto picks tap when VPP can create taps here (the node has
 * /dev/vhost-net), else veth + af_packet; an explicit tap without /dev/vhost-net is refused, since
 * every pod's ADD would fail with VPP's bare "System call error #1".
 */
export function resolveEth0Kind(kind: Eth0Kind, vhostNet: boolean, field: 'eth0Kind' | 'hostLink' = 'eth0Kind'): { wiring: Eth0Wiring; why: string } {
  switch (kind) {
    case 'auto':
      return vhostNet ? { wiring: 'tap', why: `${field} auto: ${VHOST_NET} exists` } : { wiring: 'veth-afpacket', why: `${field} auto: ${VHOST_NET} is missing, so VPP cannot create taps` };
    case 'tap':
      if (!vhostNet) {
        throw new ConfigError(`config ${field}="tap": VPP's tap v2 needs ${VHOST_NET}, which this node does not have (load the vhost_net kernel module), `
          + `or set ${field} to "veth-afpacket" (or "auto", which picks it on such nodes)`);
      }
      return { wiring: 'tap', why: `${field} tap` };
    case 'veth-afpacket':
      return { wiring: 'veth-afpacket', why: `${field} veth-afpacket` };
    default: {
      const unknown: never = kind;
      throw new ConfigError(`config ${field}=${JSON.stringify(unknown)}: must be "auto", "tap" or "veth-afpacket"`);
    }
  }
}

/** The VPP ↔ host link on this node, decided like eth0Kind; undefined with hostLink none. */
export function resolveHostLink(c: AgentConfig, vhostNet: boolean): Eth0Wiring | undefined {
  return c.hostLink === 'none' ? undefined : resolveEth0Kind(c.hostLink, vhostNet, 'hostLink').wiring;
}

export async function loadConfig(argv: string[]): Promise<{ config: AgentConfig; rest: string[] }> {
  const { configFile, overrides, rest } = parseFlags(argv);
  let fromFile: Partial<AgentConfig> = {};
  if (configFile) {
    let text: string;
    try { text = await readFile(configFile, 'utf8'); } catch (e) { throw new ConfigError(`config file ${configFile}: ${(e as Error).message}`); }
    let parsed: unknown;
    try { parsed = parseYaml(text); } catch (e) { throw new ConfigError(`config file ${configFile}: ${(e as Error).message}`); }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new ConfigError(`config file ${configFile}: not a mapping`);
    fromFile = (parsed ?? {}) as Partial<AgentConfig>;
    for (const k of Object.keys(fromFile)) {
      if (k === 'nodeId') throw new ConfigError(`config file ${configFile}: nodeId: ${NODE_ID_GONE}`);
      if (!(k in DEFAULT_CONFIG) && !OPTIONAL_FIELDS.has(k)) throw new ConfigError(`config file ${configFile}: unknown field ${JSON.stringify(k)}`);
    }
  }
  return { config: validateConfig({ ...DEFAULT_CONFIG, ...fromFile, ...overrides }), rest };
}
