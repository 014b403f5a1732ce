// Loads the kubelet .proto files (copied unchanged, see ATTRIBUTION.md) with @grpc/proto-loader.
// tsc does not copy .proto files into dist/, so the directory is looked up next to this module
// first (an install that copies them) and then in the source tree (dist/src/cni/protos → src/cni/protos).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const here = dirname(fileURLToPath(import.meta.url));

export function protoPath(rel: string): string {
  const candidates = [join(here, rel), resolve(here, '../../../../src/cni/protos', rel)];
  const p = candidates.find((c) => existsSync(c));
  if (!p) throw new Error(`kubelet proto ${rel} not found (looked in ${candidates.join(', ')})`);
  return p;
}

// keepCase: message fields keep their proto names (devices_ids, resource_name), as on the wire.
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export interface ServiceCtor { new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions): grpc.Client; service: grpc.ServiceDefinition }

let dp: { Registration: ServiceCtor; DevicePlugin: ServiceCtor } | undefined;
let pr: { PodResourcesLister: ServiceCtor } | undefined;

/** Package v1beta1 of the device plugin API: Registration (kubelet) and DevicePlugin (us). */
export function devicePluginApi(): { Registration: ServiceCtor; DevicePlugin: ServiceCtor } {
  if (!dp) {
    const def = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath('deviceplugin-v1beta1/api.proto'), LOADER_OPTIONS));
    const pkg = def['v1beta1'] as unknown as Record<string, ServiceCtor>;
    dp = { Registration: pkg['Registration']!, DevicePlugin: pkg['DevicePlugin']! };
  }
  return dp;
}

/** Package v1 of the PodResources API: PodResourcesLister (kubelet). */
export function podResourcesApi(): { PodResourcesLister: ServiceCtor } {
  if (!pr) {
    const def = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath('podresources-v1/api.proto'), LOADER_OPTIONS));
    const pkg = def['v1'] as unknown as Record<string, ServiceCtor>;
    pr = { PodResourcesLister: pkg['PodResourcesLister']! };
  }
  return pr;
}

/** Promise form of a unary call on a proto-loader client. */
export function unary<Req, Res>(client: grpc.Client, method: string, req: Req, deadlineMs = 10_000): Promise<Res> {
  return new Promise((res, rej) => {
    const fn = (client as unknown as Record<string, Function>)[method];
    if (typeof fn !== 'function') { rej(new Error(`gRPC client has no method ${method}`)); return; }
    fn.call(client, req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, out: Res) => (err ? rej(err) : res(out)));
  });
}

export const DEVICE_PLUGIN_VERSION = 'v1beta1';
