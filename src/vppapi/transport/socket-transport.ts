// A framed connection to VPP's API socket: node's `net` over AF_UNIX SOCK_STREAM.
// Delivers whole message payloads and reports exactly one close, with the reason. Messages sent
// in one turn of the event loop leave in one write (see FrameWriter).
import * as net from 'node:net';
import { FrameDecoder, FrameError, FrameWriter, DEFAULT_MAX_FRAME_BYTES } from './frame.js';

export const DEFAULT_API_SOCKET = '/run/vpp/api.sock';

/** Connecting failed: no socket file, nobody listening, permission, or timeout. */
export class VppConnectError extends Error {
  constructor(message: string, readonly socketPath: string, readonly code?: string) {
    super(message);
    this.name = 'VppConnectError';
  }
}

export interface TransportHandlers {
  /** One message: bytes[start..end), id first (a view of what was read; bytes is not reused). */
  onMessage(bytes: Buffer, start: number, end: number): void;
  /** Called once. `error` is null for a close we asked for. */
  onClose(error: Error | null): void;
}

/** Messages and socket calls of one connection: how well sends and receives were batched. */
export interface TransportStats {
  sent: number;
  writes: number;
  received: number;
  reads: number;
}

export interface ConnectOptions {
  timeoutMs?: number;
  maxFrameBytes?: number;
}

export class SocketTransport {
  private closed = false;
  private closing = false;
  private readonly decoder: FrameDecoder;
  /** Encode into this (room, commit) to send without a copy; send() copies into it. */
  readonly writer: FrameWriter;
  private readonly onFrame = (bytes: Buffer, start: number, end: number): void => {
    if (!this.closed) this.handlers.onMessage(bytes, start, end);
  };

  private constructor(private readonly sock: net.Socket, readonly socketPath: string, maxFrameBytes: number,
    private handlers: TransportHandlers) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    this.writer = new FrameWriter((bytes) => {
      if (this.closed) return true;
      // Nothing queued after write() returns: the kernel took the bytes, the slab is free again.
      sock.write(bytes);
      return sock.writableLength === 0;
    });
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

  get stats(): TransportStats {
    return { sent: this.writer.frames, writes: this.writer.writes, received: this.decoder.frames, reads: this.decoder.chunks };
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Replace the receivers (the handshake reads the first message itself, then hands over). */
  setHandlers(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  /** Throws when the socket is closed or closing; call before encoding into `writer`. */
  checkOpen(): void {
    if (this.closed || this.closing) throw new Error(`VPP API socket ${this.socketPath} is closed`);
  }

  send(payload: Uint8Array): void {
    this.checkOpen();
    this.writer.frame(payload);
  }

  /** Flush what was written, then close; resolves when the socket is gone. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.writer.flush();
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
    try {
      this.decoder.feed(chunk, this.onFrame);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.destroy(err);
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
