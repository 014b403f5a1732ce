export { FRAME_HEADER_SIZE, DEFAULT_MAX_FRAME_BYTES, FrameError, FrameDecoder, encodeFrame } from './frame.js';
export { DEFAULT_API_SOCKET, SocketTransport, VppConnectError, connectError } from './socket-transport.js';
export type { TransportHandlers, ConnectOptions } from './socket-transport.js';
