// Native scratch memory for building syscall arguments (msghdr, sockaddr_un, …) without a
// marshalling layer. Each thread that loads this module gets its own block; the calls that use
// it are synchronous and never re-enter, so one block per thread is enough.
import { addressOf, libc, viewOf } from './libc.js';

export interface Scratch {
  readonly addr: bigint;
  readonly size: number;
  readonly dv: DataView;
  readonly u8: Uint8Array;
}

/** Allocates native memory that lives as long as the process (or worker). */
export function allocNative(size: number): Scratch {
  const ptr = libc.malloc(size);
  if (ptr === null) throw new Error(`malloc(${size}) failed`);
  const ab = viewOf(ptr, size);
  return { addr: addressOf(ptr), size, dv: new DataView(ab), u8: new Uint8Array(ab) };
}

export const SCRATCH_SIZE = 64 * 1024;
export const scratch: Scratch = allocNative(SCRATCH_SIZE);
