// The host (Linux) half of the cluster data path: the host end of the VPP ↔ host link, IP
// forwarding, the overlay's VXLAN device with its neighbour and forwarding entries, the routes the
// agent owns in the main table (marked `proto 116`, so they are found again after a restart
// without any state), and the agent's nftables table. Links, addresses, routes and neighbours over
// rtnetlink (src/cni/linux/ip.ts); the nftables table and the forwarding switch through `nft` and
// `sysctl`, the one part with no rtnetlink request. All in the agent's own network namespace, or in
// `netns` (tests run several "nodes" on one machine that way; the programs then run inside it
// through nsenter).
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../../sys/index.js';
import {
  createVeth, deleteLinkIfExists, deleteOwnedRoute, ensureVxlan, getLink, listOwnedRoutes, netnsPath, replaceOwnedRoute, setLinkUp, setOnlyAddress, setVxlanPeers,
} from '../linux/ip.js';
import { HOST_ROUTE_PROTO, NFT_TABLE, type PlannedHostRoute, type PlannedOverlay } from './plan.js';

export interface HostNet {
  enableForwarding(): Promise<void>;
  linkExists(name: string): Promise<boolean>;
  /** A veth pair with both ends in the host namespace. */
  createVethPair(a: string, b: string): Promise<void>;
  deleteLinkIfExists(name: string): Promise<boolean>;
  setLinkUp(name: string): Promise<void>;
  linkMtu(name: string): Promise<number>;
  /** Makes `cidr` the only IPv4 address of `dev`. */
  setOnlyAddress(dev: string, cidr: string): Promise<void>;
  /** The overlay's VXLAN device as planned, up and addressed (made anew when its settings differ). */
  ensureVxlan(d: PlannedOverlay['device']): Promise<'created' | 'replaced' | 'ok'>;
  /** The device's neighbour and forwarding entries: exactly the peers'. */
  setVxlanPeers(dev: string, peers: PlannedOverlay['peers']): Promise<{ added: string[]; deleted: string[] }>;
  /** The agent's routes (proto 116) in the main table. */
  listRoutes(): Promise<PlannedHostRoute[]>;
  replaceRoute(r: PlannedHostRoute): Promise<void>;
  /** Deletes the agent's route to dst; false when there was none. */
  deleteRoute(dst: string): Promise<boolean>;
  /** `nft list table ip tsvpp`, or undefined when the table does not exist. */
  nftList(): Promise<string | undefined>;
  /** Replaces the table with `text` in one transaction. */
  nftReplace(text: string): Promise<void>;
  nftDelete(): Promise<boolean>;
}

/** A program that failed: its command line, exit code and stderr. */
export class HostCommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly exitCode: number | string | undefined) {
    super(`\`${command}\` failed${exitCode !== undefined ? ` (exit ${exitCode})` : ''}: ${stderr.trim() || '(no stderr)'}`);
    this.name = 'HostCommandError';
  }
}

const TIMEOUT_MS = 30_000;

/** Where `name` is on PATH (resolved once: runProcess takes absolute paths only). */
const found = new Map<string, string>();
function onPath(name: string): string {
  let p = found.get(name);
  if (p) return p;
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (!dir) continue;
    try { accessSync(join(dir, name), constants.X_OK); p = join(dir, name); break; } catch { /* next */ }
  }
  if (!p) throw new HostCommandError(name, `${name} not found on PATH (${process.env.PATH ?? ''})`, undefined);
  found.set(name, p);
  return p;
}

/**
 * `file args` in `netns` (undefined: this one), with optional stdin; resolves with stdout. Through
 * src/sys's posix_spawn like host-local: Node's spawn would fork the whole agent on the event loop.
 */
async function run(netns: string | undefined, file: string, args: string[], input?: string): Promise<string> {
  const [f, a] = netns === undefined ? [file, args] : ['nsenter', [`--net=${netnsPath(netns)}`, '--', file, ...args]];
  const cmd = [f, ...a].join(' ');
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  const r = await runProcess(onPath(f), a, { env, timeoutMs: TIMEOUT_MS, ...(input !== undefined ? { stdin: input } : {}) });
  if (r.timedOut) throw new HostCommandError(cmd, `killed after ${TIMEOUT_MS} ms`, undefined);
  if (r.code !== 0) throw new HostCommandError(cmd, r.stderr, r.code ?? `signal ${r.signal}`);
  return r.stdout;
}

/** nft's answer for a table that is not there. */
const noTable = (e: unknown) => e instanceof HostCommandError && /No such file or directory|does not exist/i.test(e.stderr);

export function linuxHost(netns?: string): HostNet {
  return {
    async enableForwarding() { await run(netns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']); },
    async linkExists(name) { return (await getLink(name, netns)) !== undefined; },
    async createVethPair(a, b) { await createVeth({ name: a, peer: b, ...(netns !== undefined ? { netns } : {}) }); },
    deleteLinkIfExists: (name) => deleteLinkIfExists(name, netns),
    async setLinkUp(name) { await setLinkUp(name, true, netns); },
    async linkMtu(name) {
      const l = await getLink(name, netns);
      if (l?.mtu === undefined) throw new Error(`link ${name}${netns ? ` in ${netns}` : ''}: no such link, or no MTU`);
      return l.mtu;
    },
    setOnlyAddress: (dev, cidr) => setOnlyAddress(netns, dev, cidr),
    ensureVxlan: (d) => ensureVxlan(netns, d),
    setVxlanPeers: (dev, peers) => setVxlanPeers(netns, dev, peers),
    async listRoutes() { return listOwnedRoutes(netns, HOST_ROUTE_PROTO); },
    replaceRoute: (r) => replaceOwnedRoute(netns, r, HOST_ROUTE_PROTO),
    deleteRoute: (dst) => deleteOwnedRoute(netns, dst, HOST_ROUTE_PROTO),
    async nftList() {
      try { return await run(netns, 'nft', ['list', 'table', 'ip', NFT_TABLE]); } catch (e) { if (noTable(e)) return undefined; throw e; }
    },
    async nftReplace(text) {
      // "add" makes the delete succeed when the table is new; all three lines are one transaction.
      await run(netns, 'nft', ['-f', '-'], `table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n${text}`);
    },
    async nftDelete() {
      try { await run(netns, 'nft', ['delete', 'table', 'ip', NFT_TABLE]); return true; } catch (e) { if (noTable(e)) return false; throw e; }
    },
  };
}
