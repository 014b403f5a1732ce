// The one place that declares libc functions through koffi. Everything else in src/sys wraps
// these in small typed functions; nothing outside src/sys imports koffi.
//
// Pointers into scratch memory are passed as plain addresses (`uintptr_t`, a bigint here) so that
// struct layouts (msghdr, cmsghdr, sockaddr_un, epoll_event) are written by hand into memory we own,
// with no per-call marshalling.
import koffi from 'koffi';

export { koffi };

const lib = koffi.load('libc.so.6');

/** A function this libc may lack (newer than the oldest glibc supported). */
function optional(decl: string): ReturnType<typeof lib.func> | undefined {
  try { return lib.func(decl); } catch { return undefined; }
}

export const libc = {
  open: lib.func('int open(const char *path, int flags)'),
  close: lib.func('int close(int fd)'),
  ioctl: lib.func('int ioctl(int fd, unsigned long request, uintptr_t arg)'),
  read: lib.func('intptr_t read(int fd, uintptr_t buf, size_t count)'),
  write: lib.func('intptr_t write(int fd, uintptr_t buf, size_t count)'),
  fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
  fstat: lib.func('int fstat(int fd, uintptr_t statbuf)'),
  memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)'),
  ftruncate: lib.func('int ftruncate(int fd, int64_t length)'),
  mmap: lib.func('void *mmap(uintptr_t addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
  munmap: lib.func('int munmap(uintptr_t addr, size_t length)'),
  eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  bind: lib.func('int bind(int fd, uintptr_t addr, uint32_t len)'),
  listen: lib.func('int listen(int fd, int backlog)'),
  accept4: lib.func('int accept4(int fd, uintptr_t addr, uintptr_t len, int flags)'),
  connect: lib.func('int connect(int fd, uintptr_t addr, uint32_t len)'),
  sendmsg: lib.func('intptr_t sendmsg(int fd, uintptr_t msg, int flags)'),
  recvmsg: lib.func('intptr_t recvmsg(int fd, uintptr_t msg, int flags)'),
  getsockopt: lib.func('int getsockopt(int fd, int level, int name, uintptr_t val, uintptr_t len)'),
  poll: lib.func('int poll(uintptr_t fds, unsigned long nfds, int timeout)'),
  epoll_create1: lib.func('int epoll_create1(int flags)'),
  epoll_ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, uintptr_t event)'),
  epoll_wait: lib.func('int epoll_wait(int epfd, uintptr_t events, int maxevents, int timeout)'),
  malloc: lib.func('void *malloc(size_t size)'),
  free: lib.func('void free(uintptr_t ptr)'),
  setsockopt: lib.func('int setsockopt(int fd, int level, int name, uintptr_t val, uint32_t len)'),
  // Network namespaces (src/sys/netns-worker.ts: only ever on its own thread).
  openat: lib.func('int openat(int dirfd, const char *path, int flags, unsigned int mode)'),
  setns: lib.func('int setns(int fd, int nstype)'),
  unshare: lib.func('int unshare(int flags)'),
  mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, uintptr_t data)'),
  umount2: lib.func('int umount2(const char *target, int flags)'),
  unlink: lib.func('int unlink(const char *path)'),
  // Processes (src/sys/spawn.ts): posix_spawn clones with CLONE_VM | CLONE_VFORK, no page-table copy.
  pipe2: lib.func('int pipe2(uintptr_t fds, int flags)'),
  posix_spawn: lib.func('int posix_spawn(uintptr_t pid, uintptr_t path, uintptr_t actions, uintptr_t attr, uintptr_t argv, uintptr_t envp)'),
  posix_spawn_file_actions_init: lib.func('int posix_spawn_file_actions_init(uintptr_t actions)'),
  posix_spawn_file_actions_adddup2: lib.func('int posix_spawn_file_actions_adddup2(uintptr_t actions, int fd, int newfd)'),
  posix_spawn_file_actions_destroy: lib.func('int posix_spawn_file_actions_destroy(uintptr_t actions)'),
  /** glibc ≥ 2.34; undefined before (the child then keeps fds this process opened without close-on-exec). */
  posix_spawn_file_actions_addclosefrom_np: optional('int posix_spawn_file_actions_addclosefrom_np(uintptr_t actions, int from)'),
  posix_spawnattr_init: lib.func('int posix_spawnattr_init(uintptr_t attr)'),
  posix_spawnattr_destroy: lib.func('int posix_spawnattr_destroy(uintptr_t attr)'),
  posix_spawnattr_setflags: lib.func('int posix_spawnattr_setflags(uintptr_t attr, short flags)'),
  posix_spawnattr_setsigdefault: lib.func('int posix_spawnattr_setsigdefault(uintptr_t attr, uintptr_t sigset)'),
  posix_spawnattr_setsigmask: lib.func('int posix_spawnattr_setsigmask(uintptr_t attr, uintptr_t sigset)'),
  sigemptyset: lib.func('int sigemptyset(uintptr_t set)'),
  sigfillset: lib.func('int sigfillset(uintptr_t set)'),
  sigdelset: lib.func('int sigdelset(uintptr_t set, int sig)'),
  pidfd_open: lib.func('int pidfd_open(int pid, unsigned int flags)'),
  waitpid: lib.func('int waitpid(int pid, uintptr_t status, int options)'),
  kill: lib.func('int kill(int pid, int sig)'),
};

/** Linux x86-64 / aarch64 constants used by this package. */
export const C = {
  O_RDWR: 2,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  F_GETFL: 3,
  F_SETFL: 4,
  F_ADD_SEALS: 1033,
  F_GET_SEALS: 1034,
  F_SEAL_SEAL: 1,
  F_SEAL_SHRINK: 2,
  MFD_CLOEXEC: 1,
  MFD_ALLOW_SEALING: 2,
  PROT_NONE: 0,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  MAP_PRIVATE: 2,
  MAP_FIXED: 0x10,
  MAP_ANONYMOUS: 0x20,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  AF_UNIX: 1,
  SOCK_STREAM: 1,
  SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_PEERCRED: 17,
  SCM_RIGHTS: 1,
  MSG_PEEK: 0x2,
  MSG_CTRUNC: 0x8,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  MSG_CMSG_CLOEXEC: 0x40000000,
  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
  EPOLLIN: 0x1,
  EPOLLOUT: 0x4,
  EPOLLERR: 0x8,
  EPOLLHUP: 0x10,
  EPOLLRDHUP: 0x2000,
  POLLHUP: 0x10,
  POLLRDHUP: 0x2000,
  TUNSETIFF: 0x400454ca,
  IFF_TAP: 0x0002,
  IFF_NO_PI: 0x1000,
  IFNAMSIZ: 16,
  AF_NETLINK: 16,
  SOCK_RAW: 3,
  NETLINK_ROUTE: 0,
  SOL_NETLINK: 270,
  NETLINK_ADD_MEMBERSHIP: 1,
  NETLINK_CAP_ACK: 10,
  NETLINK_EXT_ACK: 11,
  ENOBUFS: 105,
  AT_FDCWD: -100,
  O_RDONLY: 0,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  CLONE_NEWNET: 0x40000000,
  MS_BIND: 0x1000,
  MS_REC: 0x4000,
  MS_SHARED: 0x100000,
  MNT_DETACH: 2,
  TUNSETPERSIST: 0x400454cb,
  POSIX_SPAWN_SETSIGDEF: 0x04,
  POSIX_SPAWN_SETSIGMASK: 0x08,
  WNOHANG: 1,
  SIGKILL: 9,
  SIGSTOP: 19,
} as const;

/** The numeric address of a koffi pointer (0n for NULL). */
export function addressOf(ptr: unknown): bigint {
  return ptr === null ? 0n : koffi.address(ptr);
}

/** A view of `len` bytes of native memory at `ptr`, with no copy. */
export function viewOf(ptr: unknown, len: number): ArrayBuffer {
  return koffi.view(ptr, len);
}

export function errno(): number {
  return koffi.errno();
}
