// Pod-side counterpart of the etcd auto-configuration for pods without VPP: watches
// /vnf-agent/<label>/config/vpp/v2/ and keeps one tsvpp memif slave per MEMIF interface key
// (created on put, replaced when the value changes, closed on delete). An interface with an
// address gets an IpHost while it is connected: that address (and phys_address as its MAC),
// the ARP keys of that interface as static neighbours, its route keys as routes; it answers ARP
// and ping and can ping (`ping`), which proves the path through the vswitch. The application gets
// the interfaces through `interfaces` and the 'up'/'down' events (MemifInterface: waitConnected(),
// 'connected', connection txBurst/rxBurst); with an address the IpHost reads the ring.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join, relative, resolve, sep } from 'node:path';
import type { Etcd3, Watcher } from 'etcd3';
import { MemifInterface, type MemifConnection } from '../../memif/index.js';
import {
  parseVnfArpEntry, parseVnfMemifInterface, parseVnfRoute, vnfKeyKind, vnfVppPrefix, type VnfArpEntry, type VnfMemifInterface, type VnfRoute,
} from '../etcd/vnf-config.js';
import { exhaustive } from '../exhaustive.js';
import { IpHost, type PingReply } from './ip-host.js';

export interface MemifAgentOptions {
  etcd: Etcd3;
  label: string;
  /** The pod's filesystem as mounted here: socket_filename (the pod's view, e.g.
   *  /run/vpp/memif.sock) is looked up below it. Default: used as written. */
  socketRoot?: string;
  log?: (m: string) => void;
}

export interface AgentInterface {
  key: string;
  config: VnfMemifInterface;
  memif: MemifInterface;
  raw: string;
  /** The interface's IPv4 host while it is connected, when the config gives it an address. */
  host?: IpHost;
}

export class MemifAgent extends EventEmitter {
  readonly prefix: string;
  readonly interfaces = new Map<string, AgentInterface>();
  /** ARP entries and routes by key, applied to the IpHost of the interface they name. */
  private readonly arps = new Map<string, VnfArpEntry>();
  private readonly routes = new Map<string, VnfRoute>();
  private seq = 0;
  private watcher: Watcher | undefined;
  private readonly log: (m: string) => void;

  constructor(readonly o: MemifAgentOptions) {
    super();
    this.prefix = vnfVppPrefix(o.label);
    this.log = o.log ?? (() => {});
  }

  async start(): Promise<void> {
    this.watcher = await this.o.etcd.watch().prefix(this.prefix).create();
    this.watcher.on('put', (kv) => this.put(kv.key.toString(), kv.value.toString()));
    this.watcher.on('delete', (kv) => this.delete(kv.key.toString()));
    this.watcher.on('error', (e) => this.log(`watch ${this.prefix}: ${(e as Error).message}`));
    const all = await this.o.etcd.getAll().prefix(this.prefix).strings();
    // Interfaces first: ARP entries and routes name them.
    const order = Object.entries(all).sort(([a], [b]) => Number(vnfKeyKind(this.o.label, b) === 'interface') - Number(vnfKeyKind(this.o.label, a) === 'interface'));
    for (const [k, v] of order) this.put(k, v);
  }

  private put(key: string, raw: string): void {
    const kind = vnfKeyKind(this.o.label, key);
    switch (kind) {
      case 'interface': return this.apply(key, raw);
      case 'arp': case 'route':
        try {
          if (kind === 'arp') this.arps.set(key, parseVnfArpEntry(key, raw));
          else this.routes.set(key, parseVnfRoute(key, raw));
        } catch (e) { this.log((e as Error).message); this.arps.delete(key); this.routes.delete(key); }
        this.configureHosts();
        return;
      case 'other': return; // configuration the memif-agent does not serve
      default: exhaustive(kind, 'vpp-agent key kind');
    }
  }

  private delete(key: string): void {
    if (this.arps.delete(key) || this.routes.delete(key)) { this.configureHosts(); return; }
    this.remove(key);
  }

  /** ARP entries and routes onto the hosts of the interfaces they name (what the config has now). */
  private configureHosts(): void {
    for (const ai of this.interfaces.values()) {
      const h = ai.host;
      if (!h) continue;
      const name = ai.config.name;
      h.clearNeighbors();
      for (const e of this.arps.values()) if (e.interface === name) h.setNeighbor(e.ip_address, e.phys_address);
      h.setRoutes([...this.routes.values()].filter((r) => r.outgoing_interface === name).map((r) => ({ dst: r.dst_network, via: r.next_hop_addr })));
    }
  }

  private startHost(ai: AgentInterface, conn: MemifConnection): void {
    const addr = ai.config.ip_addresses?.[0];
    if (!addr || ai.config.memif.mode !== 'ETHERNET') return;
    const mac = ai.config.phys_address ?? ['02', ...randomBytes(5).toString('hex').match(/../g)!].join(':');
    try { ai.host = new IpHost(conn, { mac, ip: addr.split('/')[0]! }); } catch (e) { this.log(`${ai.key}: ${(e as Error).message}`); return; }
    this.configureHosts();
    ai.host.start();
  }

  /** ICMP echo from interface `name`'s address to `target`, through its routes; resolves with the reply. */
  async ping(name: string, target: string, timeoutMs = 5000): Promise<PingReply> {
    const ai = [...this.interfaces.values()].find((x) => x.config.name === name);
    if (!ai) throw new Error(`ping ${target}: no interface ${name}`);
    if (!ai.host) throw new Error(`ping ${target}: interface ${name} ${ai.config.ip_addresses?.length ? 'is not connected' : 'has no address'}`);
    this.seq = (this.seq + 1) & 0xffff;
    return ai.host.ping(target, this.seq, timeoutMs);
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
    memif.on('connected', (conn: MemifConnection) => { this.startHost(ai, conn); this.emit('up', ai); });
    memif.on('disconnected', () => { ai.host?.stop(); delete ai.host; this.emit('down', ai); });
    this.emit('added', ai);
    this.log(`${cfg.name}: slave id ${cfg.memif.id} on ${cfg.memif.socket_filename}`);
  }

  private remove(key: string): void {
    const ai = this.interfaces.get(key);
    if (!ai) return;
    this.interfaces.delete(key);
    ai.host?.stop();
    delete ai.host;
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
