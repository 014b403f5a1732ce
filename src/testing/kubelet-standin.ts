// TEST DOUBLE for kubelet's side of the device plugin and PodResources APIs, served from the real
// .proto files with the real gRPC library:
//  - Registration on <dir>/kubelet.sock: on Register it dials <dir>/<endpoint>, opens ListAndWatch
//    and keeps the latest device list per resource (as kubelet's device manager does);
//  - PodResourcesLister (List, Get, GetAllocatableResources) on its own socket, answering from the
//    allocations made through admit();
//  - admit(pod, containers) picks free healthy devices and calls the plugin's Allocate, the way
//    kubelet does at pod admission;
//  - restart(): stops, deletes every socket in the dir (kubelet's startup does that), serves again.
import * as grpc from '@grpc/grpc-js';
import { readdirSync, rmSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { devicePluginApi, podResourcesApi, unary } from '../cni/protos/load.js';
import type { AllocateResponse, ContainerAllocateResponse, Device, ListAndWatchResponse, PodResources, RegisterRequest } from '../cni/protos/types.js';

interface Plugin { endpoint: string; client: grpc.Client; stream?: grpc.ClientReadableStream<ListAndWatchResponse>; devices: Device[]; updates: number }

export class KubeletStandin {
  readonly kubeletSocket: string;
  private server: grpc.Server | undefined;
  private prServer: grpc.Server | undefined;
  readonly plugins = new Map<string, Plugin>();
  readonly registrations: RegisterRequest[] = [];
  readonly pods: PodResources[] = [];
  private waiters: Array<() => void> = [];
  /** When set, Get answers UNIMPLEMENTED (an older kubelet) and clients must fall back to List. */
  getUnimplemented = false;

  constructor(readonly dir: string, readonly podResourcesSocket: string) {
    this.kubeletSocket = join(dir, 'kubelet.sock');
  }

  async start(): Promise<void> {
    const { Registration } = devicePluginApi();
    const s = new grpc.Server();
    s.addService(Registration.service, {
      Register: (call: grpc.ServerUnaryCall<RegisterRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const r = call.request;
        if (r.version !== 'v1beta1') { cb({ code: grpc.status.INVALID_ARGUMENT, details: `unsupported version ${r.version}` }); return; }
        this.registrations.push(r);
        cb(null, {});
        this.connectPlugin(r);
      },
    });
    await bind(s, this.kubeletSocket);
    this.server = s;
    if (!this.prServer) {
      const { PodResourcesLister } = podResourcesApi();
      const p = new grpc.Server();
      p.addService(PodResourcesLister.service, {
        List: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { pod_resources: this.pods }),
        Get: (call: grpc.ServerUnaryCall<{ pod_name: string; pod_namespace: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          if (this.getUnimplemented) { cb({ code: grpc.status.UNIMPLEMENTED, details: 'Get is not enabled' }); return; }
          const pod = this.pods.find((x) => x.name === call.request.pod_name && x.namespace === call.request.pod_namespace);
          if (!pod) { cb({ code: grpc.status.NOT_FOUND, details: `pod ${call.request.pod_namespace}/${call.request.pod_name} not found` }); return; }
          cb(null, { pod_resources: pod });
        },
        GetAllocatableResources: (_c: unknown, cb: grpc.sendUnaryData<unknown>) =>
          cb(null, { devices: [...this.plugins.entries()].map(([resource_name, p]) => ({ resource_name, device_ids: p.devices.map((d) => d.ID) })) }),
      });
      await bind(p, this.podResourcesSocket);
      this.prServer = p;
    }
  }

  private connectPlugin(r: RegisterRequest): void {
    const old = this.plugins.get(r.resource_name);
    old?.stream?.cancel(); old?.client.close();
    const { DevicePlugin } = devicePluginApi();
    const client = new DevicePlugin(`unix://${join(this.dir, r.endpoint)}`, grpc.credentials.createInsecure());
    const p: Plugin = { endpoint: r.endpoint, client, devices: [], updates: 0 };
    this.plugins.set(r.resource_name, p);
    const stream = (client as any).ListAndWatch({}) as grpc.ClientReadableStream<ListAndWatchResponse>;
    p.stream = stream;
    stream.on('data', (m: ListAndWatchResponse) => { p.devices = m.devices; p.updates++; this.wake(); });
    stream.on('error', () => undefined); // cancelled on restart/close
  }

  private wake(): void { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  /** Resolves when `pred` holds, re-checked on every ListAndWatch update. */
  async waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`kubelet stand-in: ${what} not reached within ${ms} ms`);
      await new Promise<void>((res) => { this.waiters.push(res); setTimeout(res, 50); });
    }
  }

  /** Kubelet's pod admission: allocate `count` devices of `resource` per container, record for PodResources. */
  async admit(namespace: string, name: string, containers: Array<{ name: string; count: number }>, resource = 'contivpp.io/memif'): Promise<ContainerAllocateResponse[]> {
    const p = this.plugins.get(resource);
    if (!p) throw new Error(`kubelet stand-in: no plugin registered for ${resource}`);
    const used = new Set(this.pods.flatMap((x) => x.containers.flatMap((c) => c.devices.filter((d) => d.resource_name === resource).flatMap((d) => d.device_ids))));
    const free = p.devices.filter((d) => d.health === 'Healthy' && !used.has(d.ID)).map((d) => d.ID);
    const reqs = containers.filter((c) => c.count > 0).map((c) => ({ c, ids: free.splice(0, c.count) }));
    for (const r of reqs) if (r.ids.length < r.c.count) throw new Error(`kubelet stand-in: not enough free ${resource} devices for ${namespace}/${name}`);
    const out: ContainerAllocateResponse[] = [];
    for (const r of reqs) {
      const res = await unary<unknown, AllocateResponse>(p.client, 'Allocate', { container_requests: [{ devices_ids: r.ids }] });
      out.push(res.container_responses[0]!);
    }
    this.pods.push({
      name, namespace,
      containers: containers.map((c) => ({ name: c.name, devices: reqs.filter((r) => r.c === c).map((r) => ({ resource_name: resource, device_ids: r.ids })) })),
    });
    return out;
  }

  forget(namespace: string, name: string): void {
    const i = this.pods.findIndex((x) => x.namespace === namespace && x.name === name);
    if (i >= 0) this.pods.splice(i, 1);
  }

  /** Stops the Registration server and drops plugin connections (PodResources keeps serving unless all=true). */
  async stop(all = false): Promise<void> {
    for (const p of this.plugins.values()) { p.stream?.cancel(); p.client.close(); }
    this.plugins.clear();
    const s = this.server; this.server = undefined;
    if (s) await new Promise<void>((res) => s.tryShutdown(() => res()));
    rmSync(this.kubeletSocket, { force: true });
    if (all && this.prServer) {
      const p = this.prServer; this.prServer = undefined;
      await new Promise<void>((res) => p.tryShutdown(() => res()));
      rmSync(this.podResourcesSocket, { force: true });
    }
  }

  /** A kubelet restart: stop, delete every socket in the device-plugins dir, start again. */
  async restart(): Promise<void> {
    await this.stop();
    for (const n of readdirSync(this.dir)) {
      const f = join(this.dir, n);
      if (lstatSync(f).isSocket()) rmSync(f, { force: true });
    }
    await this.start();
  }
}

async function bind(s: grpc.Server, path: string): Promise<void> {
  rmSync(path, { force: true });
  await new Promise<void>((res, rej) => s.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
}
