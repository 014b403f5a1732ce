// Request multiplexing over one connection (GoVPP's core/channel.go and stream.go): contexts,
// requests waiting for replies, dumps, cursor streams, timeouts, and routing what VPP sends to
// the exchange that waits for it or, failing that, to the events.
//
// Requests and replies are matched by `context` (VPP copies it from request to reply); many
// requests may be in flight at once and VPP answers each client in order. Dumps are followed by
// a control_ping with the same context: the details come first, the control_ping_reply ends the
// dump (as vpp_papi and GoVPP do). Stream calls (*_get with a cursor) are repeated while VPP
// answers VNET_API_ERROR_EAGAIN. Messages without a `context` field (sw_interface_event, ...)
// are events.
import type { ApiRegistry, MessageCodec } from '../codec/index.js';
import type { VppConnection } from './connection.js';
import type { MessageTable } from './message-table.js';
import { Deadlines, type Timed } from './deadlines.js';
import { ContextTable } from './contexts.js';
import type { EventRouter } from './events.js';
import { isSubscription } from './events.js';
import { SOCKCLNT_CREATE_REPLY_ID } from './handshake.js';
import { VNET_API_ERROR_EAGAIN } from './api-errno.js';
import {
  VppApiError, VppDisconnectedError, VppMessageUnavailableError, VppProtocolError, VppTimeoutError,
} from './errors.js';
import { serviceMap, type ServiceInfo } from './registry.js';

export type VppValue = Record<string, any>;

export interface RequestOptions {
  timeoutMs?: number;
  /** Expected reply name when it is not `<name>_reply`. */
  reply?: string;
}

/** One exchange: a request and its reply, a dump and its details, or a cursor stream. */
type Kind = 'request' | 'dump' | 'stream';

class Exchange implements Timed {
  deadline = -1;
  queuedFor = -1;
  /** Dumps and streams: what arrived so far. */
  details: VppValue[] | null = null;
  /** For want_* requests: the value to remember once VPP accepted it. */
  subscription: VppValue | null = null;
  /** For streams: the request value, re-sent with the next cursor. */
  streamValue: VppValue | null = null;
  /** Given by the ContextTable. */
  context = 0;
  constructor(readonly kind: Kind, readonly request: Prepared, readonly endName: string, readonly timeoutMs: number,
    readonly resolve: (v: any) => void, readonly reject: (e: Error) => void) {}
}

/** What sending or receiving one message needs, looked up once per message and VPP session. */
interface Prepared {
  name: string;
  codec: MessageCodec;
  id: number;
  /** Byte offsets of context and client_index, filled in at send time; -1 when absent. */
  contextAt: number;
  clientIndexAt: number;
  /** From the .api services: what ends a request and a cursor stream of this name ... */
  reply: string;
  streamReply: string;
  /** ... and the details a dump and a stream of it bring. */
  dumpDetails: string | undefined;
  streamDetails: string | undefined;
}

const CONTROL_PING = 'control_ping';
const CONTROL_PING_REPLY = 'control_ping_reply';

export class RequestChannel {
  private readonly pending = new ContextTable<Exchange>();
  private readonly services: Map<string, ServiceInfo>;
  private readonly deadlines = new Deadlines<Exchange>((p) => this.fail(p, new VppTimeoutError(p.request.name, p.timeoutMs, p.context)));
  /** The session (message table) the caches below belong to. */
  private session: MessageTable | null = null;
  private readonly byName = new Map<string, Prepared | VppMessageUnavailableError>();
  private byId: Array<Prepared | undefined> = [];
  private readBytes: Buffer | null = null;
  private readView: DataView | undefined;

  constructor(private readonly conn: VppConnection, private readonly registry: ApiRegistry, private readonly defaultTimeoutMs: number,
    private readonly events: EventRouter, private readonly protocolError: (e: VppProtocolError) => void) {
    this.services = serviceMap(registry);
  }

  request<T>(name: string, value: VppValue, opts: RequestOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const m = this.usable(name);
      if (m instanceof Error) return reject(m);
      const p = this.start('request', m, opts.reply ?? m.reply, opts.timeoutMs, resolve, reject);
      if (!p) return;
      if (isSubscription(name)) p.subscription = value;
      this.send(p, m, value);
    });
  }

  dump<T>(name: string, value: VppValue, opts: { timeoutMs?: number }): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      const m = this.usable(name);
      if (m instanceof Error) return reject(m);
      const ping = this.usable(CONTROL_PING);
      if (ping instanceof Error) return reject(ping);
      const p = this.start('dump', m, CONTROL_PING_REPLY, opts.timeoutMs, resolve, reject);
      if (p && this.send(p, m, value)) this.send(p, ping, {});
    });
  }

  stream<T, R>(name: string, value: VppValue, opts: RequestOptions): Promise<{ reply: R; details: T[] }> {
    return new Promise((resolve, reject) => {
      const m = this.usable(name);
      if (m instanceof Error) return reject(m);
      const p = this.start('stream', m, opts.reply ?? m.streamReply, opts.timeoutMs, resolve, reject);
      if (!p) return;
      p.streamValue = value;
      this.send(p, m, { cursor: 0, ...value });
    });
  }

  /** Fail every exchange in flight (connection lost or client closed). */
  failAll(reason: string): void {
    for (const p of this.pending.values()) this.fail(p, new VppDisconnectedError(p.request.name, reason));
  }

  /** A message from VPP after the handshake: b[start..end). */
  receive(b: Buffer, start: number, end: number): void {
    const size = end - start;
    if (size < 2) {
      this.protocolError(new VppProtocolError(`message of ${size} bytes from VPP has no message id`));
      return;
    }
    const id = b.readUInt16BE(start);
    const m = this.byId[id] ?? this.received(id);
    // Replies carry the context right after the id; used to fail the waiting request early.
    const ctxGuess = size >= 6 ? b.readUInt32BE(start + 2) : -1;
    if (!m) {
      const err = new VppProtocolError(
        id === SOCKCLNT_CREATE_REPLY_ID ? 'unexpected second sockclnt_create_reply' : `message id ${id} from VPP is not in the usable message table (unknown id, or a message whose definition differs locally)`, id);
      this.failByContext(ctxGuess, err) || this.protocolError(err);
      return;
    }
    if (b !== this.readBytes) {
      // One DataView per read, shared by the messages in it.
      this.readBytes = b;
      this.readView = new DataView(b.buffer, b.byteOffset, b.length);
    }
    let value: VppValue;
    try {
      value = m.codec.decodeRange(b, start, end, this.readView);
    } catch (e) {
      const err = new VppProtocolError(`cannot decode ${m.name} (${size} bytes) from VPP: ${(e as Error).message}`, id);
      this.failByContext(ctxGuess, err) || this.protocolError(err);
      return;
    }
    const p = m.contextAt >= 0 ? this.pending.get(value.context) : undefined;
    if (p) this.deliver(p, m.name, value);
    else this.events.deliver(m.name, value);
  }

  // ---- sending ----

  /** Registers an exchange, or rejects (and returns null) when its end or details cannot arrive. */
  private start(kind: Kind, m: Prepared, endName: string, timeoutMs: number | undefined,
    resolve: (v: any) => void, reject: (e: Error) => void): Exchange | null {
    const why = this.usable(endName);
    if (why instanceof Error) return (reject(why), null);
    const detailsName = kind === 'dump' ? m.dumpDetails : kind === 'stream' ? m.streamDetails : undefined;
    const whyDetails = detailsName === undefined ? null : this.usable(detailsName);
    if (whyDetails instanceof Error) return (reject(whyDetails), null);
    const p = new Exchange(kind, m, endName, timeoutMs ?? this.defaultTimeoutMs, resolve, reject);
    this.pending.add(p);
    this.deadlines.arm(p, p.timeoutMs);
    return p;
  }

  /** Why `name` cannot be sent or received now, or what sending it needs. */
  private usable(name: string): Prepared | VppDisconnectedError | VppMessageUnavailableError {
    const state = this.conn.state;
    const table = this.conn.table;
    if (state === 'closed') return new VppDisconnectedError(name, 'client is closed');
    if (state !== 'connected' || !table) return new VppDisconnectedError(name, `not connected to VPP at ${this.conn.socketPath} (reconnecting)`);
    if (table !== this.session) this.newSession(table);
    let m = this.byName.get(name);
    if (!m) this.byName.set(name, (m = this.prepare(name, table)));
    return m;
  }

  private newSession(table: MessageTable): void {
    this.session = table;
    this.byName.clear();
    this.byId = [];
  }

  private prepare(name: string, table: MessageTable): Prepared | VppMessageUnavailableError {
    if (!this.registry.hasMessage(name)) return new VppMessageUnavailableError(name, 'unknown-locally', 'no such message in the local API definitions');
    const codec = this.registry.message(name);
    const why = table.unavailable(name, codec.crc);
    if (why) return new VppMessageUnavailableError(name, why.reason, why.detail);
    const svc = this.services.get(name);
    return {
      name, codec, id: table.id(name)!,
      contextAt: headerOffset(codec, 'context'), clientIndexAt: headerOffset(codec, 'client_index'),
      reply: svc && !svc.stream ? svc.reply : `${name}_reply`,
      streamReply: svc?.reply ?? `${name}_reply`,
      dumpDetails: svc?.reply,
      streamDetails: svc?.stream_msg,
    };
  }

  /** The receiving side of the cache: by VPP's id in this session. */
  private received(id: number): Prepared | undefined {
    const name = this.conn.table?.name(id);
    if (name === undefined) return undefined;
    const m = this.usable(name);
    if (m instanceof Error) return undefined;
    this.byId[id] = m;
    return m;
  }

  /** Encodes straight into the socket's output; VPP's header fields are written in place. */
  private send(p: Exchange, m: Prepared, value: VppValue): boolean {
    try {
      const w = this.conn.output(m.name);
      const at = m.codec.encodeInto(value, w);
      const dv = w.dv;
      dv.setUint16(at, m.id);
      if (m.contextAt >= 0) dv.setUint32(at + m.contextAt, p.context);
      if (m.clientIndexAt >= 0) dv.setUint32(at + m.clientIndexAt, this.conn.clientIndex);
      w.commit();
      return true;
    } catch (err) {
      this.fail(p, err as Error);
      return false;
    }
  }

  private settle(p: Exchange): void {
    this.deadlines.settle(p);
    this.pending.delete(p);
  }

  private finish(p: Exchange, v: unknown): void {
    this.settle(p);
    if (p.subscription) this.events.subscribed(p.request.name, p.subscription);
    p.resolve(v);
  }

  private fail(p: Exchange, e: Error): void {
    this.settle(p);
    p.reject(e);
  }

  // ---- receiving ----

  private deliver(p: Exchange, name: string, value: VppValue): void {
    if (name === p.endName) {
      if (typeof value.retval === 'number' && value.retval !== 0) {
        if (p.kind === 'stream' && value.retval === VNET_API_ERROR_EAGAIN) {
          this.resend(p, value.cursor as number);
          return;
        }
        this.fail(p, new VppApiError(p.request.name, value.retval, value));
        return;
      }
      switch (p.kind) {
        case 'request': this.finish(p, value); return;
        case 'dump': this.finish(p, p.details ?? []); return;
        case 'stream': this.finish(p, { reply: value, details: p.details ?? [] }); return;
        default: return unreachable(p.kind);
      }
    }
    if (p.kind !== 'request') {
      // Within a dump/stream context VPP sends only details until the terminating message.
      (p.details ??= []).push(value);
      this.deadlines.arm(p, p.timeoutMs);
      return;
    }
    this.fail(p, new VppProtocolError(`${p.request.name}: expected ${p.endName}, VPP sent ${name} with the same context ${p.context}`));
  }

  /** A stream's next round: the same request from VPP's cursor, on a new context. */
  private resend(p: Exchange, cursor: number): void {
    this.deadlines.arm(p, p.timeoutMs);
    this.pending.delete(p);
    this.pending.add(p);
    const m = this.usable(p.request.name);
    if (m instanceof Error) this.fail(p, m);
    else this.send(p, m, { ...p.streamValue, cursor });
  }

  private failByContext(ctx: number, err: VppProtocolError): boolean {
    const p = this.pending.get(ctx);
    if (!p) return false;
    this.fail(p, err);
    this.protocolError(err);
    return true;
  }
}

function unreachable(x: never): never {
  throw new Error(`unhandled exchange kind ${String(x)}`);
}

/** Offset of a header field (context, client_index) in the fixed start of a message, or -1. */
function headerOffset(codec: MessageCodec, field: string): number {
  let at = 0;
  for (const f of codec.node.fields) {
    if (f.name === field) return at;
    if (f.node.size === undefined) break;
    at += f.node.size;
  }
  if (codec.fields.some((f) => f.name === field)) {
    throw new VppProtocolError(`${codec.name}: its ${field} field is not at a fixed offset; the client cannot fill it in`);
  }
  return -1;
}
