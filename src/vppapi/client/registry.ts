// Where the client finds API definitions, and what it learns from their `services` sections.
import { ApiRegistry } from '../codec/index.js';

/** Where VPP packages install the .api.json files (core/ and plugins/ below it). */
export const DEFAULT_API_DIR = '/usr/share/vpp/api';

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
