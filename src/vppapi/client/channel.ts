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

interface Pending {
  kind: Kind;
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

export class RequestChannel {
  private nextContext = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly services: Map<string, ServiceInfo>;

  constructor(private readonly conn: VppConnection, private readonly registry: ApiRegistry, private readonly defaultTimeoutMs: number,
    private readonly events: EventRouter, private readonly protocolError: (e: VppProtocolError) => void) {
    this.services = serviceMap(registry);
  }

  request<T>(name: string, value: VppValue, opts: RequestOptions): Promise<T> {
    const svc = this.services.get(name);
    const replyName = opts.reply ?? (svc && !svc.stream ? svc.reply : `${name}_reply`);
    return new Promise<T>((resolve, reject) => {
      const p = this.newPending('request', name, replyName, opts.timeoutMs, resolve as (v: unknown) => void, reject);
      if (!p) return;
      const ok = this.trySend(p, name, value);
      if (ok && isSubscription(name)) {
        // Remember the subscription once VPP accepted it.
        const orig = p.resolve;
        p.resolve = (v) => {
          this.events.subscribed(name, value);
          orig(v);
        };
      }
    });
  }

  dump<T>(name: string, value: VppValue, opts: { timeoutMs?: number }): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      const p = this.newPending('dump', name, CONTROL_PING_REPLY, opts.timeoutMs, resolve as (v: unknown) => void, reject);
      if (!p) return;
      if (this.trySend(p, name, value)) this.trySend(p, CONTROL_PING, {});
    });
  }

  stream<T, R>(name: string, value: VppValue, opts: RequestOptions): Promise<{ reply: R; details: T[] }> {
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

  /** Fail every exchange in flight (connection lost or client closed). */
  failAll(reason: string): void {
    for (const p of [...this.pending.values()]) p.reject(new VppDisconnectedError(p.request, reason));
  }

  /** A message from VPP after the handshake. */
  receive(b: Buffer): void {
    if (b.length < 2) {
      this.protocolError(new VppProtocolError(`message of ${b.length} bytes from VPP has no message id`));
      return;
    }
    const id = b.readUInt16BE(0);
    const name = this.conn.table?.name(id);
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
    if (p) this.deliver(p, name, value);
    else this.events.deliver(name, value);
  }

  // ---- sending ----

  private newPending(kind: Kind, request: string, endName: string, timeoutMs: number | undefined,
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
      kind, request, endName, context: this.allocContext(), details: [], timeoutMs: timeoutMs ?? this.defaultTimeoutMs, timer: null,
      resolve: (v) => { this.settle(p); resolve(v); },
      reject: (e) => { this.settle(p); reject(e); },
    };
    this.pending.set(p.context, p);
    this.arm(p);
    return p;
  }

  private checkUsable(name: string): Error | null {
    const table = this.conn.table;
    if (this.conn.state === 'closed') return new VppDisconnectedError(name, 'client is closed');
    if (this.conn.state !== 'connected' || !table) return new VppDisconnectedError(name, `not connected to VPP at ${this.conn.socketPath} (reconnecting)`);
    if (!this.registry.hasMessage(name)) return new VppMessageUnavailableError(name, 'unknown-locally', 'no such message in the local API definitions');
    const why = table.unavailable(name, this.registry.message(name).crc);
    return why ? new VppMessageUnavailableError(name, why.reason, why.detail) : null;
  }

  private trySend(p: Pending, name: string, value: VppValue): boolean {
    try {
      const codec = this.registry.message(name);
      const v: VppValue = { ...value, _vl_msg_id: this.conn.table!.id(name)! };
      const shape = sendShape(codec);
      if (shape.context) v.context = p.context;
      if (shape.clientIndex) v.client_index = this.conn.clientIndex;
      this.conn.send(name, codec.encode(v));
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

  private allocContext(): number {
    // u32, skipping 0 (some code treats context 0 as "no context").
    for (;;) {
      const c = this.nextContext;
      this.nextContext = c >= 0xffff_ffff ? 1 : c + 1;
      if (!this.pending.has(c)) return c;
    }
  }

  // ---- receiving ----

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
      switch (p.kind) {
        case 'request': p.resolve(value); return;
        case 'dump': p.resolve(p.details); return;
        case 'stream': p.resolve({ reply: value, details: p.details }); return;
        default: return unreachable(p.kind);
      }
    }
    if (p.kind !== 'request') {
      // Within a dump/stream context VPP sends only details until the terminating message.
      p.details.push(value);
      this.arm(p);
      return;
    }
    p.reject(new VppProtocolError(`${p.request}: expected ${p.endName}, VPP sent ${name} with the same context ${p.context}`));
  }

  private failByContext(ctx: number, err: VppProtocolError): boolean {
    const p = this.pending.get(ctx);
    if (!p) return false;
    p.reject(err);
    this.protocolError(err);
    return true;
  }
}

function unreachable(x: never): never {
  throw new Error(`unhandled exchange kind ${String(x)}`);
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
