// A framed connection to VPP's API socket: node's `net` over AF_UNIX SOCK_STREAM.
// Delivers whole message payloads and reports exactly one close, with the reason.
import * as net from 'node:net';
import { FrameDecoder, FrameError, encodeFrame, DEFAULT_MAX_FRAME_BYTES } from './frame.js';

export const DEFAULT_API_SOCKET = '/run/vpp/api.sock';

/** Connecting failed: no socket file, nobody listening, permission, or timeout. */
export class VppConnectError extends Error {
  constructor(message: string, readonly socketPath: string, readonly code?: string) {
    super(message);
    this.name = 'VppConnectError';
  }
}

export interface TransportHandlers {
  onMessage(payload: Buffer): void;
  /** Called once. `error` is null for a close we asked for. */
  onClose(error: Error | null): void;
}

export interface ConnectOptions {
  timeoutMs?: number;
  maxFrameBytes?: number;
}

export class SocketTransport {
  private closed = false;
  private closing = false;
  private readonly decoder: FrameDecoder;

  private constructor(private readonly sock: net.Socket, readonly socketPath: string, maxFrameBytes: number,
    private handlers: TransportHandlers) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) => this.finish(err));
    sock.on('close', () => {
      const tail = this.decoder.end();
      this.finish(this.closing ? null : (tail ?? new Error(`VPP closed the API socket ${this.socketPath}`)));
    });
  }

  static connect(socketPath: string, handlers: TransportHandlers, opts: ConnectOptions = {}): Promise<SocketTransport> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path: socketPath });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new VppConnectError(`connecting to VPP API socket ${socketPath} timed out after ${timeoutMs} ms`, socketPath, 'ETIMEDOUT'));
      }, timeoutMs);
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(connectError(socketPath, err));
      });
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new SocketTransport(sock, socketPath, opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, handlers));
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Replace the receivers (the handshake reads the first message itself, then hands over). */
  setHandlers(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  send(payload: Uint8Array): void {
    if (this.closed || this.closing) throw new Error(`VPP API socket ${this.socketPath} is closed`);
    this.sock.write(encodeFrame(payload));
  }

  /** Flush what was written, then close; resolves when the socket is gone. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      this.sock.once('close', () => resolve());
      this.sock.end();
      // A peer that never reads must not keep us open.
      setTimeout(() => this.sock.destroy(), 1000).unref();
    });
  }

  /** Drop the connection now (protocol error, test teardown). */
  destroy(reason: Error | null): void {
    if (this.closed) return;
    this.finish(reason);
    this.sock.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.destroy(err as FrameError);
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      this.handlers.onMessage(f);
    }
  }

  private finish(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose(error);
  }
}

export function connectError(socketPath: string, err: NodeJS.ErrnoException): VppConnectError {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
    return new VppConnectError(`no VPP API socket at ${socketPath} (${err.code})`, socketPath, err.code);
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return new VppConnectError(`permission denied on VPP API socket ${socketPath} (${err.code})`, socketPath, err.code);
  }
  return new VppConnectError(`cannot connect to VPP API socket ${socketPath}: ${err.message}`, socketPath, err.code);
}
