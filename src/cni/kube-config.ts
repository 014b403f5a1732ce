// The Kubernetes client library and a KubeConfig, as the agent's API sources need them: from a
// kubeconfig file, or the in-cluster service account. Loaded lazily: tsvpp-cni and a node without
// an API server never load the library. Errors name what failed, through the caller's error type.
import type { KubeConfig } from '@kubernetes/client-node';

export type K8s = typeof import('@kubernetes/client-node');

export async function loadKube(kubeconfig: string | undefined, error: (msg: string) => Error): Promise<{ k8s: K8s; kc: KubeConfig }> {
  let k8s: K8s;
  try { k8s = await import('@kubernetes/client-node'); } catch (e) {
    throw error(`@kubernetes/client-node failed to load on Node ${process.version}: ${(e as Error).message}`);
  }
  const kc = new k8s.KubeConfig();
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromCluster();
  } catch (e) {
    throw error(`loading ${kubeconfig ? `kubeconfig ${kubeconfig}` : 'in-cluster config'} failed: ${(e as Error).message}`);
  }
  return { k8s, kc };
}
