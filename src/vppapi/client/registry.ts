// Where the client finds API definitions, and what it learns from their `services` sections.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../codec/index.js';

/** Where VPP packages install the .api.json files (core/ and plugins/ below it). */
export const DEFAULT_API_DIR = '/usr/share/vpp/api';

/**
 * The .api.json files tsvpp ships (src/vppapi/api-json: FD.io VPP b575ec2c56d, see its
 * ATTRIBUTION.md): the bindings are generated from them, and the VPP emulator, the tools and the
 * tests load them, so none of those needs a VPP install. tsc does not copy them into dist/, so
 * they are found in the source tree from dist/src/vppapi/client (or src/vppapi/client).
 */
export function shippedApiDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../../../src/vppapi/api-json'), resolve(here, '../api-json')];
  const dir = candidates.find((c) => existsSync(c));
  if (!dir) throw new Error(`the shipped VPP .api.json files are missing (looked in ${candidates.join(', ')})`);
  return dir;
}

export function loadApiRegistry(dir: string): ApiRegistry {
  return ApiRegistry.fromDir(dir);
}

export interface ServiceInfo { reply: string; stream?: boolean; stream_msg?: string; events?: string[] }

/** request name → service description, merged over all modules. */
export function serviceMap(reg: ApiRegistry): Map<string, ServiceInfo> {
  const out = new Map<string, ServiceInfo>();
  for (const m of reg.modules()) for (const [name, s] of Object.entries(m.services ?? {})) out.set(name, s);
  return out;
}
