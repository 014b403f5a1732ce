// Shared mappings viewed as ArrayBuffers.
//
// A view of native memory cannot be detached from JavaScript, so a stray typed array could still
// touch a mapping after we are done with it. unmap() therefore never leaves a hole: it replaces the
// shared pages in place with private zero pages (releasing the peer's memory at once), and the
// address range itself is munmapped only when the garbage collector has dropped the ArrayBuffer.
import { C, addressOf, errno, libc, viewOf } from './libc.js';
import { SysError } from './errors.js';

const MAP_FAILED = 0xffffffffffffffffn;

const reaper = new FinalizationRegistry<{ addr: bigint; size: number }>(({ addr, size }) => {
  libc.munmap(addr, size);
});

export class MappedRegion {
  readonly buffer: ArrayBuffer;
  readonly size: number;
  readonly addr: bigint;
  #mapped = true;

  private constructor(addr: bigint, ptr: unknown, size: number) {
    this.addr = addr;
    this.size = size;
    this.buffer = viewOf(ptr, size);
    reaper.register(this.buffer, { addr, size });
  }

  /** Maps `size` bytes of `fd` shared, read-write. The fd may be closed afterwards. */
  static map(fd: number, size: number): MappedRegion {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`mapping size must be a positive integer, got ${size}`);
    const ptr = libc.mmap(0n, size, C.PROT_READ | C.PROT_WRITE, C.MAP_SHARED, fd, 0);
    const addr = addressOf(ptr);
    if (addr === MAP_FAILED || addr === 0n) throw new SysError('mmap', errno(), `${size} bytes of fd ${fd}`);
    return new MappedRegion(addr, ptr, size);
  }

  get mapped(): boolean {
    return this.#mapped;
  }

  /** Releases the shared memory now; views of it read zeros from then on. Idempotent. */
  unmap(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    const ptr = libc.mmap(this.addr, this.size, C.PROT_READ | C.PROT_WRITE, C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_FIXED, -1, 0);
    if (addressOf(ptr) !== this.addr) throw new SysError('mmap', errno(), `replacing ${this.size} bytes at 0x${this.addr.toString(16)}`);
  }
}
