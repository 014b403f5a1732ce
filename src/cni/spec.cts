// The CNI plugin protocol (spec 1.1.0): environment parameters, network configuration on stdin,
// and the Success / Error / Version result types. Types mirror the JSON on the wire.
// Dependency-free on purpose: tsvpp-cni imports this and must start fast.
import { ifNameProblem } from './ifname.cjs';

export const CNI_VERSION = '1.0.0';
/**
 * 0.3.x and 0.4.0 results differ from 1.0.0 only in `ips[].version`, which we add when asked for
 * them; 0.3.x has no CHECK. 0.3.x matters in chained mode: Calico, Cilium and flannel write 0.3.1
 * conflists, and every plugin in a conflist is called with its version. 1.1.0 adds STATUS and GC
 * (and optional result fields tsvpp does not set); runtimes on libcni 1.2 or later pick it from a
 * conflist's `cniVersions`.
 */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
/** Versions whose results carry `ips[].version`. */
const IP_VERSION_FIELD: ReadonlySet<string> = new Set(['0.3.0', '0.3.1', '0.4.0']);

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
export const CNI_COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'];
/** Commands about the network as a whole (1.1.0): no attachment, so no CNI_CONTAINERID, CNI_NETNS or CNI_IFNAME. */
const NETWORK_COMMANDS: ReadonlySet<CniCommand> = new Set(['STATUS', 'GC']);

/** Well-known error codes (spec section 5); 100+ are ours. */
export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADDs (1.1.0). */
  NotAvailable: 50,
  /** STATUS: cannot serve ADDs, and pods on the network may have limited connectivity (1.1.0). */
  NotAvailableLimitedConnectivity: 51,
  /** A pod annotation is invalid (contivpp.io/...). */
  InvalidPodAnnotation: 100,
  /** Pod metadata could not be read (Kubernetes API or manifests). */
  PodMetadata: 101,
  /** IPAM delegate (host-local) failed. */
  Ipam: 102,
  /** Configuring VPP or Linux failed; everything was rolled back. */
  Wiring: 103,
  /** CHECK found something missing or changed. */
  CheckFailed: 104,
  /** ADD for an attachment that exists already. */
  AlreadyExists: 105,
  /** Anything else inside the agent. */
  Internal: 199,
} as const;

export interface CniErrorResult {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  constructor(readonly code: number, readonly msg: string, readonly details?: string) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = 'CniError';
  }
  toResult(cniVersion: string): CniErrorResult {
    return { cniVersion, code: this.code, msg: this.msg, ...(this.details !== undefined ? { details: this.details } : {}) };
  }
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  /** netns path for interfaces inside the container; omitted for host interfaces. */
  sandbox?: string;
}

export interface CniIpConfig {
  address: string; // CIDR
  gateway?: string;
  interface?: number; // index into interfaces
  version?: '4' | '6'; // 0.3.x and 0.4.0 only
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

export interface CniVersionResult {
  cniVersion: string;
  supportedVersions: string[];
}

/** The plugin configuration object a runtime streams on stdin (derived from one conflist entry). */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  prevResult?: CniResult;
  runtimeConfig?: Record<string, unknown>;
  args?: Record<string, unknown>;
  dns?: CniDns;
  /** tsvpp: the agent's CNI socket (default /run/tsvpp/cni.sock). */
  agentSocket?: string;
  /** tsvpp: how long to wait for the agent, seconds (default 120). */
  timeoutSeconds?: number;
  /** tsvpp: the agent's state dir (default /var/lib/tsvpp): DELs the agent cannot take are recorded there. */
  agentStateDir?: string;
  /** GC (1.1.0): the attachments to this network that are still valid; every other one may go (null: none). */
  'cni.dev/valid-attachments'?: GcAttachment[] | null;
  [key: string]: unknown;
}

/** One still valid attachment in a GC request, as the runtime gave it at ADD. */
export interface GcAttachment { containerID: string; ifname: string }

export interface CniRequest {
  command: CniCommand;
  containerId: string;
  netns?: string;
  ifName: string;
  /** CNI_ARGS, parsed (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID, ...). */
  args: Record<string, string>;
  path?: string;
  config: NetConf;
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** `FOO=BAR;ABC=123` → { FOO: 'BAR', ABC: '123' }. Empty segments are ignored. */
export function parseCniArgs(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const seg of s.split(';')) {
    if (seg === '') continue;
    const eq = seg.indexOf('=');
    if (eq <= 0) throw new CniError(ErrorCode.InvalidEnvironment, 'invalid CNI_ARGS', `segment ${JSON.stringify(seg)} is not KEY=VALUE`);
    out[seg.slice(0, eq)] = seg.slice(eq + 1);
  }
  return out;
}

/** The cniVersion to answer in, even when the config is unreadable. */
export function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)) return v;
  } catch { /* fall through */ }
  return CNI_VERSION;
}

export function versionResult(cniVersion: string): CniVersionResult {
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

export function parseCommand(env: NodeJS.ProcessEnv): CniCommand {
  const c = env.CNI_COMMAND;
  if (!c) throw new CniError(ErrorCode.InvalidEnvironment, 'missing CNI_COMMAND', `CNI_COMMAND must be one of ${CNI_COMMANDS.join(', ')}`);
  if (!(CNI_COMMANDS as readonly string[]).includes(c)) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'invalid CNI_COMMAND', `CNI_COMMAND=${JSON.stringify(c)} is not one of ${CNI_COMMANDS.join(', ')}`);
  }
  return c as CniCommand;
}

/** Parses and validates the network configuration from stdin. */
export function parseNetConf(stdin: string, command: CniCommand): NetConf {
  let raw: unknown;
  try { raw = JSON.parse(stdin); } catch (e) {
    throw new CniError(ErrorCode.DecodeFailure, 'failed to decode network configuration', (e as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CniError(ErrorCode.DecodeFailure, 'failed to decode network configuration', 'stdin is not a JSON object');
  }
  const c = raw as Record<string, unknown>;
  if (typeof c.cniVersion !== 'string') throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', 'cniVersion is missing or not a string');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(c.cniVersion)) {
    throw new CniError(ErrorCode.IncompatibleVersion, 'incompatible CNI version', `cniVersion ${JSON.stringify(c.cniVersion)} is not one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  if (typeof c.name !== 'string' || !NETWORK_NAME.test(c.name)) throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', `name ${JSON.stringify(c.name)} is missing or invalid`);
  if (typeof c.type !== 'string' || c.type === '' || /[/\\]/.test(c.type)) throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', `type ${JSON.stringify(c.type)} is missing or invalid`);
  if (c.ipam !== undefined) {
    throw new CniError(ErrorCode.UnsupportedField, 'unsupported field in network configuration', `ipam=${JSON.stringify(c.ipam)}: tsvpp allocates addresses in its agent (host-local per network); remove "ipam"`);
  }
  if (c.prevResult !== undefined && (typeof c.prevResult !== 'object' || c.prevResult === null || Array.isArray(c.prevResult))) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', 'prevResult is not an object');
  }
  if (command === 'CHECK' && c.cniVersion.startsWith('0.3.')) {
    throw new CniError(ErrorCode.IncompatibleVersion, 'incompatible CNI version', `cniVersion ${c.cniVersion} has no CHECK (it came with 0.4.0)`);
  }
  if (command === 'CHECK' && c.prevResult === undefined) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', 'CHECK requires prevResult');
  }
  if (NETWORK_COMMANDS.has(command) && !atLeast110(c.cniVersion)) {
    throw new CniError(ErrorCode.IncompatibleVersion, 'incompatible CNI version', `cniVersion ${c.cniVersion} has no ${command} (it came with 1.1.0)`);
  }
  if (command === 'GC') validAttachments(c as NetConf);
  for (const k of ['agentSocket', 'agentStateDir'] as const) {
    if (c[k] !== undefined && (typeof c[k] !== 'string' || c[k] === '')) throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', `${k} is not a non-empty string`);
  }
  if (c.timeoutSeconds !== undefined && (typeof c.timeoutSeconds !== 'number' || !(c.timeoutSeconds > 0))) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', `timeoutSeconds ${JSON.stringify(c.timeoutSeconds)} is not a positive number`);
  }
  return c as NetConf;
}

const atLeast110 = (v: string) => !/^0\.|^1\.0\./.test(v);

/**
 * A GC request's still valid attachments (`cni.dev/valid-attachments`; libcni 1.2 also sends them
 * as `cni.dev/attachments`, the name an earlier text of the spec used). `null` is none: a Go
 * runtime's empty list (CRI-O passes a nil slice for a network with no pods; libcni sends it as
 * null). Without the key nothing may be collected: an error, not an empty list.
 */
export function validAttachments(c: NetConf): GcAttachment[] {
  const key = c['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const list = c[key];
  const bad = (why: string) => new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', why);
  if (list === undefined) throw bad('GC without cni.dev/valid-attachments: nothing can be told stale, so nothing was collected');
  if (list === null) return [];
  if (!Array.isArray(list)) throw bad(`${key} is not an array`);
  list.forEach((a: unknown, i) => {
    const o = a as Partial<GcAttachment> | null;
    if (typeof o !== 'object' || o === null || typeof o.containerID !== 'string' || typeof o.ifname !== 'string') {
      throw bad(`${key}[${i}] is not {"containerID": string, "ifname": string}: ${JSON.stringify(a)?.slice(0, 120)}`);
    }
  });
  return list as GcAttachment[];
}

/** Builds a request from the environment and stdin; VERSION is not a request (answer it locally). */
export function parseRequest(env: NodeJS.ProcessEnv, stdin: string): CniRequest {
  const command = parseCommand(env);
  if (NETWORK_COMMANDS.has(command)) {
    // No attachment: libcni sets the attachment's variables empty; whatever they hold is not used.
    const config = parseNetConf(stdin, command);
    return { command, containerId: '', ifName: '', args: {}, config, ...(env.CNI_PATH ? { path: env.CNI_PATH } : {}) };
  }
  const bad: string[] = [];
  const containerId = env.CNI_CONTAINERID ?? '';
  if (!CONTAINER_ID.test(containerId)) bad.push(`CNI_CONTAINERID=${JSON.stringify(containerId)} (must start with a letter or digit, then letters, digits, "_", "." or "-")`);
  const ifName = env.CNI_IFNAME ?? '';
  const p = ifNameProblem(ifName);
  if (p) bad.push(`CNI_IFNAME=${JSON.stringify(ifName)} (${p})`);
  const netns = env.CNI_NETNS || undefined;
  if (command !== 'DEL' && !netns) bad.push('CNI_NETNS (required for ' + command + ')');
  if (bad.length) throw new CniError(ErrorCode.InvalidEnvironment, 'invalid environment variables', bad.join('; '));
  const args = parseCniArgs(env.CNI_ARGS);
  const config = parseNetConf(stdin, command);
  return { command, containerId, ifName, args, config, ...(netns ? { netns } : {}), ...(env.CNI_PATH ? { path: env.CNI_PATH } : {}) };
}

/** Puts a 1.0.0-shaped result into the version the runtime asked for. */
export function resultForVersion(r: CniResult, cniVersion: string): CniResult {
  const out: CniResult = { ...r, cniVersion };
  if (IP_VERSION_FIELD.has(cniVersion) && r.ips) {
    out.ips = r.ips.map((ip) => ({ ...ip, version: ip.address.includes(':') ? '6' : '4' }));
  }
  return out;
}
