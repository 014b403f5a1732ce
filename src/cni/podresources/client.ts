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
  private client: grpc.Client;
  constructor(readonly socket = DEFAULT_POD_RESOURCES_SOCKET, private readonly timeoutMs = 5000) {
    this.client = this.connect();
  }

  private connect(): grpc.Client {
    const { PodResourcesLister } = podResourcesApi();
    return new PodResourcesLister(`unix://${this.socket}`, grpc.credentials.createInsecure());
  }

  /**
   * After kubelet was away, the channel waits out its reconnect backoff (1 s, growing) and fails
   * calls meanwhile with UNAVAILABLE, even once kubelet is back: the first ADD after a kubelet
   * restart failed. UNAVAILABLE gets one retry on a fresh channel, which connects at once.
   */
  private async call<Res>(method: string, req: unknown): Promise<Res> {
    try {
      return await unary<unknown, Res>(this.client, method, req, this.timeoutMs);
    } catch (e) {
      if ((e as grpc.ServiceError).code !== grpc.status.UNAVAILABLE) throw e;
      this.client.close();
      this.client = this.connect();
      return await unary<unknown, Res>(this.client, method, req, this.timeoutMs);
    }
  }

  async pod(namespace: string, name: string): Promise<PodResources | undefined> {
    try {
      const r = await this.call<GetPodResourcesResponse>('Get', { pod_name: name, pod_namespace: namespace });
      return r.pod_resources ?? undefined;
    } catch (e) {
      const code = (e as grpc.ServiceError).code;
      if (code === grpc.status.NOT_FOUND) return undefined;
      if (code !== grpc.status.UNIMPLEMENTED) throw new PodResourcesError(`PodResources Get ${namespace}/${name} at ${this.socket}: ${(e as Error).message}`);
    }
    try {
      const l = await this.call<ListPodResourcesResponse>('List', {});
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
