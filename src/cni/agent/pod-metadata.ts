// Where a pod's metadata comes from at ADD. A runtime that declares the
// `io.kubernetes.cri.pod-annotations` capability (containerd, CRI-O) hands over every pod
// annotation in runtimeConfig: that is the source for annotations, and a pod the API server does
// not know (yet) still gets its interfaces. What annotations do not carry — the containers'
// resource limits (the contivpp.io/memif count) and CustomNetworks — still comes from the pod
// source (API server or manifests), and only when the pod needs it.
import { CUSTOM_IF_ANNOTATION, MEMIF_RESOURCE, AnnotationError, parseCustomIf } from '../annotations.js';
import { CniError, ErrorCode, type NetConf } from '../spec.cjs';
import type { AgentRequest } from '../agent-protocol.cjs';
import { PodSourceError, type PodInfo, type PodSource } from '../pods/types.js';

/** The CNI capability (conflist `"capabilities"`) under which runtimes pass pod annotations. */
export const POD_ANNOTATIONS_CAPABILITY = 'io.kubernetes.cri.pod-annotations';

export type MetadataSource = 'runtime' | PodSource['kind'];

export interface PodMetadata {
  pod?: { namespace: string; name: string; uid?: string };
  annotations: Record<string, string>;
  containerLimits: PodInfo['containerLimits'];
  /** Said in the log and kept in the pod record; 'none' = not a Kubernetes pod (eth0 only). */
  sources: { annotations: MetadataSource | 'none'; resourceLimits?: MetadataSource };
}

/** runtimeConfig's pod annotations, or undefined when the runtime sent none. */
export function runtimeAnnotations(config: NetConf): Record<string, string> | undefined {
  const v = config.runtimeConfig?.[POD_ANNOTATIONS_CAPABILITY];
  if (v === undefined || v === null) return undefined;
  const bad = (why: string) => new CniError(ErrorCode.InvalidNetworkConfig, 'invalid network configuration', `runtimeConfig["${POD_ANNOTATIONS_CAPABILITY}"] ${why}`);
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`is ${Array.isArray(v) ? 'an array' : typeof v}, not an object of annotations`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw bad(`annotation ${JSON.stringify(k)} is ${typeof x}, not a string`);
  return v as Record<string, string>;
}

async function readPod(pods: PodSource, namespace: string, name: string, why?: string): Promise<PodInfo> {
  try { return await pods.getPod(namespace, name); } catch (e) {
    if (e instanceof PodSourceError) throw new CniError(ErrorCode.PodMetadata, 'cannot read pod metadata', why ? `${why}: ${e.message}` : e.message);
    throw e;
  }
}

export async function podMetadata(req: AgentRequest, pods: PodSource): Promise<PodMetadata> {
  const namespace = req.args.K8S_POD_NAMESPACE, name = req.args.K8S_POD_NAME;
  if (!namespace || !name) return { annotations: {}, containerLimits: [], sources: { annotations: 'none' } }; // not started by Kubernetes
  const argUid = req.args.K8S_POD_UID ? { uid: req.args.K8S_POD_UID } : {};
  const fromRuntime = runtimeAnnotations(req.config);
  if (!fromRuntime) {
    const p = await readPod(pods, namespace, name);
    const uid = p.uid ? { uid: p.uid } : argUid;
    return { pod: { namespace, name, ...uid }, annotations: p.annotations, containerLimits: p.containerLimits, sources: { annotations: pods.kind, resourceLimits: pods.kind } };
  }
  const meta: PodMetadata = { pod: { namespace, name, ...argUid }, annotations: fromRuntime, containerLimits: [], sources: { annotations: 'runtime' } };
  let memifs = 0;
  try { memifs = parseCustomIf(fromRuntime[CUSTOM_IF_ANNOTATION] ?? '').filter((i) => i.type === 'memif').length; } catch (e) {
    if (!(e instanceof AnnotationError)) throw e; // the full parse reports it
  }
  if (memifs > 0) {
    const where = pods.kind === 'api-server' ? 'the API server' : 'the pod manifests';
    const p = await readPod(pods, namespace, name, `${CUSTOM_IF_ANNOTATION} asks for ${memifs} memif interface(s); their "${MEMIF_RESOURCE}" resource limits are not in the annotations the runtime passed and come from ${where}`);
    meta.containerLimits = p.containerLimits;
    meta.sources.resourceLimits = pods.kind;
  }
  return meta;
}

/** "annotations from the runtime, resource limits from the API server" */
export function describeSources(s: PodMetadata['sources']): string {
  const name = (x: MetadataSource | 'none') => ({ runtime: 'the runtime', 'api-server': 'the API server', manifests: 'the pod manifests', none: 'nowhere (not a Kubernetes pod)' })[x];
  return `annotations from ${name(s.annotations)}${s.resourceLimits ? `, resource limits from ${name(s.resourceLimits)}` : ''}`;
}
