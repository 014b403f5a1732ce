// A CRI v1 RuntimeService client for the perf CRI section and the tests (pod sandboxes only), over the
// runtime's gRPC unix socket, with the CRI's own api.proto (see ATTRIBUTION.md).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, unary, type ServiceCtor } from '../../../src/cni/protos/load.js';

const here = dirname(fileURLToPath(import.meta.url));
// tsc does not copy .proto files: dist/perf/peers/cri → perf/peers/cri (package.json ships it).
const PROTO = [join(here, 'api.proto'), resolve(here, '../../../../perf/peers/cri/api.proto')].find((p) => existsSync(p));

export interface PodSandboxMetadata { name: string; uid: string; namespace: string; attempt?: number }
export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; sysctls?: Record<string, string> };
}
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  created_at: number;
  network: { ip: string; additional_ips: Array<{ ip: string }> } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}
export interface PodSandbox { id: string; metadata: PodSandboxMetadata; state: PodSandboxState; annotations: Record<string, string>; runtime_handler: string }

let ctor: ServiceCtor | undefined;
function runtimeService(): ServiceCtor {
  if (!PROTO) throw new Error(`the CRI api.proto not found next to ${here} or in perf/peers/cri`);
  ctor ??= ((grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, LOADER_OPTIONS))['runtime'] as Record<string, unknown>)['v1'] as Record<string, ServiceCtor>)['RuntimeService']!;
  return ctor;
}

export class CriClient {
  private readonly client: grpc.Client;
  /** `deadlineMs` bounds every call (RunPodSandbox includes the CNI ADD). */
  constructor(readonly socket: string, readonly deadlineMs = 120_000) {
    const Ctor = runtimeService();
    this.client = new Ctor(`unix://${socket}`, grpc.credentials.createInsecure());
  }

  private call<Res>(method: string, req: unknown): Promise<Res> { return unary<unknown, Res>(this.client, method, req, this.deadlineMs); }

  version(): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call('Version', { version: 'v1' });
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    return (await this.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config, runtime_handler: runtimeHandler })).pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> { await this.call('StopPodSandbox', { pod_sandbox_id: id }); }
  async removePodSandbox(id: string): Promise<void> { await this.call('RemovePodSandbox', { pod_sandbox_id: id }); }

  /** With verbose, `info` holds the runtime's JSON details (containerd: netns path, CNI result). */
  podSandboxStatus(id: string, verbose = false): Promise<{ status: PodSandboxStatus; info: Record<string, string> }> {
    return this.call('PodSandboxStatus', { pod_sandbox_id: id, verbose });
  }

  async listPodSandbox(): Promise<PodSandbox[]> {
    return (await this.call<{ items: PodSandbox[] }>('ListPodSandbox', {})).items;
  }

  /** The runtime's conditions by type (RuntimeReady, NetworkReady). */
  async status(): Promise<Record<string, { status: boolean; reason: string; message: string }>> {
    const r = await this.call<{ status: { conditions: Array<{ type: string; status: boolean; reason: string; message: string }> } | null }>('Status', { verbose: false });
    return Object.fromEntries((r.status?.conditions ?? []).map((c) => [c.type, { status: c.status, reason: c.reason, message: c.message }]));
  }

  close(): void { this.client.close(); }
}

/** A gRPC error's message without the "N STATUS: " prefix grpc-js puts in front. */
export function grpcDetails(e: unknown): string {
  return (e as grpc.ServiceError)?.details ?? (e as Error)?.message ?? String(e);
}
