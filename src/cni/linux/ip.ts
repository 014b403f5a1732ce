// Linux network configuration through iproute2's `ip`, run asynchronously with execFile (never a
// shell, never blocking the agent's event loop). Every failure is an IpError naming the command
// line and ip's stderr.
//
// A network namespace is referred to as CNI gives it: a path (/var/run/netns/NAME,
// /proc/PID/ns/net, ...) or a bare name under /var/run/netns. Names and /var/run/netns paths use
// `ip -n NAME`; other paths run `ip` inside the namespace through `nsenter --net=PATH`.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';

export const IP = process.env.TSVPP_IP ?? 'ip';
export const NSENTER = process.env.TSVPP_NSENTER ?? 'nsenter';

/**
 * `ip` as an absolute path, for nsenter to run: busybox's nsenter (the agent image has no
 * util-linux) runs its own `ip` applet for a bare name, which knows no `-j`.
 */
let ipPath: string | undefined;
function ipAbsolute(): string {
  if (ipPath) return ipPath;
  if (isAbsolute(IP)) return (ipPath = IP);
  for (const d of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try { accessSync(join(d, IP), constants.X_OK); return (ipPath = join(d, IP)); } catch { /* next */ }
  }
  return IP; // not found: let the spawn report it
}
const TIMEOUT_MS = 30_000;

export class IpError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly exitCode: number | string | undefined) {
    super(`\`${command}\` failed${exitCode !== undefined ? ` (exit ${exitCode})` : ''}: ${stderr.trim() || '(no stderr)'}`);
    this.name = 'IpError';
  }
}

function exec(file: string, args: string[]): Promise<string> {
  const cmd = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { code?: number | string };
        reject(new IpError(cmd, stderr || e.message, e.code));
      } else resolve(stdout);
    });
  });
}

const NETNS_DIRS = ['/var/run/netns', '/run/netns'];

/** `ip` argument prefix for running in `netns` (undefined = the agent's own namespace). */
function inNs(netns: string | undefined, args: string[]): [string, string[]] {
  if (netns === undefined) return [IP, args];
  if (!netns.includes('/')) return [IP, ['-n', netns, ...args]];
  if (NETNS_DIRS.includes(dirname(netns))) return [IP, ['-n', basename(netns), ...args]];
  return [NSENTER, [`--net=${netns}`, '--', ipAbsolute(), ...args]];
}

export function ip(args: string[], netns?: string): Promise<string> {
  const [file, argv] = inNs(netns, args);
  return exec(file, argv);
}

async function ipJson<T>(args: string[], netns?: string): Promise<T> {
  const out = await ip(['-j', ...args], netns);
  try { return JSON.parse(out.trim() === '' ? '[]' : out) as T; } catch (e) {
    throw new IpError(`ip -j ${args.join(' ')}`, `unparseable JSON output: ${(e as Error).message}`, undefined);
  }
}

/** The path `ip` uses for a namespace reference. */
export function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `/var/run/netns/${netns}`;
}

export async function netnsExists(netns: string): Promise<boolean> {
  try { await stat(netnsPath(netns)); return true; } catch { return false; }
}

export async function addNetns(name: string): Promise<void> { await ip(['netns', 'add', name]); }
export async function deleteNetns(name: string): Promise<void> { await ip(['netns', 'delete', name]); }

export interface Link {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu?: number;
  operstate?: string;
  link_type?: string;
  address?: string;
  linkinfo?: { info_kind?: string };
}

export function listLinks(netns?: string): Promise<Link[]> {
  return ipJson<Link[]>(['-d', 'link', 'show'], netns);
}

export async function getLink(name: string, netns?: string): Promise<Link | undefined> {
  return (await listLinks(netns)).find((l) => l.ifname === name);
}

/**
 * Creates a veth pair whose peer is created directly inside `netns` under its final name, so a
 * pod-side name never clashes with host interfaces.
 */
export async function createVethPair(o: { hostName: string; podName: string; netns: string; mtu?: number }): Promise<void> {
  const mtu = o.mtu ? ['mtu', String(o.mtu)] : [];
  await ip(['link', 'add', o.hostName, ...mtu, 'type', 'veth', 'peer', 'name', o.podName, ...mtu, 'netns', netnsPath(o.netns)]);
}

/**
 * Moves a link of this namespace into `netns` under `newName` (by the namespace's path: `ip` opens
 * it and passes the fd, so any path length works). Moving takes the link down.
 */
export async function moveLink(o: { name: string; netns: string; newName: string }): Promise<void> {
  await ip(['link', 'set', 'dev', o.name, 'netns', netnsPath(o.netns), 'name', o.newName]);
}

export async function setLinkUp(name: string, up: boolean, netns?: string): Promise<void> {
  await ip(['link', 'set', 'dev', name, up ? 'up' : 'down'], netns);
}

export async function deleteLink(name: string, netns?: string): Promise<void> {
  await ip(['link', 'delete', 'dev', name], netns);
}

/** Deletes a link if it exists; true when something was deleted. */
export async function deleteLinkIfExists(name: string, netns?: string): Promise<boolean> {
  if (netns !== undefined && !(await netnsExists(netns))) return false;
  if (!(await getLink(name, netns))) return false;
  try { await deleteLink(name, netns); } catch (e) {
    if (!(await getLink(name, netns))) return false; // raced with the peer's deletion
    throw e;
  }
  return true;
}

export async function addAddress(netns: string | undefined, dev: string, cidr: string): Promise<void> {
  await ip(['addr', 'add', cidr, 'dev', dev], netns);
}

export interface RouteSpec { dst: string; via?: string; dev: string; scope?: 'link' | 'global' | 'host'; onlink?: boolean }

export async function addRoute(netns: string | undefined, r: RouteSpec): Promise<void> {
  await ip(['route', 'add', r.dst, ...(r.via ? ['via', r.via] : []), 'dev', r.dev, ...(r.scope ? ['scope', r.scope] : []), ...(r.onlink ? ['onlink'] : [])], netns);
}

export async function addNeighbor(netns: string | undefined, o: { ip: string; mac: string; dev: string }): Promise<void> {
  await ip(['neigh', 'replace', o.ip, 'lladdr', o.mac, 'dev', o.dev, 'nud', 'permanent'], netns);
}

export interface AddrInfo { ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number; scope?: string }> }

export function listAddresses(netns?: string): Promise<AddrInfo[]> {
  return ipJson<AddrInfo[]>(['addr', 'show'], netns);
}

export interface RouteInfo { dst: string; gateway?: string; dev?: string; scope?: string; flags?: string[] }

export function listRoutes(netns?: string): Promise<RouteInfo[]> {
  return ipJson<RouteInfo[]>(['route', 'show'], netns);
}

/** A tap device (used by tests that stand in for VPP's tap_create_v2 side effect). */
export async function createTapDevice(name: string, netns?: string): Promise<void> {
  await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap'], netns);
}
