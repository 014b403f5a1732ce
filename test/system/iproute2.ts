// iproute2 as an independent reader for the root tests of src/cni/linux (its JSON output).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** `ip [-n NS] -j ARGS`, parsed. */
export async function ipj(args: string[], ns?: string): Promise<any[]> {
  const { stdout } = await run('ip', [...(ns ? ['-n', ns] : []), '-j', ...args]);
  return JSON.parse(stdout.trim() || '[]') as any[];
}
