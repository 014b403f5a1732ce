// IP address management delegated to the standard CNI IPAM plugin `host-local` (Debian package
// containernetworking-plugins, /usr/lib/cni/host-local), invoked per the CNI spec: CNI_* env and a
// network configuration with an `ipam` section on stdin. One host-local network (and so one lease
// directory under dataDir) per tsvpp network; a lease is keyed by (container id, interface name).
// host-local persists leases and the last reserved address in dataDir, so an address is not handed
// out twice, across agent restarts included, until its lease is released on DEL.
import { access, constants, readFile, readdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { runProcess } from '../sys/index.js';

const TIMEOUT_MS = 30_000;

export const DEFAULT_CNI_PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export interface IpamRange {
  /** tsvpp network name (default, or a CustomNetwork); becomes the host-local network name. */
  network: string;
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

export interface Lease { address: string; gateway?: string }

export class IpamError extends Error {
  constructor(readonly op: string, readonly network: string, readonly detail: string, readonly cniCode?: number) {
    super(`host-local ${op} in network ${network} failed${cniCode !== undefined ? ` (CNI code ${cniCode})` : ''}: ${detail}`);
    this.name = 'IpamError';
  }
}

/** One lease file of host-local: the address, and who holds it (undefined: the file names nobody). */
export interface LeaseFile { address: string; containerId?: string; ifName?: string }

/** A lease file's content: container id, line break, interface name (older host-local: the id alone). */
function parseLease(text: string): Omit<LeaseFile, 'address'> {
  const [id, ifName] = text.replace(/\0/g, '').split('\n').map((x) => x.trim());
  return { ...(id ? { containerId: id } : {}), ...(id && ifName ? { ifName } : {}) };
}

export interface LeaseKey { containerId: string; ifName: string; netns?: string }

export async function findPlugin(name: string, dirs: readonly string[]): Promise<string> {
  for (const d of dirs) {
    const p = join(d, name);
    try { await access(p, constants.X_OK); return p; } catch { /* next */ }
  }
  throw new Error(`CNI plugin ${name} not found in ${dirs.join(', ')} (Debian: apt-get install containernetworking-plugins)`);
}

export class HostLocalIpam {
  constructor(readonly pluginPath: string, readonly dataDir: string) {}

  static async create(dataDir: string, dirs: readonly string[] = DEFAULT_CNI_PLUGIN_DIRS): Promise<HostLocalIpam> {
    return new HostLocalIpam(await findPlugin('host-local', dirs), dataDir);
  }

  /** host-local's network name, and so its lease directory under dataDir. */
  private networkName(r: IpamRange): string { return `tsvpp-${r.network}`; }

  private conf(r: IpamRange): string {
    const range: Record<string, string> = { subnet: r.subnet };
    if (r.rangeStart) range.rangeStart = r.rangeStart;
    if (r.rangeEnd) range.rangeEnd = r.rangeEnd;
    if (r.gateway) range.gateway = r.gateway;
    return JSON.stringify({
      cniVersion: '1.0.0',
      name: this.networkName(r),
      type: 'tsvpp',
      ipam: { type: 'host-local', ranges: [[range]], dataDir: this.dataDir },
    });
  }

  /**
   * One host-local call. Started with posix_spawn (src/sys): Node's spawn forks the whole agent on
   * the event loop first, which costs more the bigger the agent is.
   */
  private async invoke(op: 'ADD' | 'DEL' | 'CHECK', r: IpamRange, k: LeaseKey, stdin: string): Promise<string> {
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: op,
      CNI_CONTAINERID: k.containerId,
      // host-local does not enter the netns, but the CNI skeleton insists on one for ADD/CHECK.
      CNI_NETNS: k.netns ?? '/dev/null',
      CNI_IFNAME: k.ifName,
      CNI_PATH: dirname(this.pluginPath),
    };
    let res;
    try { res = await runProcess(this.pluginPath, [], { env, stdin, timeoutMs: TIMEOUT_MS }); } catch (e) {
      throw new IpamError(op, r.network, `${this.pluginPath}: ${(e as Error).message}`);
    }
    if (res.code === 0) return res.stdout;
    let detail = res.stderr.trim() || (res.timedOut ? `no answer within ${TIMEOUT_MS / 1000} s (killed)` : res.signal !== null ? `killed by signal ${res.signal}` : `exit ${res.code}`);
    let code: number | undefined;
    try {
      const e = JSON.parse(res.stdout) as { code?: number; msg?: string; details?: string };
      code = e.code;
      detail = [e.msg, e.details].filter(Boolean).join(': ') || detail;
    } catch { /* not a CNI error result */ }
    throw new IpamError(op, r.network, detail, code);
  }

  /** Allocates one address for (containerId, ifName) in `r`. */
  async allocate(r: IpamRange, k: LeaseKey): Promise<Lease> {
    const out = await this.invoke('ADD', r, k, this.conf(r));
    let res: { ips?: Array<{ address: string; gateway?: string }> };
    try { res = JSON.parse(out); } catch (e) { throw new IpamError('ADD', r.network, `unparseable result ${JSON.stringify(out)}`); }
    const ip = res.ips?.[0];
    if (!ip) throw new IpamError('ADD', r.network, `result without ips: ${out.trim()}`);
    return { address: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}) };
  }

  /** Releases the lease of (containerId, ifName); succeeds when there is none. */
  async release(r: IpamRange, k: LeaseKey): Promise<void> {
    await this.invoke('DEL', r, k, this.conf(r));
  }

  /**
   * host-local's leases in `r`, read from its disk store without starting it: `<dataDir>/<network>/
   * <address>` holding "container id", CR LF, "interface name" (no lock, no ids of its own: the
   * names that are not addresses are its lock and last-reserved files). A file that names no
   * container (host-local writes without fsync, so a node crash can leave it empty) has no
   * containerId. Throws when a lease file cannot be read.
   */
  async listLeases(r: IpamRange): Promise<LeaseFile[]> {
    const dir = join(this.dataDir, this.networkName(r));
    let names: string[];
    try { names = await readdir(dir); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: LeaseFile[] = [];
    for (const address of names.filter((n) => isIP(n) !== 0).sort()) {
      let text: string;
      try { text = await readFile(join(dir, address), 'utf8'); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw new Error(`host-local lease ${join(dir, address)}: ${(e as Error).message}`);
      }
      out.push({ address, ...parseLease(text) });
    }
    return out;
  }

  /**
   * Whether host-local may hold a lease of (containerId, ifName) in `r`, from its lease files. False
   * only when it certainly holds none: the network's directory is missing, or no lease file names
   * the container. A DEL with nothing recorded (a runtime's second DEL) asks this before starting
   * host-local to release.
   */
  async mayHold(r: IpamRange, k: { containerId: string; ifName: string }): Promise<boolean> {
    let leases: LeaseFile[];
    try { leases = await this.listLeases(r); } catch { return true; } // unreadable: let host-local decide
    return leases.some((l) => l.containerId === k.containerId && (l.ifName === undefined || l.ifName === k.ifName));
  }

  /**
   * Deletes the lease file of `address` in `r` if it names no container: host-local releases by
   * container id, so such a file would keep its address reserved for ever. Only while no host-local
   * of this dataDir runs (host-local's own lock is not taken): the agent calls it in the pipeline's
   * turn, and it is the only one to start host-local on its dataDir. Returns whether it deleted it.
   */
  async dropOwnerless(r: IpamRange, address: string): Promise<boolean> {
    if (isIP(address) === 0) throw new Error(`dropOwnerless: ${JSON.stringify(address)} is not an address`);
    const file = join(this.dataDir, this.networkName(r), address);
    let text: string;
    try { text = await readFile(file, 'utf8'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (parseLease(text).containerId !== undefined) return false;
    await rm(file, { force: true });
    return true;
  }

  /** Fails unless (containerId, ifName) holds `address` in `r`. */
  async check(r: IpamRange, k: LeaseKey, address: string): Promise<void> {
    const conf = JSON.parse(this.conf(r)) as Record<string, unknown>;
    conf.prevResult = { cniVersion: '1.0.0', ips: [{ address }] };
    await this.invoke('CHECK', r, k, JSON.stringify(conf));
  }
}
