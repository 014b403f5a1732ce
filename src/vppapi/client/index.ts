/** VPP binary API client over the unix socket: request/reply, dumps, streams, events, reconnect. */
export { VppClient } from './client.js';
export type { VppClientOptions, VppClientEvents, RequestOptions, ReconnectOptions, VppLogger, VppValue } from './client.js';
export { VppApiError, VppTimeoutError, VppDisconnectedError, VppMessageUnavailableError, VppProtocolError, VppConnectError } from './errors.js';
export { MessageTable, splitNameCrc, formatTableReport } from './message-table.js';
export type { TableReport, CrcMismatch, VppTableEntry } from './message-table.js';
export { vppErrno, vppErrnoCode, vppErrnoName, VPP_ERRNO_TABLE, VNET_API_ERROR_EAGAIN } from './api-errno.js';
export type { VppErrno } from './api-errno.js';
export { DEFAULT_API_DIR, loadApiRegistry, shippedApiDir } from './registry.js';
export { DEFAULT_API_SOCKET } from '../transport/socket-transport.js';
export type { TransportStats } from '../transport/socket-transport.js';
export { SOCKCLNT_CREATE_ID, SOCKCLNT_CREATE_REPLY_ID } from './handshake.js';
export { typed, type TypedVppClient } from './typed.js';
