// The connection to VPP's API socket (GoVPP's core/connection.go): socket, registration
// (sockclnt_create and VPP's message table), the connection state, reconnect with backoff and
// unregistration. It knows nothing of contexts or replies: every message after the handshake
// goes to its listener, which multiplexes (channel.ts).
import type { ApiRegistry, MessageCodec } from '../codec/index.js';
import { SocketTransport, DEFAULT_API_SOCKET, type TransportStats } from '../transport/socket-transport.js';
import type { FrameWriter } from '../transport/frame.js';
import { encodeSockclntCreate, parseSockclntCreateReply } from './handshake.js';
import { MessageTable, formatTableReport, type TableReport } from './message-table.js';
import { VppDisconnectedError, VppMessageUnavailableError, VppProtocolError } from './errors.js';

export interface ReconnectOptions {
  /** First retry delay; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export interface VppLogger {
  warn(msg: string): void;
  debug?(msg: string): void;
}

export interface ConnectionOptions {
  socket?: string;
  name?: string;
  connectTimeoutMs?: number;
  reconnect?: boolean | ReconnectOptions;
  maxFrameBytes?: number;
}

/** What the connection reports to its owner. */
export interface ConnectionListener {
  /** A message after the handshake: bytes[start..end), id first (big-endian). */
  message(bytes: Buffer, start: number, end: number): void;
  /** The socket went away (not after close()); a reconnect follows unless disabled. */
  lost(reason: string, error: Error | null): void;
  /** Connected again: the table was re-read. */
  restored(attempts: number, report: TableReport): void;
  /** A handshake found local definitions VPP lacks or has with another CRC. */
  tableMismatch(report: TableReport): void;
  /** close() was called: nothing more will be sent (runs before unregistering). */
  closing(): void;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Context of sockclnt_delete; VPP copies it into the reply, nothing waits on it by context. */
const DELETE_CONTEXT = 0x7473_7664; // "tsvd"

export class VppConnection {
  readonly socketPath: string;
  private transport: SocketTransport | null = null;
  private tableValue: MessageTable | null = null;
  private clientIndexValue = 0;
  private stateValue: ConnectionState = 'connecting';
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];

  constructor(readonly registry: ApiRegistry, private readonly opts: ConnectionOptions, private readonly log: VppLogger,
    private readonly listener: ConnectionListener) {
    this.socketPath = opts.socket ?? DEFAULT_API_SOCKET;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** client_index VPP assigned (registration handle). */
  get clientIndex(): number {
    return this.clientIndexValue;
  }

  /** VPP's message table of the current session (null before the first handshake). */
  get table(): MessageTable | null {
    return this.tableValue;
  }

  /** Messages and socket calls on the current connection (zeros while there is none). */
  get stats(): TransportStats {
    return this.transport?.stats ?? { sent: 0, writes: 0, received: 0, reads: 0 };
  }

  /** Where to encode a message to send (room, commit); throws when there is no open socket. */
  output(name: string): FrameWriter {
    const t = this.transport;
    if (!t) throw new VppDisconnectedError(name, `not connected to VPP at ${this.socketPath}`);
    t.checkOpen();
    return t.writer;
  }

  /** Resolves when connected (immediately if already); rejects when closed first or after timeoutMs. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.stateValue === 'connected') return Promise.resolve();
    if (this.stateValue === 'closed') return Promise.reject(new VppDisconnectedError(null, 'client is closed'));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => { clearTimeout(t); resolve(); },
        reject: (e: Error) => { clearTimeout(t); reject(e); },
      };
      const t = setTimeout(() => {
        this.reconnectWaiters = this.reconnectWaiters.filter((x) => x !== w);
        reject(new VppDisconnectedError(null, `not reconnected to VPP at ${this.socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.reconnectWaiters.push(w);
    });
  }

  /** Connect, register, read the message table. Rejects with VppConnectError / VppProtocolError. */
  async open(): Promise<void> {
    const createCodec = this.codec('sockclnt_create');
    const replyCodec = this.codec('sockclnt_create_reply');
    const timeoutMs = this.opts.connectTimeoutMs ?? 5000;
    let first: ((b: Buffer) => void) | null = null;
    let firstFail: ((e: Error) => void) | null = null;
    const t = await SocketTransport.connect(this.socketPath, {
      onMessage: (b, start, end) => first?.(b.subarray(start, end)),
      onClose: (e) => firstFail?.(e ?? new Error('closed')),
    }, { timeoutMs, maxFrameBytes: this.opts.maxFrameBytes });
    let result;
    try {
      const payload = await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new VppProtocolError(`handshake: no sockclnt_create_reply from VPP at ${this.socketPath} within ${timeoutMs} ms`)), timeoutMs);
        first = (b) => { clearTimeout(timer); resolve(b); };
        firstFail = (e) => { clearTimeout(timer); reject(new VppProtocolError(`handshake: connection to ${this.socketPath} closed before sockclnt_create_reply: ${e.message}`)); };
        t.send(encodeSockclntCreate(createCodec, this.opts.name ?? 'tsvpp'));
      });
      result = parseSockclntCreateReply(payload, replyCodec, this.registry.messages().map((m) => ({ name: m.name, crc: m.crc })));
    } catch (err) {
      t.destroy(null);
      throw err;
    }
    if (this.stateValue === 'closed') {
      t.destroy(null);
      throw new VppDisconnectedError(null, 'client closed while connecting');
    }
    this.transport = t;
    this.tableValue = result.table;
    this.clientIndexValue = result.clientIndex;
    this.stateValue = 'connected';
    t.setHandlers({ onMessage: (b, start, end) => this.listener.message(b, start, end), onClose: (e) => this.onTransportClose(t, e) });
    const r = result.table.report;
    if (r.crcMismatch.length || r.missing.length) {
      this.log.warn(`VPP API at ${this.socketPath}: ${formatTableReport(r)}`);
      this.listener.tableMismatch(r);
    }
  }

  /** Unregister (sockclnt_delete), close the socket; stops reconnecting. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    const wasConnected = this.stateValue === 'connected';
    this.stateValue = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const w of this.reconnectWaiters.splice(0)) w.reject(new VppDisconnectedError(null, 'client closed'));
    this.listener.closing();
    const t = this.transport;
    if (t && wasConnected && t.isOpen) await this.unregister(t);
    await t?.close();
    this.transport = null;
  }

  private onTransportClose(t: SocketTransport, error: Error | null): void {
    if (this.transport !== t || this.stateValue === 'closed') return;
    this.transport = null;
    this.stateValue = 'disconnected';
    const reason = error ? error.message : 'VPP closed the connection';
    this.log.warn(`VPP API connection lost: ${reason}`);
    this.listener.lost(reason, error);
    if (this.opts.reconnect !== false) this.scheduleReconnect(1);
  }

  private scheduleReconnect(attempt: number): void {
    const ro: ReconnectOptions = typeof this.opts.reconnect === 'object' ? this.opts.reconnect : {};
    const initial = ro.initialDelayMs ?? 100;
    const delay = Math.min(initial * 2 ** (attempt - 1), ro.maxDelayMs ?? 5000);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = null;
      if (this.stateValue === 'closed') return;
      this.stateValue = 'connecting';
      try {
        await this.open();
      } catch (err) {
        if ((this.stateValue as string) === 'closed') return;
        this.stateValue = 'disconnected';
        this.log.debug?.(`reconnect attempt ${attempt} failed: ${(err as Error).message}`);
        this.scheduleReconnect(attempt + 1);
        return;
      }
      this.listener.restored(attempt, this.tableValue!.report);
      for (const w of this.reconnectWaiters.splice(0)) w.resolve();
    }, delay);
  }

  private async unregister(t: SocketTransport): Promise<void> {
    const id = this.tableValue?.id('sockclnt_delete');
    if (id === undefined) return;
    await new Promise<void>((resolve) => {
      // VPP answers sockclnt_delete_reply (response 1) and closes the socket; either ends the wait.
      const timer = setTimeout(done, 1000);
      const replyId = this.tableValue?.id('sockclnt_delete_reply');
      function done(): void { clearTimeout(timer); resolve(); }
      t.setHandlers({
        onMessage: (b, start, end) => { if (end - start >= 2 && b.readUInt16BE(start) === replyId) done(); },
        onClose: () => done(),
      });
      try {
        t.send(this.codec('sockclnt_delete').encode({ _vl_msg_id: id, client_index: this.clientIndexValue, context: DELETE_CONTEXT, index: this.clientIndexValue }));
      } catch {
        done();
      }
    });
  }

  private codec(name: string): MessageCodec {
    if (!this.registry.hasMessage(name)) {
      throw new VppMessageUnavailableError(name, 'unknown-locally', 'no such message in the local API definitions (is memclnt.api.json in the API directory?)');
    }
    return this.registry.message(name);
  }
}
