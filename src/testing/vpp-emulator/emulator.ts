// ============================================================================================
//  VPP EMULATOR — A TEST DOUBLE, NOT VPP.
//  It speaks VPP's real binary API socket protocol (msgbuf_t framing, sockclnt_create handshake
//  with a message table built from the same .api.json files the codec reads, context echo,
//  client_index checks) and keeps a small stateful model of interfaces, memif sockets, bridge
//  domains, IP tables/routes, nat44-ed static mappings, cnat translations and source-NAT
//  policy. It forwards no packets and touches the host only through hooks, and with `kernelTaps`
//  through real taps as VPP's tap v2 does. Return
//  codes mimic VPP's handlers where they were checked against the VPP source (see
//  docs/vppapi-client.md for which ones).
//  NOT MODELLED: packets (no graph, no forwarding, nothing moves on a memif, tap or af_packet
//  interface), the shared-memory API transport and the stats segment, messages without a handler
//  (logged and dropped; the handled ones are listed in docs/vppapi-client.md), the CLI, worker
//  threads and the barrier, and every return code not checked against the VPP source.
//  Shipped as tsvpp/testing for tests; where it differs from real VPP, VPP is right.
// ============================================================================================
import * as net from 'node:net';
import * as fs from 'node:fs';
import { ApiRegistry, type MessageCodec } from '../../vppapi/codec/index.js';
import { FrameDecoder, FrameWriter } from '../../vppapi/transport/frame.js';
import { shippedApiDir } from '../../vppapi/client/registry.js';
import { VppState, type EmuInterface } from './state.js';
import type { EmulatorHooks } from './hooks.js';
import { kernelTaps, type KernelTaps } from './kernel-taps.js';
import { Retval, statusFlags, type Handler, type HandlerContext, type Registration, type Value } from './handler.js';
import { coreHandlers } from './handlers/core.js';
import { interfaceHandlers } from './handlers/interface.js';
import { memifHandlers } from './handlers/memif.js';
import { tapHandlers } from './handlers/tap.js';
import { ipL2Handlers } from './handlers/ip-l2.js';
import { natHandlers } from './handlers/nat.js';
import { cnatHandlers } from './handlers/cnat.js';
import { neighborHandlers } from './handlers/neighbor.js';
import { vxlanHandlers } from './handlers/vxlan.js';
import { buildMessageTable, SOCK_API_REG_HANDLE_BIT, type TableOptions } from './table.js';

export type { TableOptions } from './table.js';


export interface VppEmulatorOptions {
  socketPath: string;
  /** Definitions: a directory of .api.json files, or a loaded registry (default: the .api.json files tsvpp ships). */
  apiDir?: string;
  registry?: ApiRegistry;
  hooks?: EmulatorHooks;
  /**
   * tap_create_v2 makes a real kernel tap held by an fd (in host_namespace, else here), after the
   * onTapCreate hook; tap_delete_v2, close() and restart() close the fd and the device goes away,
   * wherever it was moved. Needs root.
   */
  kernelTaps?: boolean;
  table?: TableOptions;
  /** Directory for relative memif socket filenames (VPP's runtime dir), default /run/vpp. */
  runtimeDir?: string;
  /** Details per call of a cursor stream (*_get) before VNET_API_ERROR_EAGAIN, default 100. */
  streamPageSize?: number;
  /** show_version's version string. */
  version?: string;
  /** Extra or replacing handlers, by message name. */
  handlers?: Record<string, Handler>;
  /**
   * Whether the emulated node has /dev/vhost-net, which VPP's tap v2 opens (without it
   * tap_create_v2 fails with SYSCALL_ERROR_1, as VPP does). Default: whether this host has it.
   */
  vhostNet?: boolean;
  /** Log sink (default: keep in memory only, see emulator.logLines). */
  log?: (line: string) => void;
}

interface Conn {
  sock: net.Socket;
  decoder: FrameDecoder;
  /** Replies are encoded into it; what one turn of the event loop produced leaves in one write. */
  writer: FrameWriter;
  reg: RegConn | null;
}

type RegConn = Registration & { conn: Conn };


export class VppEmulator {
  state: VppState;
  readonly registry: ApiRegistry;
  readonly logLines: string[] = [];
  /** Messages received, by name (tests assert e.g. that sockclnt_delete arrived). */
  readonly received: string[] = [];
  private server: net.Server | null = null;
  private readonly conns = new Set<Conn>();
  private readonly registrations = new Map<number, RegConn>();
  private nextRegIndex = 1; // pool index 0 is VPP's listening socket registration
  private idByName = new Map<string, number>();
  private nameById = new Map<number, string>();
  private tableEntries: { index: number; name: string }[] = [];
  private readonly handlers: Record<string, Handler>;
  /** The handler running asynchronously (a hook doing kernel work), if any ... */
  private chain: Promise<void> = Promise.resolve();
  private waiting = false;
  /** ... and the messages that arrived meanwhile: handled in arrival order, as VPP's main thread does. */
  private readonly backlog: Array<[Conn, Buffer]> = [];
  private readonly taps: KernelTaps | undefined;

  constructor(private opts: VppEmulatorOptions) {
    this.taps = opts.kernelTaps ? kernelTaps() : undefined;
    this.registry = opts.registry ?? ApiRegistry.fromDir(opts.apiDir ?? shippedApiDir());
    this.state = new VppState(this.runtimeDir);
    this.handlers = { ...coreHandlers, ...interfaceHandlers, ...memifHandlers, ...tapHandlers, ...ipL2Handlers, ...neighborHandlers, ...natHandlers, ...cnatHandlers, ...vxlanHandlers, ...opts.handlers };
    this.buildTable(opts.table ?? {});
  }

  get socketPath(): string {
    return this.opts.socketPath;
  }

  get runtimeDir(): string {
    return this.opts.runtimeDir ?? '/run/vpp';
  }

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** The message table as sent in sockclnt_create_reply. */
  get messageTable(): readonly { index: number; name: string }[] {
    return this.tableEntries;
  }

  async listen(): Promise<void> {
    // VPP unlinks a stale socket file before binding.
    try {
      if (fs.statSync(this.socketPath).isSocket()) fs.unlinkSync(this.socketPath);
    } catch { /* absent */ }
    const server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => { server.off('error', reject); resolve(); });
    });
    this.server = server;
  }

  /** Stop listening, drop every client, remove the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const c of this.conns) c.sock.destroy();
    this.conns.clear();
    this.registrations.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try { fs.unlinkSync(this.socketPath); } catch { /* gone */ }
    await this.chain;
    this.taps?.close(); // VPP exiting: its tap fds close and the devices go
  }

  /** Like a VPP restart: connections drop, state resets, the table may change; then listen again. */
  async restart(opts: { table?: TableOptions; downMs?: number } = {}): Promise<void> {
    await this.close();
    if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
    this.state = new VppState(this.runtimeDir);
    this.nextRegIndex = 1;
    if (opts.table) this.buildTable(opts.table);
    await this.listen();
  }

  /** Simulate a memif peer connecting/leaving, or a carrier change: sets link state and notifies. */
  setLinkState(swIfIndex: number, up: boolean): void {
    const i = this.state.interfaces.get(swIfIndex);
    if (!i) throw new Error(`emulator: no interface ${swIfIndex}`);
    if (i.linkUp === up) return;
    i.linkUp = up;
    this.interfaceEvent(i, false);
  }

  // ---- table ----

  private buildTable(t: TableOptions): void {
    const table = buildMessageTable(this.registry, t);
    this.idByName = table.idByName;
    this.nameById = table.nameById;
    this.tableEntries = table.entries;
  }


  // ---- connections ----

  private accept(sock: net.Socket): void {
    const writer = new FrameWriter((bytes) => {
      if (sock.destroyed) return true;
      sock.write(bytes);
      return sock.writableLength === 0;
    });
    const conn: Conn = { sock, decoder: new FrameDecoder(), writer, reg: null };
    this.conns.add(conn);
    const onFrame = (b: Buffer, start: number, end: number): void => this.arrived(conn, b.subarray(start, end));
    sock.on('data', (chunk: Buffer) => {
      try {
        conn.decoder.feed(chunk, onFrame);
      } catch (err) {
        this.log(`bad framing from client: ${(err as Error).message}; closing`);
        sock.destroy();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.conns.delete(conn);
      if (conn.reg) this.registrations.delete(conn.reg.handle);
    });
  }

  /** One message at a time: synchronous handlers at once, an asynchronous one holds the rest back. */
  private arrived(conn: Conn, payload: Buffer): void {
    if (this.waiting) {
      this.backlog.push([conn, payload]);
      return;
    }
    this.handle(conn, payload);
    while (!this.waiting && this.backlog.length) {
      const [c, m] = this.backlog.shift()!;
      this.handle(c, m);
    }
  }

  private handle(conn: Conn, payload: Buffer): void {
    let pending: Promise<void> | void;
    try {
      pending = this.dispatch(conn, payload);
    } catch (e) {
      this.log(`handler crash: ${(e as Error).stack}`);
      return;
    }
    if (!pending) return;
    this.waiting = true;
    this.chain = pending.catch((e) => this.log(`handler crash: ${(e as Error).stack}`)).then(() => {
      this.waiting = false;
      if (this.backlog.length) {
        const [c, m] = this.backlog.shift()!;
        this.arrived(c, m);
      }
    });
  }

  private dispatch(conn: Conn, payload: Buffer): Promise<void> | void {
    if (payload.length < 2) {
      this.log(`message of ${payload.length} bytes without id dropped`);
      return;
    }
    const id = payload.readUInt16BE(0);
    const name = this.nameById.get(id);
    if (!name) {
      // VPP: msg_handler_internal "no handler for msg id N", message dropped, no reply.
      this.log(`no handler for msg id ${id}`);
      return;
    }
    const codec = this.registry.message(name);
    let req: Value;
    try {
      req = codec.decode(payload).value;
    } catch (err) {
      this.log(`${name}: cannot decode ${payload.length} bytes: ${(err as Error).message}`);
      return;
    }
    this.received.push(name);
    if (name === 'sockclnt_create') return this.sockclntCreate(conn, req);
    if (name === 'sockclnt_delete') return this.sockclntDelete(conn, req);
    const handler = this.handlers[name];
    if (!handler) {
      this.log(`no handler for msg id ${id} (${name})`);
      return;
    }
    // Handlers answer the registration named by client_index; VPP drops requests whose
    // client_index matches no registration (REPLY_MACRO: "if (!reg) return").
    const reg = hasField(codec, 'client_index') ? this.registrations.get(req.client_index >>> 0) : conn.reg ?? undefined;
    if (!reg) {
      this.log(`${name}: client_index ${req.client_index} is not registered, dropped`);
      return;
    }
    let out: ReturnType<Handler>;
    try {
      out = handler(req, this.context(reg, req.context));
    } catch (err) {
      return this.answer(reg, name, req, undefined, err);
    }
    if (out instanceof Promise) {
      return out.then((v) => this.answer(reg, name, req, v, null), (err) => this.answer(reg, name, req, undefined, err));
    }
    this.answer(reg, name, req, out, null);
  }

  /** The reply to a handled request: its fields with retval 0, a Retval's code, or none. */
  private answer(reg: RegConn, name: string, req: Value, fields: Value | undefined, err: unknown): void {
    if (err !== null) {
      if (!(err instanceof Retval)) throw err;
      this.log(`${name}: retval ${err.code}: ${err.message}`);
      this.sendTo(reg, `${name}_reply`, { ...err.fields, retval: err.code, context: req.context });
    } else if (fields !== undefined) {
      this.sendTo(reg, `${name}_reply`, { retval: 0, ...fields, context: req.context });
    }
  }

  /** The caller's hooks (read per request: tests change them), with the kernel taps after theirs. */
  private hooks(): EmulatorHooks {
    const user = this.opts.hooks ?? {};
    const taps = this.taps;
    if (!taps) return user;
    return {
      ...user,
      onTapCreate: async (r) => { await user.onTapCreate?.(r); await taps.hooks.onTapCreate(r); },
      onTapDelete: async (i) => { await user.onTapDelete?.(i); await taps.hooks.onTapDelete(i); },
    };
  }

  private context(reg: RegConn, context: number): HandlerContext {
    return {
      state: this.state,
      hooks: this.hooks(),
      registration: reg,
      runtimeDir: this.runtimeDir,
      vhostNet: this.opts.vhostNet ?? fs.existsSync('/dev/vhost-net'),
      streamPageSize: this.opts.streamPageSize ?? 100,
      versionString: this.opts.version ?? '26.10-tsvpp-emulator',
      details: (name, value) => this.sendTo(reg, name, { ...value, context }),
      interfaceEvent: (i, deleted) => this.interfaceEvent(i, deleted ?? false),
      log: (m) => this.log(m),
    };
  }

  private sockclntCreate(conn: Conn, req: Value): void {
    const handle = (this.nextRegIndex++ | SOCK_API_REG_HANDLE_BIT) >>> 0;
    const reg: RegConn = { handle, name: String(req.name ?? ''), interfaceEvents: null, conn };
    if (conn.reg) this.registrations.delete(conn.reg.handle);
    conn.reg = reg;
    this.registrations.set(handle, reg);
    this.sendTo(reg, 'sockclnt_create_reply', {
      client_index: 0, context: req.context, response: 0, index: handle,
      count: this.tableEntries.length, message_table: this.tableEntries,
    });
  }

  // socket_api.c: reply response 1 and close the socket; unknown index → response -1.
  private sockclntDelete(conn: Conn, req: Value): void {
    const caller = this.registrations.get(req.client_index >>> 0);
    if (!caller) {
      this.log(`sockclnt_delete: client_index ${req.client_index} is not registered, dropped`);
      return;
    }
    const target = this.registrations.get(req.index >>> 0);
    if (!target) {
      this.sendTo(caller, 'sockclnt_delete_reply', { context: req.context, response: -1 });
      return;
    }
    this.sendTo(caller, 'sockclnt_delete_reply', { context: req.context, response: 1 });
    this.registrations.delete(target.handle);
    target.conn.reg = null;
    target.conn.writer.flush(); // the reply goes out before the close
    target.conn.sock.end();
    void conn;
  }

  private interfaceEvent(i: EmuInterface, deleted: boolean): void {
    this.opts.hooks?.onInterfaceChange?.(i, deleted);
    for (const reg of this.registrations.values()) {
      if (!reg.interfaceEvents) continue;
      this.sendTo(reg, 'sw_interface_event', {
        client_index: reg.handle, pid: reg.interfaceEvents.pid, sw_if_index: i.swIfIndex, flags: statusFlags(i), deleted,
      });
    }
  }

  private sendTo(reg: RegConn, name: string, value: Value): void {
    const id = this.idByName.get(name);
    if (id === undefined) {
      this.log(`cannot send ${name}: not in this emulator's message table`);
      return;
    }
    if (reg.conn.sock.destroyed) return;
    const w = reg.conn.writer;
    try {
      const codec = this.registry.message(name);
      const at = codec.encodeInto(pick(codec, value), w); // first: it may move w to a new slab
      w.dv.setUint16(at, id);
    } catch (err) {
      this.log(`cannot encode ${name}: ${(err as Error).message}`);
      return;
    }
    w.commit();
  }

  private log(line: string): void {
    this.logLines.push(line);
    this.opts.log?.(line);
  }
}

/** Start an emulator listening on opts.socketPath. */
export async function startVppEmulator(opts: VppEmulatorOptions): Promise<VppEmulator> {
  const e = new VppEmulator(opts);
  await e.listen();
  return e;
}

/** Field names per message, looked up once. */
const fieldNames = new WeakMap<MessageCodec, Set<string>>();
function namesOf(codec: MessageCodec): Set<string> {
  let n = fieldNames.get(codec);
  if (!n) fieldNames.set(codec, (n = new Set(codec.fields.map((f) => f.name))));
  return n;
}

function hasField(codec: MessageCodec, f: string): boolean {
  return namesOf(codec).has(f);
}

/** Only the fields the message has (handlers may return extras such as internal notes). */
function pick(codec: MessageCodec, v: Value): Value {
  const names = namesOf(codec);
  for (const k in v) {
    if (names.has(k)) continue;
    const out: Value = {};
    for (const n of names) if (n in v) out[n] = v[n];
    return out;
  }
  return v;
}

