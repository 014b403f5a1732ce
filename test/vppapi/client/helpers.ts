// Shared setup for client tests: one registry from the .api.json files tsvpp ships, temp socket dirs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiRegistry } from '../../../src/vppapi/codec/index.js';
import { shippedApiDir } from '../../../src/vppapi/client/index.js';

export const API_DIR = shippedApiDir();

let reg: ApiRegistry | undefined;
export function registry(): ApiRegistry {
  return (reg ??= ApiRegistry.fromDir(API_DIR));
}

export function tempDir(): { dir: string; sock: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvpp-client-'));
  return { dir, sock: path.join(dir, 'api.sock'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until cond() holds (polling), or fail naming what was awaited. */
export async function until(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export const ip4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
export const prefix4 = (s: string, len: number) => ({ address: { af: 0, un: { ip4: ip4(s) } }, len });
