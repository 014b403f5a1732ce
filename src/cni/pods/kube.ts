// PodSource over the Kubernetes API (@kubernetes/client-node): in-cluster service account config,
// or a kubeconfig file. CustomNetworks come from the custom objects API (contivpp.io/v1,
// customnetworks); the CRD is namespaced like Contiv-VPP's, and network names are looked up
// across all namespaces (a name used in two namespaces is an error).
// The client library is imported lazily: the manifests-only agent never loads it, and a library
// that cannot load on this Node version becomes one clear error instead of an agent crash.
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { customNetworkFromObject, podFromObject } from './objects.js';
import { PodSourceError, type CustomNetwork, type PodInfo, type PodSource } from './types.js';
import { loadKube } from '../kube-config.js';

export const CRD_GROUP = 'contivpp.io';
export const CRD_VERSION = 'v1';
export const CRD_PLURAL = 'customnetworks';

export interface KubeOptions {
  /** Path to a kubeconfig; when omitted, the in-cluster config (service account) is used. */
  kubeconfig?: string;
}

function statusOf(e: unknown): number | undefined {
  const x = e as { code?: unknown; statusCode?: unknown; body?: unknown };
  if (typeof x?.code === 'number') return x.code;
  if (typeof x?.statusCode === 'number') return x.statusCode;
  return undefined;
}

export class KubePodSource implements PodSource {
  readonly kind = 'api-server';
  private constructor(private readonly core: CoreV1Api, private readonly custom: CustomObjectsApi) {}

  static async create(opts: KubeOptions = {}): Promise<KubePodSource> {
    const { k8s, kc } = await loadKube(opts.kubeconfig, (m) => new PodSourceError(m));
    return new KubePodSource(kc.makeApiClient(k8s.CoreV1Api), kc.makeApiClient(k8s.CustomObjectsApi));
  }

  async getPod(namespace: string, name: string): Promise<PodInfo> {
    try {
      const pod = await this.core.readNamespacedPod({ name, namespace });
      return podFromObject({ kind: 'Pod', ...pod }, 'Kubernetes API');
    } catch (e) {
      if (e instanceof PodSourceError) throw e;
      const st = statusOf(e);
      if (st === 404) throw new PodSourceError(`pod ${namespace}/${name} not found in the Kubernetes API`, true);
      throw new PodSourceError(`reading pod ${namespace}/${name} from the Kubernetes API failed${st ? ` (HTTP ${st})` : ''}: ${(e as Error).message}`);
    }
  }

  async getCustomNetwork(name: string): Promise<CustomNetwork | undefined> {
    let list: { items?: unknown[] };
    try {
      list = await this.custom.listClusterCustomObject({ group: CRD_GROUP, version: CRD_VERSION, plural: CRD_PLURAL, fieldSelector: `metadata.name=${name}` }) as { items?: unknown[] };
    } catch (e) {
      const st = statusOf(e);
      if (st === 404) return undefined; // CRD not installed: no custom networks
      throw new PodSourceError(`listing CustomNetwork ${name} from the Kubernetes API failed${st ? ` (HTTP ${st})` : ''}: ${(e as Error).message}`);
    }
    const items = (list.items ?? []).filter((o) => (o as { metadata?: { name?: string } }).metadata?.name === name);
    if (items.length === 0) return undefined;
    if (items.length > 1) {
      const nss = items.map((o) => (o as { metadata?: { namespace?: string } }).metadata?.namespace).join(', ');
      throw new PodSourceError(`CustomNetwork ${name} exists in several namespaces (${nss}); network names must be unique`);
    }
    return customNetworkFromObject(items[0], 'Kubernetes API');
  }
}
