// Client of kubelet's PodResources API v1 (/var/lib/kubelet/pod-resources/kubelet.sock): which
// devices of a resource kubelet allocated to a pod's containers. Get (kubelet ≥ 1.27 with the
// KubeletPodResourcesGet gate) is tried first; UNIMPLEMENTED falls back to List.
import * as grpc from '@grpc/grpc-js';
import { podResourcesApi, unary } from '../protos/load.js';
import type { GetPodResourcesResponse, ListPodResourcesResponse, PodResources } from '../protos/types.js';

export const DEFAULT_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';

export class PodResourcesError extends Error {
  constructor(message: string) { super(message); this.name = 'PodResourcesError'; }
}

export interface ContainerDeviceIds { container: string; deviceIds: string[] }

export class PodResourcesClient {
  private readonly client: grpc.Client;
  constructor(readonly socket = DEFAULT_POD_RESOURCES_SOCKET, private readonly timeoutMs = 5000) {
    const { PodResourcesLister } = podResourcesApi();
    this.client = new PodResourcesLister(`unix://${socket}`, grpc.credentials.createInsecure());
  }

  async pod(namespace: string, name: string): Promise<PodResources | undefined> {
    try {
      const r = await unary<unknown, GetPodResourcesResponse>(this.client, 'Get', { pod_name: name, pod_namespace: namespace }, this.timeoutMs);
      return r.pod_resources ?? undefined;
    } catch (e) {
      const code = (e as grpc.ServiceError).code;
      if (code === grpc.status.NOT_FOUND) return undefined;
      if (code !== grpc.status.UNIMPLEMENTED) throw new PodResourcesError(`PodResources Get ${namespace}/${name} at ${this.socket}: ${(e as Error).message}`);
    }
    try {
      const l = await unary<unknown, ListPodResourcesResponse>(this.client, 'List', {}, this.timeoutMs);
      return l.pod_resources.find((p) => p.namespace === namespace && p.name === name);
    } catch (e) {
      throw new PodResourcesError(`PodResources List at ${this.socket}: ${(e as Error).message}`);
    }
  }

  /** Per container (in kubelet's order), the ids of `resource` devices; containers without any are left out. */
  async deviceIds(namespace: string, name: string, resource: string): Promise<ContainerDeviceIds[]> {
    const p = await this.pod(namespace, name);
    const out: ContainerDeviceIds[] = [];
    for (const c of p?.containers ?? []) {
      const ids = (c.devices ?? []).filter((d) => d.resource_name === resource).flatMap((d) => d.device_ids);
      if (ids.length) out.push({ container: c.name, deviceIds: ids });
    }
    return out;
  }

  close(): void { this.client.close(); }
}
