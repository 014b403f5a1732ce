// VPP binary API client over the socket transport.
//
// Requests and replies are matched by `context` (VPP copies it from request to reply); many
// requests may be in flight at once and VPP answers each client in order. Dumps are followed by
// a control_ping with the same context: the details come first, the control_ping_reply ends the
// dump (as vpp_papi and GoVPP do). Stream calls (*_get with a cursor) are repeated while VPP
// answers VNET_API_ERROR_EAGAIN. Messages without a `context` field (sw_interface_event, ...)
// are events.
import { EventEmitter } from 'node:events';
import type { ApiRegistry, MessageCodec } from '../codec/index.js';
import { SocketTransport, DEFAULT_API_SOCKET } from '../transport/socket-transport.js';
import { EventQueue } from './event-queue.js';
import { encodeSockclntCreate, parseSockclntCreateReply, SOCKCLNT_CREATE_REPLY_ID } from './handshake.js';
import { MessageTable, formatTableReport, type TableReport } from './message-table.js';
import { VNET_API_ERROR_EAGAIN } from './api-errno.js';
import {
  VppApiError, VppDisconnectedError, VppMessageUnavailableError, VppProtocolError, VppTimeoutError,
} from './errors.js';
import { loadApiRegistry, serviceMap, DEFAULT_API_DIR, type ServiceInfo } from './registry.js';

export type VppValue = Record<string, any>;

export interface ReconnectOptions {
  /** First retry delay; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export interface VppLogger {
  warn(msg: string): void;
  debug?(msg: string): void;
}

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

export interface RequestOptions {
  timeoutMs?: number;
  /** Expected reply name when it is not `<name>_reply`. */
  reply?: string;
}

interface Pending {
  kind: 'request' | 'dump' | 'stream';
  request: string;
  context: number;
  /** Name of the message that ends this exchange. */
  endName: string;
  details: VppValue[];
  timeoutMs: number;
  timer: NodeJS.Timeout | null;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** For streams: re-send with the next cursor. */
  resend?: (cursor: number) => void;
}

const CONTROL_PING = 'control_ping';
const CONTROL_PING_REPLY = 'control_ping_reply';

export class VppClient extends EventEmitter {
  readonly socketPath: string;
  readonly registry: ApiRegistry;
  private readonly opts: VppClientOptions;
  private transport: SocketTransport | null = null;
  private table: MessageTable | null = null;
  private clientIndexValue = 0;
  private state: 'connecting' | 'connected' | 'disconnected' | 'closed' = 'connecting';
  private nextContext = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queues = new Map<string, Set<EventQueue<VppValue>>>();
  /** Successful want_* registrations, replayed after a reconnect (VPP forgot them). */
  private readonly subscriptions = new Map<string, VppValue>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private readonly log: VppLogger;
  private readonly services: Map<string, ServiceInfo>;

  private constructor(registry: ApiRegistry, opts: VppClientOptions) {
    super();
    this.registry = registry;
    this.services = serviceMap(registry);
    this.opts = opts;
    this.socketPath = opts.socket ?? DEFAULT_API_SOCKET;
    this.log = opts.logger ?? { warn: () => {} };
    for (const [ev, fn] of Object.entries(opts.listeners ?? {})) if (fn) this.on(ev, fn as (...a: any[]) => void);
  }

  /** Connect, register, read the message table. Rejects with VppConnectError / VppProtocolError. */
  static async connect(opts: VppClientOptions = {}): Promise<VppClient> {
    const registry = opts.registry ?? loadApiRegistry(opts.apiDir ?? DEFAULT_API_DIR);
    const c = new VppClient(registry, opts);
    await c.open();
    return c;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** client_index VPP assigned (registration handle). */
  get clientIndex(): number {
    return this.clientIndexValue;
  }

  /** Comparison of the local definitions with VPP's table, from the latest handshake. */
  get tableReport(): TableReport {
    return this.requireTable().report;
  }

  /** VPP's id for a message in this session (undefined if unusable). */
  messageId(name: string): number | undefined {
    return this.table?.id(name);
  }

  /** Send a request and resolve with its reply (retval != 0 rejects with VppApiError). */
  request<T = VppValue>(name: string, value: VppValue = {}, opts: RequestOptions = {}): Promise<T> {
    const svc = this.services.get(name);
    const replyName = opts.reply ?? (svc && !svc.stream ? svc.reply : `${name}_reply`);
    return new Promise<T>((resolve, reject) => {
      const p = this.newPending('request', name, replyName, opts.timeoutMs, resolve as (v: unknown) => void, reject);
      if (!p) return;
      const ok = this.trySend(p, name, value);
      if (ok && name.startsWith('want_')) {
        // Remember the subscription once VPP accepted it.
        const orig = p.resolve;
        p.resolve = (v) => {
          const on = value.enable_disable ?? value.enable;
          if (on === 0 || on === false) this.subscriptions.delete(name);
          else this.subscriptions.set(name, { ...value });
          orig(v);
        };
      }
    });
  }

  /** Send a *_dump followed by control_ping; resolve with all details messages. */
  dump<T = VppValue>(name: string, value: VppValue = {}, opts: { timeoutMs?: number } = {}): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      const p = this.newPending('dump', name, CONTROL_PING_REPLY, opts.timeoutMs, resolve as (v: unknown) => void, reject);
      if (!p) return;
      if (this.trySend(p, name, value)) this.trySend(p, CONTROL_PING, {});
    });
  }

  /**
   * A stream call with a cursor (e.g. nat44_ed_output_interface_get): collects the details and
   * repeats the call from the returned cursor while VPP answers VNET_API_ERROR_EAGAIN.
   */
  stream<T = VppValue, R = VppValue>(name: string, value: VppValue = {}, opts: RequestOptions = {}): Promise<{ reply: R; details: T[] }> {
    const replyName = opts.reply ?? this.services.get(name)?.reply ?? `${name}_reply`;
    return new Promise((resolve, reject) => {
      const p = this.newPending('stream', name, replyName, opts.timeoutMs, resolve as (v: unknown) => void, reject);
      if (!p) return;
      p.resend = (cursor) => {
        this.pending.delete(p.context);
        p.context = this.allocContext();
        this.pending.set(p.context, p);
        this.trySend(p, name, { ...value, cursor });
      };
      this.trySend(p, name, { cursor: 0, ...value });
    });
  }

  /** Events of one message type as an async iterator; stops at close() or when you break. */
  events<T = VppValue>(name: string, opts: { maxBuffered?: number } = {}): AsyncIterableIterator<T> {
    if (!this.registry.hasMessage(name)) {
      throw new VppMessageUnavailableError(name, 'unknown-locally', 'no such message in the local API definitions');
    }
    if (this.state === 'closed') throw new VppDisconnectedError(name, 'client is closed');
    let set = this.queues.get(name);
    if (!set) this.queues.set(name, (set = new Set()));
    const s = set;
    const q: EventQueue<VppValue> = new EventQueue(() => s.delete(q), opts.maxBuffered);
    s.add(q);
    return q as unknown as AsyncIterableIterator<T>;
  }

  /** Listen to one event type; returns the unsubscribe function. */
  onEvent<T = VppValue>(name: string, fn: (value: T) => void): () => void {
    const h = (n: string, v: VppValue): void => { if (n === name) fn(v as T); };
    this.on('event', h);
    return () => this.off('event', h);
  }

  /** Resolves when connected (immediately if already); rejects when closed first or after timeoutMs. */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new VppDisconnectedError(null, 'client is closed'));
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

  /** Unregister (sockclnt_delete), close the socket, fail what is pending, end event iterators. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const w of this.reconnectWaiters.splice(0)) w.reject(new VppDisconnectedError(null, 'client closed'));
    this.failAll('client closed');
    for (const set of this.queues.values()) for (const q of [...set]) q.end();
    const t = this.transport;
    if (t && wasConnected && t.isOpen) {
      await this.unregister(t);
    }
    await t?.close();
    this.transport = null;
  }

  // ---- connection lifecycle ----

  private async open(): Promise<void> {
    const createCodec = this.codec('sockclnt_create');
    const replyCodec = this.codec('sockclnt_create_reply');
    const timeoutMs = this.opts.connectTimeoutMs ?? 5000;
    let first: ((b: Buffer) => void) | null = null;
    let firstFail: ((e: Error) => void) | null = null;
    const t = await SocketTransport.connect(this.socketPath, {
      onMessage: (b) => first?.(b),
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
    if (this.state === 'closed') {
      t.destroy(null);
      throw new VppDisconnectedError(null, 'client closed while connecting');
    }
    this.transport = t;
    this.table = result.table;
    this.clientIndexValue = result.clientIndex;
    this.state = 'connected';
    t.setHandlers({ onMessage: (b) => this.onMessage(b), onClose: (e) => this.onTransportClose(t, e) });
    const r = result.table.report;
    if (r.crcMismatch.length || r.missing.length) {
      this.log.warn(`VPP API at ${this.socketPath}: ${formatTableReport(r)}`);
      this.emit('table-mismatch', r);
    }
  }

  private onTransportClose(t: SocketTransport, error: Error | null): void {
    if (this.transport !== t || this.state === 'closed') return;
    this.transport = null;
    this.state = 'disconnected';
    const reason = error ? error.message : 'VPP closed the connection';
    this.failAll(`connection to VPP at ${this.socketPath} lost: ${reason}`);
    this.log.warn(`VPP API connection lost: ${reason}`);
    this.emit('disconnected', { reason, error });
    if (this.opts.reconnect !== false) this.scheduleReconnect(1);
  }

  private scheduleReconnect(attempt: number): void {
    const ro: ReconnectOptions = typeof this.opts.reconnect === 'object' ? this.opts.reconnect : {};
    const initial = ro.initialDelayMs ?? 100;
    const delay = Math.min(initial * 2 ** (attempt - 1), ro.maxDelayMs ?? 5000);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = null;
      if (this.state === 'closed') return;
      this.state = 'connecting';
      try {
        await this.open();
      } catch (err) {
        if ((this.state as string) === 'closed') return;
        this.state = 'disconnected';
        this.log.debug?.(`reconnect attempt ${attempt} failed: ${(err as Error).message}`);
        this.scheduleReconnect(attempt + 1);
        return;
      }
      this.emit('reconnected', { attempts: attempt, report: this.requireTable().report });
      for (const w of this.reconnectWaiters.splice(0)) w.resolve();
      await this.replaySubscriptions();
    }, delay);
  }

  private async replaySubscriptions(): Promise<void> {
    for (const [name, value] of [...this.subscriptions]) {
      try {
        await this.request(name, value);
      } catch (err) {
        this.log.warn(`re-subscribing ${name} after reconnect failed: ${(err as Error).message}`);
      }
    }
  }

  private async unregister(t: SocketTransport): Promise<void> {
    const id = this.table?.id('sockclnt_delete');
    if (id === undefined) return;
    const context = this.allocContext();
    await new Promise<void>((resolve) => {
      // VPP answers sockclnt_delete_reply (response 1) and closes the socket; either ends the wait.
      const timer = setTimeout(done, 1000);
      const replyId = this.table?.id('sockclnt_delete_reply');
      function done(): void { clearTimeout(timer); resolve(); }
      t.setHandlers({
        onMessage: (b) => { if (b.length >= 2 && b.readUInt16BE(0) === replyId) done(); },
        onClose: () => done(),
      });
      try {
        t.send(this.codec('sockclnt_delete').encode({ _vl_msg_id: id, client_index: this.clientIndexValue, context, index: this.clientIndexValue }));
      } catch {
        done();
      }
    });
  }

  // ---- sending ----

  private newPending(kind: Pending['kind'], request: string, endName: string, timeoutMs: number | undefined,
    resolve: (v: unknown) => void, reject: (e: Error) => void): Pending | null {
    const svc = this.services.get(request);
    const detailsName = kind === 'dump' ? svc?.reply : kind === 'stream' ? svc?.stream_msg : undefined;
    const why = this.checkUsable(request) ?? (endName === CONTROL_PING_REPLY ? this.checkUsable(CONTROL_PING) : null) ?? this.checkUsable(endName)
      ?? (detailsName ? this.checkUsable(detailsName) : null);
    if (why) {
      reject(why);
      return null;
    }
    const p: Pending = {
      kind, request, endName, context: this.allocContext(), details: [], timeoutMs: timeoutMs ?? this.opts.timeoutMs ?? 10_000, timer: null,
      resolve: (v) => { this.settle(p); resolve(v); },
      reject: (e) => { this.settle(p); reject(e); },
    };
    this.pending.set(p.context, p);
    this.arm(p);
    return p;
  }

  private checkUsable(name: string): Error | null {
    if (this.state === 'closed') return new VppDisconnectedError(name, 'client is closed');
    if (this.state !== 'connected' || !this.table) return new VppDisconnectedError(name, `not connected to VPP at ${this.socketPath} (reconnecting)`);
    if (!this.registry.hasMessage(name)) return new VppMessageUnavailableError(name, 'unknown-locally', 'no such message in the local API definitions');
    const why = this.table.unavailable(name, this.registry.message(name).crc);
    return why ? new VppMessageUnavailableError(name, why.reason, why.detail) : null;
  }

  private trySend(p: Pending, name: string, value: VppValue): boolean {
    try {
      const codec = this.registry.message(name);
      const v: VppValue = { ...value, _vl_msg_id: this.table!.id(name)! };
      const shape = sendShape(codec);
      if (shape.context) v.context = p.context;
      if (shape.clientIndex) v.client_index = this.clientIndexValue;
      const bytes = codec.encode(v);
      if (!this.transport) throw new VppDisconnectedError(name, `not connected to VPP at ${this.socketPath}`);
      this.transport.send(bytes);
      return true;
    } catch (err) {
      p.reject(err as Error);
      return false;
    }
  }

  private arm(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      p.reject(new VppTimeoutError(p.request, p.timeoutMs, p.context));
    }, p.timeoutMs);
  }

  private settle(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    if (this.pending.get(p.context) === p) this.pending.delete(p.context);
  }

  private failAll(reason: string): void {
    for (const p of [...this.pending.values()]) p.reject(new VppDisconnectedError(p.request, reason));
  }

  private allocContext(): number {
    // u32, skipping 0 (some code treats context 0 as "no context").
    for (;;) {
      const c = this.nextContext;
      this.nextContext = c >= 0xffff_ffff ? 1 : c + 1;
      if (!this.pending.has(c)) return c;
    }
  }

  // ---- receiving ----

  private onMessage(b: Buffer): void {
    if (b.length < 2) {
      this.protocolError(new VppProtocolError(`message of ${b.length} bytes from VPP has no message id`));
      return;
    }
    const id = b.readUInt16BE(0);
    const name = this.table?.name(id);
    // Replies carry the context right after the id; used to fail the waiting request early.
    const ctxGuess = b.length >= 6 ? b.readUInt32BE(2) : -1;
    if (!name) {
      const err = new VppProtocolError(
        id === SOCKCLNT_CREATE_REPLY_ID ? 'unexpected second sockclnt_create_reply' : `message id ${id} from VPP is not in the usable message table (unknown id, or a message whose definition differs locally)`, id);
      this.failByContext(ctxGuess, err) || this.protocolError(err);
      return;
    }
    let value: VppValue;
    try {
      value = this.registry.message(name).decode(b).value;
    } catch (e) {
      const err = new VppProtocolError(`cannot decode ${name} (${b.length} bytes) from VPP: ${(e as Error).message}`, id);
      this.failByContext(ctxGuess, err) || this.protocolError(err);
      return;
    }
    const p = typeof value.context === 'number' ? this.pending.get(value.context) : undefined;
    if (p) {
      this.deliver(p, name, value);
      return;
    }
    this.emit('event', name, value);
    const set = this.queues.get(name);
    if (set) for (const q of set) q.push(value);
  }

  private deliver(p: Pending, name: string, value: VppValue): void {
    if (name === p.endName) {
      if (typeof value.retval === 'number' && value.retval !== 0) {
        if (p.kind === 'stream' && value.retval === VNET_API_ERROR_EAGAIN && p.resend) {
          this.arm(p);
          p.resend(value.cursor as number);
          return;
        }
        p.reject(new VppApiError(p.request, value.retval, value));
        return;
      }
      if (p.kind === 'request') p.resolve(value);
      else if (p.kind === 'dump') p.resolve(p.details);
      else p.resolve({ reply: value, details: p.details });
      return;
    }
    if (p.kind !== 'request') {
      // Within a dump/stream context VPP sends only details until the terminating message.
      p.details.push(value);
      this.arm(p);
      return;
    }
    p.reject(new VppProtocolError(`${p.request}: expected ${p.endName}, VPP sent ${name} with the same context ${p.context}`));
  }

  private failByContext(ctx: number, err: Error): boolean {
    const p = this.pending.get(ctx);
    if (!p) return false;
    p.reject(err);
    this.protocolError(err as VppProtocolError);
    return true;
  }

  private protocolError(err: VppProtocolError): void {
    this.log.warn(err.message);
    this.emit('protocol-error', err);
  }

  private codec(name: string): MessageCodec {
    if (!this.registry.hasMessage(name)) {
      throw new VppMessageUnavailableError(name, 'unknown-locally', 'no such message in the local API definitions (is memclnt.api.json in the API directory?)');
    }
    return this.registry.message(name);
  }

  private requireTable(): MessageTable {
    if (!this.table) throw new VppDisconnectedError(null, 'no handshake with VPP yet');
    return this.table;
  }
}

function hasField(codec: MessageCodec, field: string): boolean {
  return codec.fields.some((f) => f.name === field);
}

/** Which of the fields the client fills in a message has: looked up once per message, not per send. */
const shapes = new WeakMap<MessageCodec, { context: boolean; clientIndex: boolean }>();
function sendShape(codec: MessageCodec): { context: boolean; clientIndex: boolean } {
  let s = shapes.get(codec);
  if (!s) shapes.set(codec, (s = { context: hasField(codec, 'context'), clientIndex: hasField(codec, 'client_index') }));
  return s;
}
