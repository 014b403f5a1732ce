// Pod annotations that ask for custom interfaces (the Contiv-VPP `contivpp.io/...` set) and the
// `contivpp.io/memif` extended resource. Pure functions: the agent resolves networks and pod
// objects first, then hands plain values in here.
import { ifNameProblem } from './ifname.cjs';

export const CUSTOM_IF_ANNOTATION = 'contivpp.io/custom-if';
export const SERVICE_ENDPOINT_IF_ANNOTATION = 'contivpp.io/service-endpoint-if';
export const MICROSERVICE_LABEL_ANNOTATION = 'contivpp.io/microservice-label';
export const MEMIF_RESOURCE = 'contivpp.io/memif';

/** The interface types the annotation names; each has its module in agent/kinds/ (the compiler checks). */
export const CUSTOM_IF_TYPES = ['tap', 'veth', 'memif'] as const;
export type CustomIfType = (typeof CUSTOM_IF_TYPES)[number];
/** "tap, veth or memif" */
const TYPES_TEXT = `${CUSTOM_IF_TYPES.slice(0, -1).join(', ')} or ${CUSTOM_IF_TYPES.at(-1)}`;

/** `default` = the pod network, `stub` = no IP and no routes, anything else = a CustomNetwork name. */
export const DEFAULT_NETWORK = 'default';
export const STUB_NETWORK = 'stub';

/** Names a pod always has; a custom interface may not take them. */
export const RESERVED_IF_NAMES: readonly string[] = ['eth0', 'lo'];

export interface CustomInterface {
  name: string;
  type: CustomIfType;
  network: string;
}

export interface PodAnnotations {
  customIfs: CustomInterface[];
  /** Name of the custom interface that receives service traffic instead of eth0. */
  serviceEndpointIf?: string;
  microserviceLabel?: string;
  /** Sum of `contivpp.io/memif` over the pod's containers' resource limits. */
  memifResources: number;
}

export interface ParseOptions {
  /** CustomNetwork names that exist; when omitted, network names are not checked. */
  knownNetworks?: ReadonlySet<string>;
  /** At most this many custom interfaces (default: unlimited). */
  maxCustomInterfaces?: number;
  /** `contivpp.io/memif` resources the pod requested; when omitted, memif counts are not checked. */
  memifResources?: number;
  /** Interface names that are taken already (e.g. CNI_IFNAME), besides eth0 and lo. */
  reservedNames?: readonly string[];
}

/** The one error type the annotation parser throws. */
export class AnnotationError extends Error {
  constructor(
    readonly annotation: string,
    readonly reason: string,
    readonly item?: string,
    readonly index?: number,
  ) {
    super(`${annotation}: ${item !== undefined ? `item ${index! + 1} ${JSON.stringify(item)}: ` : ''}${reason}`);
    this.name = 'AnnotationError';
  }
}

// Kubernetes object names (DNS-1123 subdomain): what a CustomNetwork can be called.
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Parses `name/type[/network], ...`. Whitespace around items and parts is ignored. */
export function parseCustomIf(value: string, opts: ParseOptions = {}): CustomInterface[] {
  const A = CUSTOM_IF_ANNOTATION;
  if (value.trim() === '') return [];
  const items = value.split(',');
  const out: CustomInterface[] = [];
  const seen = new Set<string>();
  const reserved = new Set([...RESERVED_IF_NAMES, ...(opts.reservedNames ?? [])]);
  items.forEach((raw, index) => {
    const item = raw.trim();
    const fail = (reason: string): never => { throw new AnnotationError(A, reason, item, index); };
    if (item === '') fail('empty item');
    const parts = item.split('/').map((p) => p.trim());
    if (parts.length < 2) fail('missing interface type (expected name/type[/network])');
    if (parts.length > 3) fail(`extra parts after the network: ${JSON.stringify(parts.slice(3).join('/'))} (expected name/type[/network])`);
    const [name, type, networkPart] = parts as [string, string, string | undefined];
    const nameProblem = ifNameProblem(name);
    if (nameProblem) fail(`interface name ${JSON.stringify(name)} ${nameProblem}`);
    if (reserved.has(name)) fail(`interface name ${JSON.stringify(name)} is reserved for the pod's own interface`);
    if (type === '') fail(`missing interface type (expected ${TYPES_TEXT})`);
    if (!(CUSTOM_IF_TYPES as readonly string[]).includes(type)) fail(`unknown interface type ${JSON.stringify(type)} (expected ${TYPES_TEXT})`);
    let network = DEFAULT_NETWORK;
    if (networkPart !== undefined) {
      if (networkPart === '') fail('empty network (omit it for the default network)');
      network = networkPart;
      if (network !== DEFAULT_NETWORK && network !== STUB_NETWORK) {
        if (!K8S_NAME.test(network) || network.length > 253) fail(`network ${JSON.stringify(network)} is not a valid CustomNetwork name`);
        if (opts.knownNetworks && !opts.knownNetworks.has(network)) fail(`unknown network ${JSON.stringify(network)} (no CustomNetwork of that name)`);
      }
    }
    if (seen.has(name)) fail(`duplicate interface name ${JSON.stringify(name)}`);
    seen.add(name);
    out.push({ name, type: type as CustomIfType, network });
  });
  if (opts.maxCustomInterfaces !== undefined && out.length > opts.maxCustomInterfaces) {
    throw new AnnotationError(A, `${out.length} custom interfaces requested, at most ${opts.maxCustomInterfaces} allowed`);
  }
  if (opts.memifResources !== undefined) {
    const memifs = out.filter((i) => i.type === 'memif');
    if (memifs.length > opts.memifResources) {
      throw new AnnotationError(A, `${memifs.length} memif interface(s) (${memifs.map((m) => m.name).join(', ')}) but the pod requests ${opts.memifResources} "${MEMIF_RESOURCE}" resource(s) in its resource limits`);
    }
  }
  return out;
}

/** The canonical annotation value for a list (network omitted when default). */
export function printCustomIf(ifs: readonly CustomInterface[]): string {
  return ifs.map((i) => (i.network === DEFAULT_NETWORK ? `${i.name}/${i.type}` : `${i.name}/${i.type}/${i.network}`)).join(', ');
}

/** Parses a Kubernetes quantity that must be a whole non-negative count ("1", "2", "1k"). */
export function parseCount(what: string, q: unknown): number {
  const s = typeof q === 'number' ? String(q) : typeof q === 'string' ? q.trim() : undefined;
  const m = s === undefined ? null : /^(\d+)(k|M|G)?$/.exec(s);
  if (!m) throw new AnnotationError(what, `resource quantity ${JSON.stringify(q)} is not a whole non-negative count`);
  const mult = m[2] === 'k' ? 1e3 : m[2] === 'M' ? 1e6 : m[2] === 'G' ? 1e9 : 1;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) throw new AnnotationError(what, `resource quantity ${JSON.stringify(q)} is too large`);
  return n;
}

/** Sum of `contivpp.io/memif` over per-container resource limits. */
export function memifResourceCount(containerLimits: ReadonlyArray<Record<string, unknown> | undefined>): number {
  let n = 0;
  for (const limits of containerLimits) {
    if (limits && limits[MEMIF_RESOURCE] !== undefined) n += parseCount(MEMIF_RESOURCE, limits[MEMIF_RESOURCE]);
  }
  return n;
}

/** All `contivpp.io/...` annotations of one pod, validated against each other. */
export function parsePodAnnotations(
  annotations: Readonly<Record<string, string>>,
  memifResources: number,
  opts: Omit<ParseOptions, 'memifResources'> = {},
): PodAnnotations {
  const customIfs = parseCustomIf(annotations[CUSTOM_IF_ANNOTATION] ?? '', { ...opts, memifResources });
  const res: PodAnnotations = { customIfs, memifResources };
  const sep = annotations[SERVICE_ENDPOINT_IF_ANNOTATION];
  if (sep !== undefined) {
    const name = sep.trim();
    const A = SERVICE_ENDPOINT_IF_ANNOTATION;
    if (name === '') throw new AnnotationError(A, 'empty value (expected the name of a custom interface)');
    const ci = customIfs.find((c) => c.name === name);
    if (!ci) throw new AnnotationError(A, `names no custom interface: ${JSON.stringify(name)} is not in ${CUSTOM_IF_ANNOTATION}`);
    if (ci.network !== DEFAULT_NETWORK) throw new AnnotationError(A, `custom interface ${JSON.stringify(name)} is in network ${JSON.stringify(ci.network)}, not the default network`);
    res.serviceEndpointIf = name;
  }
  const label = annotations[MICROSERVICE_LABEL_ANNOTATION];
  if (label !== undefined) {
    const l = label.trim();
    const A = MICROSERVICE_LABEL_ANNOTATION;
    if (l === '') throw new AnnotationError(A, 'empty microservice label');
    // The label is one segment of an etcd key (/vnf-agent/<label>/...).
    if (/[/\s]/u.test(l)) throw new AnnotationError(A, `microservice label ${JSON.stringify(l)} contains "/" or whitespace`);
    res.microserviceLabel = l;
  }
  return res;
}

/** Custom networks (not default, not stub) an annotation value refers to, without validating it. */
export function referencedNetworks(value: string): string[] {
  const out = new Set<string>();
  for (const item of value.split(',')) {
    const parts = item.split('/').map((p) => p.trim());
    const n = parts[2];
    if (n && n !== DEFAULT_NETWORK && n !== STUB_NETWORK) out.add(n);
  }
  return [...out];
}

/** Fuzz target: parsing arbitrary input may only ever throw AnnotationError. */
export function fuzzAnnotations(input: string): void {
  const attempts: Array<() => unknown> = [
    () => parseCustomIf(input, { knownNetworks: new Set(['l2net', 'l3net']), maxCustomInterfaces: 8, memifResources: 1 }),
    () => parsePodAnnotations({ [CUSTOM_IF_ANNOTATION]: 'a/tap, b/memif', [SERVICE_ENDPOINT_IF_ANNOTATION]: input, [MICROSERVICE_LABEL_ANNOTATION]: input }, 2),
    () => memifResourceCount([{ [MEMIF_RESOURCE]: input }]),
  ];
  for (const attempt of attempts) {
    try { attempt(); } catch (e) { if (!(e instanceof AnnotationError)) throw e; }
  }
}
