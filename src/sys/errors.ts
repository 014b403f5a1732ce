// Errors from system calls: they name the call, what it was doing, and the errno by name.
import { koffi } from './libc.js';

const names = new Map<number, string>();
for (const [name, num] of Object.entries(koffi.os.errno as Record<string, number>)) {
  if (!names.has(num)) names.set(num, name);
}

export function errnoName(errno: number): string {
  return names.get(errno) ?? `errno ${errno}`;
}

export class SysError extends Error {
  readonly call: string;
  readonly errno: number;
  readonly code: string;
  constructor(call: string, errno: number, what?: string) {
    const code = errnoName(errno);
    super(`${call}${what ? ` (${what})` : ''} failed: ${code}`);
    this.name = 'SysError';
    this.call = call;
    this.errno = errno;
    this.code = code;
  }
}

export const EAGAIN = 11;
export const EINTR = 4;
export const EINPROGRESS = 115;
export const ENOENT = 2;
export const ECONNREFUSED = 111;
