// The contivpp.io/memif device plugin (kubelet device plugin API v1beta1).
//
// Serves DevicePlugin on its own unix socket in the device-plugins dir (mode 0600), registers it
// with kubelet's Registration service, and re-registers whenever kubelet's socket is recreated
// (a kubelet restart; kubelet also deletes every other socket in the dir then, so our own socket
// is re-created first when it is gone). Allocate creates one host dir per container request,
// mounted at /run/vpp, with MEMIF_SOCKET/MEMIF_SECRET in the container's environment.
import { chmod, stat, rm } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { devicePluginApi, unary, DEVICE_PLUGIN_VERSION } from '../protos/load.js';
import type { AllocateRequest, AllocateResponse, ContainerAllocateResponse, Device, ListAndWatchResponse, RegisterRequest } from '../protos/types.js';
import { AllocationStore, MEMIF_RESOURCE, POD_MEMIF_DIR, POD_MEMIF_SOCKET } from './allocations.js';

export const DEFAULT_DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const KUBELET_SOCKET_NAME = 'kubelet.sock';

export interface DevicePluginOptions {
  /** kubelet's device-plugins dir; kubelet.sock is expected in it and our socket is created in it. */
  dir?: string;
  /** Full path of kubelet's Registration socket (default <dir>/kubelet.sock). */
  kubeletSocket?: string;
  /** Our socket's file name inside dir. */
  endpoint?: string;
  /** How many memif devices to advertise. */
  devices: number;
  store: AllocationStore;
  /** Fallback poll of kubelet's socket inode, for file systems without inotify events. */
  pollMs?: number;
  log?: (m: string) => void;
}

export class MemifDevicePlugin {
  readonly dir: string;
  readonly kubeletSocket: string;
  readonly endpoint: string;
  readonly socketPath: string;
  private server: grpc.Server | undefined;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private registeredIno: number | undefined;
  private streams = new Set<grpc.ServerWritableStream<unknown, ListAndWatchResponse>>();
  private registering: Promise<void> | undefined;
  private closed = false;
  private readonly log: (m: string) => void;
  /** Number of successful Register calls (a restart of kubelet adds one). */
  registrations = 0;

  constructor(readonly o: DevicePluginOptions) {
    this.dir = o.dir ?? DEFAULT_DEVICE_PLUGIN_DIR;
    this.kubeletSocket = o.kubeletSocket ?? join(this.dir, KUBELET_SOCKET_NAME);
    this.endpoint = o.endpoint ?? 'tsvpp-memif.sock';
    if (this.endpoint.includes('/')) throw new Error(`device plugin endpoint ${JSON.stringify(this.endpoint)}: a file name inside ${this.dir}, not a path`);
    this.socketPath = join(this.dir, this.endpoint);
    if (!Number.isInteger(o.devices) || o.devices < 1) throw new Error(`device plugin devices=${o.devices}: must be a positive integer`);
    this.log = o.log ?? (() => {});
  }

  devices(): Device[] {
    return Array.from({ length: this.o.devices }, (_, i) => ({ ID: `memif-${i}`, health: 'Healthy' }));
  }

  /** Serves the DevicePlugin socket, registers (if kubelet is there) and watches for kubelet restarts. */
  async start(): Promise<void> {
    await this.serve();
    this.watcher = watch(this.dir, (_ev, name) => { if (!name || name === KUBELET_SOCKET_NAME || name === this.endpoint) this.kick(); });
    this.watcher.on('error', (e) => this.log(`watching ${this.dir}: ${e.message}`));
    this.poll = setInterval(() => this.kick(), this.o.pollMs ?? 2000);
    this.poll.unref();
    await this.ensureRegistered().catch((e) => this.log(`register: ${(e as Error).message} (retrying when ${this.kubeletSocket} appears)`));
  }

  private kick(): void {
    if (this.closed) return;
    void this.ensureRegistered().catch((e) => this.log(`register: ${(e as Error).message}`));
  }

  /** Registers again when kubelet's socket is a new file (or our own socket was deleted). */
  async ensureRegistered(): Promise<void> {
    if (this.registering) return this.registering;
    this.registering = (async () => {
      let ino: number;
      try { ino = (await stat(this.kubeletSocket)).ino; } catch { this.registeredIno = undefined; return; }
      const ownGone = await stat(this.socketPath).then(() => false, () => true);
      if (ownGone) { this.log(`${this.socketPath} is gone, serving again`); await this.serve(); }
      else if (ino === this.registeredIno) return;
      await this.register();
      this.registeredIno = ino;
    })().finally(() => { this.registering = undefined; });
    return this.registering;
  }

  private async register(): Promise<void> {
    const { Registration } = devicePluginApi();
    const client = new Registration(`unix://${this.kubeletSocket}`, grpc.credentials.createInsecure());
    try {
      const req: RegisterRequest = { version: DEVICE_PLUGIN_VERSION, endpoint: this.endpoint, resource_name: MEMIF_RESOURCE, options: { pre_start_required: false, get_preferred_allocation_available: false } };
      await unary(client, 'Register', req, 5000);
      this.registrations++;
      this.log(`registered ${MEMIF_RESOURCE} (${this.o.devices} devices) with kubelet at ${this.kubeletSocket}, endpoint ${this.endpoint}`);
    } finally { client.close(); }
  }

  private async serve(): Promise<void> {
    await this.stopServer();
    await rm(this.socketPath, { force: true });
    const { DevicePlugin } = devicePluginApi();
    const server = new grpc.Server();
    server.addService(DevicePlugin.service, {
      GetDevicePluginOptions: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { pre_start_required: false, get_preferred_allocation_available: false }),
      ListAndWatch: (call: grpc.ServerWritableStream<unknown, ListAndWatchResponse>) => {
        this.streams.add(call);
        call.on('cancelled', () => this.streams.delete(call));
        call.on('close', () => this.streams.delete(call));
        call.write({ devices: this.devices() });
      },
      GetPreferredAllocation: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'no preferred allocation' }),
      Allocate: (call: grpc.ServerUnaryCall<AllocateRequest, AllocateResponse>, cb: grpc.sendUnaryData<AllocateResponse>) => {
        this.allocate(call.request).then((r) => cb(null, r), (e: Error) => cb({ code: grpc.status.INTERNAL, details: e.message }));
      },
      PreStartContainer: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}),
    });
    await new Promise<void>((res, rej) => server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    await chmod(this.socketPath, 0o600);
    this.server = server;
  }

  async allocate(req: AllocateRequest): Promise<AllocateResponse> {
    const known = new Set(this.devices().map((d) => d.ID));
    const container_responses: ContainerAllocateResponse[] = [];
    for (const cr of req.container_requests ?? []) {
      const bad = cr.devices_ids.filter((d) => !known.has(d));
      if (bad.length) throw new Error(`Allocate: unknown ${MEMIF_RESOURCE} device id(s) ${bad.join(', ')}`);
      const a = await this.o.store.create(cr.devices_ids);
      this.log(`allocated ${cr.devices_ids.join(',')} → ${a.hostDir}`);
      container_responses.push({
        envs: { MEMIF_SOCKET: POD_MEMIF_SOCKET, MEMIF_SECRET: a.secret },
        mounts: [{ container_path: POD_MEMIF_DIR, host_path: a.hostDir, read_only: false }],
        devices: [], annotations: {},
      });
    }
    return { container_responses };
  }

  private async stopServer(): Promise<void> {
    for (const s of this.streams) s.end();
    this.streams.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((res) => s.tryShutdown(() => res()));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    await this.registering?.catch(() => undefined);
    await this.stopServer();
    await rm(this.socketPath, { force: true });
  }
}
