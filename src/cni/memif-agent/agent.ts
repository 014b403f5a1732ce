// Pod-side counterpart of the etcd auto-configuration for pods without VPP: watches
// /vnf-agent/<label>/config/vpp/v2/interfaces/ and keeps one tsvpp memif slave per MEMIF key
// (created on put, replaced when the value changes, closed on delete). The application gets the
// interfaces through `interfaces` and the 'up'/'down' events (MemifInterface: waitConnected(),
// 'connected', connection txBurst/rxBurst).
import { EventEmitter } from 'node:events';
import type { Etcd3, Watcher } from 'etcd3';
import { MemifInterface } from '../../memif/index.js';
import { parseVnfMemifInterface, vnfInterfacesPrefix, type VnfMemifInterface } from '../etcd/vnf-config.js';

export interface MemifAgentOptions {
  etcd: Etcd3;
  label: string;
  /** Maps socket_filename as written (the pod's view) to a local path; default identity. */
  socketPath?: (socketFilename: string) => string;
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
    this.remove(key);
    const memif = new MemifInterface({
      socket: (this.o.socketPath ?? ((s) => s))(cfg.memif.socket_filename), role: 'slave', id: cfg.memif.id,
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
