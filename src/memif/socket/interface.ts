// A memif interface, either role: the object applications hold. It keeps its configuration across
// connections; `connection` is the live data path while connected, null otherwise.
//
// Events: 'connected' (conn: MemifConnection), 'disconnected' (DisconnectInfo: { code, reason, byPeer }),
// 'connect-failed' (slave: { code, reason } once per streak of failed attempts), 'rejected' (master: a
// slave refused before it bound to an interface: { code, reason, id }). Codes are ../wire.ts's
// MemifErrorCode; match on them, not on the reason's text.
import { EventEmitter } from 'node:events';
import { SysError } from '../../sys/index.js';
import { normalizeConfig, type MemifConfig, type MemifOptions } from './config.js';
import type { MemifConnection } from './connection.js';
import { fault, MemifErrorCode, type MemifFault } from '../wire.js';
import { MemifListener, type MasterEndpoint, type MasterSession } from './master.js';
import { SlaveSession, type SlaveEndpoint } from './slave.js';

export interface DisconnectInfo {
  /** Why: ours when we ended it, the peer's when it sent a tsvpp code, else DISCONNECT / DISCONNECTED. */
  code: MemifErrorCode;
  /** The particulars (the peer's DISCONNECT string when it ended it). */
  reason: string;
  /** True when the peer ended it (DISCONNECT received or socket closed); false when we did. */
  byPeer: boolean;
}

export class MemifInterface extends EventEmitter implements MasterEndpoint, SlaveEndpoint {
  readonly config: MemifConfig;
  connection: MemifConnection | null = null;
  /** Master: the socket listener this interface is served on. */
  readonly listener: MemifListener | null = null;
  #master: MasterSession | null = null;
  #slave: SlaveSession | null = null;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;
  #failing = false;
  /** Why the last attempt or connection failed: the end of waitConnected's timeout message. */
  #lastFailure: string | undefined;
  #onRejected = (info: { code: MemifErrorCode; reason: string; id?: number }) => {
    if (info.id === undefined || info.id === this.config.id) this.emit('rejected', info);
  };

  constructor(options: MemifOptions) {
    super();
    this.config = normalizeConfig(options);
    if (this.config.role === 'master') {
      this.listener = MemifListener.for(this.config.socket);
      this.listener.add(this);
      this.listener.on('rejected', this.#onRejected);
    } else {
      // Connect on the next tick so that callers can attach listeners first.
      this.#retry = setTimeout(() => this.#tryConnect(), 0);
    }
  }

  get isConnected(): boolean {
    return this.connection !== null;
  }

  // --- master endpoint ---
  get busy(): boolean {
    return this.#master !== null;
  }

  sessionAttached(session: MasterSession): void {
    this.#master = session;
  }

  // --- both roles ---
  sessionConnected(_session: MasterSession | SlaveSession, conn: MemifConnection): void {
    this.connection = conn;
    this.emit('connected', conn);
  }

  sessionEnded(session: MasterSession | SlaveSession, f: MemifFault, byPeer: boolean): void {
    this.connection = null;
    if (session === this.#master) this.#master = null;
    if (session === this.#slave) this.#slave = null;
    // Every bound master session and every slave session that got past connect() ends with this
    // event, so failed handshakes (wrong secret, version, …) are reported too.
    this.#lastFailure = `${byPeer ? 'the peer disconnected' : 'disconnected'}: ${f.reason}`;
    this.emit('disconnected', { code: f.code, reason: f.reason, byPeer } satisfies DisconnectInfo);
    if (this.config.role === 'slave') this.#scheduleReconnect();
  }

  // --- slave ---
  #tryConnect(): void {
    this.#retry = null;
    if (this.#closed || this.#slave) return;
    try {
      this.#slave = new SlaveSession(this);
      this.#failing = false;
    } catch (e) {
      const f = e instanceof SysError ? fault(connectErrorCode(e.code), `cannot connect to ${this.config.socket}: ${e.code}`) : fault(MemifErrorCode.INTERNAL, String(e));
      this.#lastFailure = f.reason;
      if (!this.#failing) this.emit('connect-failed', { code: f.code, reason: f.reason });
      this.#failing = true;
      this.#scheduleReconnect();
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => this.#tryConnect(), this.config.reconnectMs);
  }

  /** Resolves with the connection once connected (at once if it is). */
  waitConnected(timeoutMs = 10_000): Promise<MemifConnection> {
    if (this.connection) return Promise.resolve(this.connection);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.off('connected', on); reject(new Error(`memif ${this.config.ifName} (${this.config.role}, id ${this.config.id}) not connected after ${timeoutMs} ms on ${this.config.socket}${this.#lastFailure ? ` (last: ${this.#lastFailure})` : ''}`)); }, timeoutMs);
      const on = (c: MemifConnection) => { clearTimeout(t); resolve(c); };
      this.once('connected', on);
    });
  }

  /** Drops the current connection (code USER, `reason` sent to the peer); a slave reconnects later. */
  disconnect(reason?: string): void {
    this.#drop(fault(MemifErrorCode.USER, reason));
  }

  #drop(f: MemifFault): void {
    (this.#master ?? this.#slave)?.disconnect(f);
  }

  /** Disconnects (code DELETED) and stops: no reconnect; a master leaves its socket (closed with the last interface). */
  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry) { clearTimeout(this.#retry); this.#retry = null; }
    this.#drop(fault(MemifErrorCode.DELETED, reason));
    if (this.listener) {
      this.listener.off('rejected', this.#onRejected);
      this.listener.remove(this);
    }
  }
}

function connectErrorCode(errno: string): MemifErrorCode {
  switch (errno) {
    case 'ENOENT': return MemifErrorCode.NO_FILE;
    case 'ECONNREFUSED': return MemifErrorCode.CONNREFUSED;
    case 'EACCES': case 'EPERM': return MemifErrorCode.ACCES;
    default: return MemifErrorCode.SYSCALL;
  }
}
