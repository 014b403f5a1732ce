export { FRAME_HEADER_SIZE, DEFAULT_MAX_FRAME_BYTES, FrameError, FrameDecoder, FrameWriter, encodeFrame } from './frame.js';
export type { OnFrame } from './frame.js';
export { DEFAULT_API_SOCKET, SocketTransport, VppConnectError, connectError } from './socket-transport.js';
export type { TransportHandlers, ConnectOptions, TransportStats } from './socket-transport.js';
