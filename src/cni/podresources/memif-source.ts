// At CNI ADD: the memif socket dir and secret kubelet's allocation gave this pod. PodResources says
// which contivpp.io/memif devices the pod's containers got; the device plugin's allocation records
// (state dir) map a device id to the host dir and secret it put in the container's mount and env.
import { AllocationStore, MEMIF_RESOURCE, POD_MEMIF_SOCKET, type MemifAllocation } from '../deviceplugin/allocations.js';
import { PodResourcesClient } from './client.js';

export interface PodMemif {
  allocation: MemifAllocation;
  /** The socket path as the pod sees it (the mount target). */
  podSocket: string;
  container: string;
}

export class MemifAllocationError extends Error {
  constructor(message: string) { super(message); this.name = 'MemifAllocationError'; }
}

/** What the CNI pipeline asks (an interface so tests can pass a fake). */
export interface PodMemifSource {
  forPod(namespace: string, name: string): Promise<PodMemif>;
}

export class PodResourcesMemifSource implements PodMemifSource {
  constructor(readonly podResources: PodResourcesClient, readonly store: AllocationStore) {}

  /**
   * The pod's memif allocation: the first container (kubelet's order) holding contivpp.io/memif
   * devices. All of the pod's memifs share that container's socket (ids 1, 2, … tell them apart);
   * another container with its own allocation gets its own dir and could not reach this socket.
   */
  async forPod(namespace: string, name: string): Promise<PodMemif> {
    const per = await this.podResources.deviceIds(namespace, name, MEMIF_RESOURCE);
    if (per.length === 0) {
      throw new MemifAllocationError(`kubelet allocated no "${MEMIF_RESOURCE}" device to pod ${namespace}/${name} (PodResources at ${this.podResources.socket}); is the device plugin registered and the resource in the pod's limits?`);
    }
    const first = per[0]!;
    for (const id of first.deviceIds) {
      const a = await this.store.byDevice(id);
      if (a) return { allocation: a, podSocket: POD_MEMIF_SOCKET, container: first.container };
    }
    throw new MemifAllocationError(`pod ${namespace}/${name} container ${first.container} has "${MEMIF_RESOURCE}" device(s) ${first.deviceIds.join(', ')} but the device plugin has no allocation record for them in ${this.store.dir}`);
  }
}
