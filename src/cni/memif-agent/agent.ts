// Pod-side counterpart of the etcd auto-configuration for pods without VPP: watches
// /vnf-agent/<label>/config/vpp/v2/interfaces/ and keeps one tsvpp memif slave per MEMIF key
// (created on put, replaced when the value changes, closed on delete). The application gets the
// interfaces through `interfaces` and the 'up'/'down' events (MemifInterface: waitConnected(),
// 'connected', connection txBurst/rxBurst).
import { EventEmitter } from 'node:events';
import { join, relative, resolve, sep } from 'node:path';
import type { Etcd3, Watcher } from 'etcd3';
import { MemifInterface } from '../../memif/index.js';
import { parseVnfMemifInterface, vnfInterfacesPrefix, type VnfMemifInterface } from '../etcd/vnf-config.js';

export interface MemifAgentOptions {
  etcd: Etcd3;
  label: string;
  /** The pod's filesystem as mounted here: socket_filename (the pod's view, e.g.
   *  /run/vpp/memif.sock) is looked up below it. Default: used as written. */
  socketRoot?: string;
  log?: (m: string) => void;
}

export interface AgentInterface { key: string; config: VnfMemifInterface; memif: MemifInterface; raw: string }

export class MemifAgent extends EventEmitter {
  readonly prefix: string;
  readonly interfaces = new Map<string, AgentInterface>();
  private watcher: Watcher | undefined;
  private readonly log: (m: string) => void;

  constructor(readonly o: MemifAgentOptions) {
    super();
    this.prefix = vnfInterfacesPrefix(o.label);
    this.log = o.log ?? (() => {});
  }

  async start(): Promise<void> {
    this.watcher = await this.o.etcd.watch().prefix(this.prefix).create();
    this.watcher.on('put', (kv) => this.apply(kv.key.toString(), kv.value.toString()));
    this.watcher.on('delete', (kv) => this.remove(kv.key.toString()));
    this.watcher.on('error', (e) => this.log(`watch ${this.prefix}: ${(e as Error).message}`));
    const all = await this.o.etcd.getAll().prefix(this.prefix).strings();
    for (const [k, v] of Object.entries(all)) this.apply(k, v);
  }

  private apply(key: string, raw: string): void {
    const have = this.interfaces.get(key);
    if (have?.raw === raw) return;
    let cfg: VnfMemifInterface;
    try { cfg = parseVnfMemifInterface(key, raw); } catch (e) { this.log((e as Error).message); this.remove(key); return; }
    if (cfg.memif.master) { this.log(`${key}: master memifs are not served by the memif-agent`); return; }
    let socket = cfg.memif.socket_filename;
    if (this.o.socketRoot !== undefined) {
      try { socket = underSocketRoot(this.o.socketRoot, socket); } catch (e) { this.log(`${key}: ${(e as Error).message}`); this.remove(key); return; }
    }
    this.remove(key);
    const memif = new MemifInterface({
      socket, role: 'slave', id: cfg.memif.id,
      secret: cfg.memif.secret, ifName: cfg.name, reconnectMs: 500,
    });
    const ai: AgentInterface = { key, config: cfg, memif, raw };
    this.interfaces.set(key, ai);
    memif.on('connected', () => this.emit('up', ai));
    memif.on('disconnected', () => this.emit('down', ai));
    this.emit('added', ai);
    this.log(`${cfg.name}: slave id ${cfg.memif.id} on ${cfg.memif.socket_filename}`);
  }

  private remove(key: string): void {
    const ai = this.interfaces.get(key);
    if (!ai) return;
    this.interfaces.delete(key);
    ai.memif.close('configuration removed');
    this.emit('removed', ai);
    this.log(`${ai.config.name}: removed`);
  }

  async close(): Promise<void> {
    await this.watcher?.cancel();
    for (const k of [...this.interfaces.keys()]) this.remove(k);
  }
}

/**
 * Where socket_filename (as the pod sees it) is below `root`. A value whose `..` would leave the
 * root (or name the root itself) is refused: keys in etcd must not point the agent at sockets
 * outside the pod. Abstract sockets (`@name`) are not files and pass unchanged.
 */
export function underSocketRoot(root: string, socketFilename: string): string {
  if (socketFilename.startsWith('@')) return socketFilename;
  const base = resolve(root);
  const path = join(base, socketFilename);
  const rel = relative(base, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`)) {
    throw new Error(`memif.socket_filename ${JSON.stringify(socketFilename)} is not below the socket root ${base}`);
  }
  return path;
}
