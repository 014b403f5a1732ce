// VPP binary API client: the public face over a connection (connection.ts: socket, handshake,
// message table, reconnect) and the request multiplexer on it (channel.ts: contexts, replies,
// dumps, streams), with events fanned out by events.ts — the split of GoVPP's core package.
import { EventEmitter } from 'node:events';
import type { ApiRegistry } from '../codec/index.js';
import { VppConnection, type ReconnectOptions, type VppLogger } from './connection.js';
import { RequestChannel, type RequestOptions, type VppValue } from './channel.js';
import { EventRouter } from './events.js';
import type { TableReport } from './message-table.js';
import type { TransportStats } from '../transport/socket-transport.js';
import { VppDisconnectedError, VppMessageUnavailableError, VppProtocolError } from './errors.js';
import { loadApiRegistry, DEFAULT_API_DIR } from './registry.js';

export type { ReconnectOptions, VppLogger } from './connection.js';
export type { RequestOptions, VppValue } from './channel.js';

export interface VppClientOptions {
  /** API socket path, default /run/vpp/api.sock. */
  socket?: string;
  /** Directory of .api.json files (searched recursively), default /usr/share/vpp/api. */
  apiDir?: string;
  /** Use these definitions instead of loading apiDir. */
  registry?: ApiRegistry;
  /** Client name VPP shows in `show api clients`, default "tsvpp". */
  name?: string;
  /** Default per-request timeout, default 10 s. For dumps it is the idle time between messages. */
  timeoutMs?: number;
  /** Timeout for socket connect + registration, default 5 s. */
  connectTimeoutMs?: number;
  /** Reconnect after VPP goes away (default true). false: stay disconnected. */
  reconnect?: boolean | ReconnectOptions;
  /** Refuse frames larger than this (default 64 MiB). */
  maxFrameBytes?: number;
  logger?: VppLogger;
  /** Listeners attached before the first handshake, so 'table-mismatch' of the first connect is seen. */
  listeners?: Partial<{ [K in keyof VppClientEvents]: (...args: VppClientEvents[K]) => void }>;
}

export interface VppClientEvents {
  disconnected: [info: { reason: string; error: Error | null }];
  reconnected: [info: { attempts: number; report: TableReport }];
  'table-mismatch': [report: TableReport];
  'protocol-error': [error: VppProtocolError];
  /** Every event message (a message without context, or with a context nobody waits for). */
  event: [name: string, value: VppValue];
}

/** The default value and options of a call (read only, so one object serves every call). */
const NONE: Readonly<Record<string, never>> = Object.freeze({});

export class VppClient extends EventEmitter {
  readonly socketPath: string;
  readonly registry: ApiRegistry;
  private readonly conn: VppConnection;
  private readonly channel: RequestChannel;
  private readonly eventRouter: EventRouter;
  private readonly log: VppLogger;

  private constructor(registry: ApiRegistry, opts: VppClientOptions) {
    super();
    this.registry = registry;
    this.log = opts.logger ?? { warn: () => {} };
    for (const [ev, fn] of Object.entries(opts.listeners ?? {})) if (fn) this.on(ev, fn as (...a: any[]) => void);
    this.eventRouter = new EventRouter((name, value) => this.emit('event', name, value));
    this.conn = new VppConnection(registry, opts, this.log, {
      message: (b, start, end) => this.channel.receive(b, start, end),
      lost: (reason, error) => {
        this.channel.failAll(`connection to VPP at ${this.socketPath} lost: ${reason}`);
        this.emit('disconnected', { reason, error });
      },
      restored: (attempts, report) => {
        this.emit('reconnected', { attempts, report });
        void this.replaySubscriptions();
      },
      tableMismatch: (report) => this.emit('table-mismatch', report),
      closing: () => {
        this.channel.failAll('client closed');
        this.eventRouter.end();
      },
    });
    this.socketPath = this.conn.socketPath;
    this.channel = new RequestChannel(this.conn, registry, opts.timeoutMs ?? 10_000, this.eventRouter, (err) => {
      this.log.warn(err.message);
      this.emit('protocol-error', err);
    });
  }

  /** Connect, register, read the message table. Rejects with VppConnectError / VppProtocolError. */
  static async connect(opts: VppClientOptions = {}): Promise<VppClient> {
    const registry = opts.registry ?? loadApiRegistry(opts.apiDir ?? DEFAULT_API_DIR);
    const c = new VppClient(registry, opts);
    await c.conn.open();
    return c;
  }

  get connected(): boolean {
    return this.conn.state === 'connected';
  }

  /** client_index VPP assigned (registration handle). */
  get clientIndex(): number {
    return this.conn.clientIndex;
  }

  /** Comparison of the local definitions with VPP's table, from the latest handshake. */
  get tableReport(): TableReport {
    const table = this.conn.table;
    if (!table) throw new VppDisconnectedError(null, 'no handshake with VPP yet');
    return table.report;
  }

  /**
   * Messages sent and received on the current connection and the socket writes and reads that
   * carried them (messages per write shows how well pipelined requests were batched).
   */
  get stats(): TransportStats {
    return this.conn.stats;
  }

  /** VPP's id for a message in this session (undefined if unusable). */
  messageId(name: string): number | undefined {
    return this.conn.table?.id(name);
  }

  /** Send a request and resolve with its reply (retval != 0 rejects with VppApiError). */
  request<T = VppValue>(name: string, value: VppValue = NONE, opts: RequestOptions = NONE): Promise<T> {
    return this.channel.request<T>(name, value, opts);
  }

  /** Send a *_dump followed by control_ping; resolve with all details messages. */
  dump<T = VppValue>(name: string, value: VppValue = NONE, opts: { timeoutMs?: number } = NONE): Promise<T[]> {
    return this.channel.dump<T>(name, value, opts);
  }

  /**
   * A stream call with a cursor (e.g. nat44_ed_output_interface_get): collects the details and
   * repeats the call from the returned cursor while VPP answers VNET_API_ERROR_EAGAIN.
   */
  stream<T = VppValue, R = VppValue>(name: string, value: VppValue = NONE, opts: RequestOptions = NONE): Promise<{ reply: R; details: T[] }> {
    return this.channel.stream<T, R>(name, value, opts);
  }

  /** Events of one message type as an async iterator; stops at close() or when you break. */
  events<T = VppValue>(name: string, opts: { maxBuffered?: number } = {}): AsyncIterableIterator<T> {
    if (!this.registry.hasMessage(name)) {
      throw new VppMessageUnavailableError(name, 'unknown-locally', 'no such message in the local API definitions');
    }
    if (this.conn.state === 'closed') throw new VppDisconnectedError(name, 'client is closed');
    return this.eventRouter.iterator(name, opts.maxBuffered) as unknown as AsyncIterableIterator<T>;
  }

  /** Listen to one event type; returns the unsubscribe function. */
  onEvent<T = VppValue>(name: string, fn: (value: T) => void): () => void {
    const h = (n: string, v: VppValue): void => { if (n === name) fn(v as T); };
    this.on('event', h);
    return () => this.off('event', h);
  }

  /** Resolves when connected (immediately if already); rejects when closed first or after timeoutMs. */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    return this.conn.waitConnected(timeoutMs);
  }

  /** Unregister (sockclnt_delete), close the socket, fail what is pending, end event iterators. */
  close(): Promise<void> {
    return this.conn.close();
  }

  /** want_* registrations VPP accepted on the old connection, sent again on the new one. */
  private async replaySubscriptions(): Promise<void> {
    for (const [name, value] of this.eventRouter.toReplay()) {
      try {
        await this.request(name, value);
      } catch (err) {
        this.log.warn(`re-subscribing ${name} after reconnect failed: ${(err as Error).message}`);
      }
    }
  }
}
