// tsvpp memif: a userspace memif (protocol 2.0) in TypeScript, both roles.
//   wire.ts  every wire struct, limit and error code (memif.h's counterpart)
//   socket/  control channel: message codec, master and slave state machines, MemifInterface
//   ring/    shared-memory layout and the burst data path (pure computation)
export { MemifInterface, type DisconnectInfo } from './socket/interface.js';
export { MemifConnection, type QueueExport } from './socket/connection.js';
export { MemifListener } from './socket/master.js';
export { normalizeConfig, MemifConfigError, type MemifOptions, type MemifConfig, type MemifRole, type MemifModeName } from './socket/config.js';
export * from './wire.js';
export { encodeMsg, decodeMsg, MemifProtocolError } from './socket/messages.js';
export { RxBurst, TxBurst, MemifQueue, MemifRingError } from './ring/index.js';
export { attachQueue, type WorkerQueue } from './socket/worker-queue.js';
