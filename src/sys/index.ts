// src/sys: the only code that touches FFI. Small wrappers over libc for memif and the CNI agent.
export { SysError, errnoName, EAGAIN, ENOENT, ECONNREFUSED } from './errors.js';
export { closeFd, closeFdAsync, closeAll, setNonBlocking, openFdCount } from './fd.js';
export { createMemfd, fdSize, fdSeals, ensureSealedAgainstShrink } from './memfd.js';
export { MappedRegion } from './mmap.js';
export { openTap } from './tun.js';
export { runProcess } from './spawn.js';
export type { ProcessResult, ProcessOptions } from './spawn.js';
export { createEventfd, signalEventfd, drainEventfd } from './eventfd.js';
export {
  listenSeqpacket, acceptSeqpacket, connectUnix, sendMessage, receiveMessage, discardFds,
  peerCredentials, MAX_FDS_PER_MESSAGE,
} from './seqpacket.js';
export type { ReceivedMessage, PeerCredentials } from './seqpacket.js';
export { Reactor } from './reactor.js';
export type { ReadyCallback } from './reactor.js';
export { NetlinkSocket, NetlinkError } from './netlink/socket.js';
export type { Call as NetlinkCall, Answer as NetlinkAnswer } from './netlink/socket.js';
export { openNetlinkIn, createNetns, deleteNetns, deleteNetnsSync, createPersistentTap, withNetnsFd, warmNetnsThread } from './netns.js';
export * as rtnl from './netlink/rtnl.js';
