// Linux network configuration of the node and its pods over rtnetlink (src/sys): links, veth
// pairs, link groups, addresses, routes, neighbours, tc ingress redirects, named network
// namespaces and taps. No process is started; what `ip` would print is mirrored in the shapes
// returned (Link, AddrInfo, RouteInfo), so reports read the same. Every failure is a NetlinkError or SysError naming the operation, the interface,
// the namespace and the errno (with the kernel's own reason when it gives one).
//
// A network namespace is referred to as CNI gives it: a path (/var/run/netns/NAME,
// /proc/PID/ns/net, ...) or a bare name under /var/run/netns. Requests about the agent's own
// namespace go through one long-lived socket; requests about another one through a socket opened
// inside it (src/sys/netns.ts) for the duration of the call.
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NetlinkError, NetlinkSocket, createNetns, createPersistentTap, deleteNetns as unbindNetns, openNetlinkIn, rtnl, withNetnsFd,
  type NetlinkCall,
} from '../../sys/index.js';

export const NETNS_DIR = '/var/run/netns';

/** The path of a namespace reference (a bare name lives under /var/run/netns). */
export function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `${NETNS_DIR}/${netns}`;
}

export async function netnsExists(netns: string): Promise<boolean> {
  try { await stat(netnsPath(netns)); return true; } catch { return false; }
}

/** `ip netns add NAME`. */
export async function addNetns(name: string): Promise<void> { await createNetns(netnsPath(name)); }
/** `ip netns delete NAME`. */
export async function deleteNetns(name: string): Promise<void> { await unbindNetns(netnsPath(name)); }

/** Idle sockets of the agent's own namespace: one per request in flight, so that requests the
 *  kernel is slow to carry out (a link deletion waits out an RCU grace period) overlap. */
const idle: NetlinkSocket[] = [];

/** Closes the idle sockets of the agent's namespace (the next request opens one again). */
export function closeIdleSockets(): void {
  for (const s of idle.splice(0)) s.close();
}

/** Runs `fn` with a socket in `netns` (undefined: the agent's own namespace). */
async function inNs<T>(netns: string | undefined, fn: (s: NetlinkSocket, where: string) => Promise<T>): Promise<T> {
  if (netns === undefined) {
    const s = idle.pop() ?? NetlinkSocket.open('the agent\'s namespace');
    try { return await fn(s, ''); } finally { if (idle.length < 4) idle.push(s); else s.close(); }
  }
  const s = await openNetlinkIn(netnsPath(netns));
  try { return await fn(s, ` in ${netns}`); } finally { s.close(); }
}

const isErrno = (e: unknown, code: string) => e instanceof NetlinkError && e.code === code;

/** A link as `ip -j -d link show` describes it (the fields this package reads). */
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

function toLink(m: rtnl.LinkMessage): Link {
  return {
    ifindex: m.index, ifname: m.name, flags: rtnl.linkFlagNames(m.flags), link_type: rtnl.linkTypeName(m.type),
    ...(m.mtu !== undefined ? { mtu: m.mtu } : {}),
    ...(m.operstate !== undefined ? { operstate: rtnl.operstateName(m.operstate) } : {}),
    ...(m.address !== undefined ? { address: m.address } : {}),
    ...(m.kind !== undefined ? { linkinfo: { info_kind: m.kind } } : {}),
  };
}

async function dumpLinks(s: NetlinkSocket, where: string): Promise<rtnl.LinkMessage[]> {
  return (await s.dump(rtnl.dumpLinks(), `list links${where}`)).map((m) => rtnl.parseLink(m.payload));
}

export function listLinks(netns?: string): Promise<Link[]> {
  return inNs(netns, async (s, where) => (await dumpLinks(s, where)).map(toLink));
}

/** The link named `name`, or undefined (ENODEV). */
async function findLink(s: NetlinkSocket, name: string, where: string): Promise<rtnl.LinkMessage | undefined> {
  try {
    const [m] = await s.call(rtnl.getLink({ name }), `get link ${name}${where}`);
    return m && rtnl.parseLink(m.payload);
  } catch (e) {
    if (isErrno(e, 'ENODEV')) return undefined;
    throw e;
  }
}

/** The link named `name`; a NetlinkError ENODEV naming it when there is none. */
async function linkIndex(s: NetlinkSocket, name: string, where: string): Promise<rtnl.LinkMessage> {
  const [m] = await s.call(rtnl.getLink({ name }), `get link ${name}${where}`);
  if (!m) throw new Error(`get link ${name}${where}: the kernel answered without the link`);
  return rtnl.parseLink(m.payload);
}

export async function getLink(name: string, netns?: string): Promise<Link | undefined> {
  return inNs(netns, async (s, where) => {
    const m = await findLink(s, name, where);
    return m && toLink(m);
  });
}

/**
 * Creates a veth pair whose peer is created directly inside `netns` under its final name, so a
 * pod-side name never clashes with host interfaces (without `netns`: in the agent's namespace,
 * down). `up` brings the host end up in the same request; `podMac` is the pod end's MAC (else the
 * kernel picks one); `noGso` makes the pod's kernel segment what it sends itself (IFLA_GSO_MAX_SEGS 1);
 * `group` puts both ends in that link group (IFLA_GROUP), so deleteLinkGroup removes them together.
 */
export async function createVethPair(o: {
  hostName: string; podName: string; netns?: string; mtu?: number; up?: boolean; podMac?: string; noGso?: boolean; group?: number;
}): Promise<void> {
  const both = { ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), ...(o.group !== undefined ? { group: o.group } : {}) };
  const create = (fd?: number) => inNs(undefined, (s) => s.call(
    rtnl.createVeth({ name: o.hostName, ...both, ...(o.up ? { up: true } : {}) }, {
      name: o.podName, ...both, ...(fd !== undefined ? { netnsFd: fd } : {}), ...(o.podMac !== undefined ? { address: o.podMac } : {}), ...(o.noGso ? { gsoMaxSegs: 1 } : {}),
    }),
    `create veth ${o.hostName} with peer ${o.podName}${o.netns !== undefined ? ` in ${o.netns}` : ''}`,
  ));
  await (o.netns === undefined ? create() : withNetnsFd(netnsPath(o.netns), create));
}

/** A veth pair with both ends in `netns` (or the agent's namespace), both up when `up`. */
export async function createVeth(o: { name: string; peer: string; netns?: string; up?: boolean }): Promise<void> {
  await inNs(o.netns, (s, where) => s.all([
    { req: rtnl.createVeth({ name: o.name, ...(o.up ? { up: true } : {}) }, { name: o.peer }), what: `create veth ${o.name} with peer ${o.peer}${where}` },
    // Not in the create: the peer is opened before its other end exists (veth_open: ENOTCONN).
    ...(o.up ? [{ req: rtnl.setLink({ name: o.peer }, { up: true }), what: `set link ${o.peer} up${where}` }] : []),
  ]));
}

export async function setLinkUp(name: string, up: boolean, netns?: string): Promise<void> {
  await inNs(netns, (s, where) => s.call(rtnl.setLink({ name }, { up }), `set link ${name} ${up ? 'up' : 'down'}${where}`));
}

/**
 * Moves a link of the agent's namespace into `netns` under `newName` (by an fd of the namespace,
 * so any path works). Moving takes the link down.
 */
export async function moveLink(o: { name: string; netns: string; newName: string }): Promise<void> {
  await inNs(undefined, async (s) => {
    const l = await linkIndex(s, o.name, '');
    await withNetnsFd(netnsPath(o.netns), (fd) => s.call(rtnl.setLink({ index: l.index }, { netnsFd: fd, name: o.newName }), `move link ${o.name} into ${o.netns} as ${o.newName}`));
  });
}

export async function deleteLink(name: string, netns?: string): Promise<void> {
  await inNs(netns, (s, where) => s.call(rtnl.deleteLink({ name }), `delete link ${name}${where}`));
}

/** Deletes a link if it exists; true when something was deleted. */
export async function deleteLinkIfExists(name: string, netns?: string): Promise<boolean> {
  if (netns !== undefined && !(await netnsExists(netns))) return false;
  try {
    await deleteLink(name, netns);
    return true;
  } catch (e) {
    // ENODEV: not there (or gone with its peer meanwhile). ENOENT: the namespace went meanwhile.
    if (isErrno(e, 'ENODEV') || (netns !== undefined && (e as { code?: string }).code === 'ENOENT')) return false;
    throw e;
  }
}

/**
 * Deletes every link of `group` in `netns` (undefined: the agent's namespace) with one
 * RTM_DELLINK (`ip link del group G`): the kernel unregisters them as one batch, waiting out one
 * set of RCU grace periods for all instead of one per link, and a veth's other end (wherever it
 * is) goes with it. Returns how many links the group had when listed just before; 0 (and no
 * error) when it had none or they went meanwhile. A group holding a link that cannot be deleted
 * (a physical device) is refused whole (EOPNOTSUPP).
 *
 * With `late`, it returns as soon as the kernel has announced every one of those links' removal
 * (RTM_DELLINK on a socket of the namespace that joined RTNLGRP_LINK first): by then they are
 * unregistered, gone from the namespace with their names free, and whatever redirected to them
 * points nowhere. The request's own write returns only after the kernel's RCU wait that follows
 * (an rcu_barrier once the rtnl lock is released: 15-50 ms on the VMs measured), which finishes
 * in the background; an error it still reports goes to `late`. Without `late`, or when the
 * notifications cannot be read, it returns with the request's answer.
 */
export async function deleteLinkGroup(group: number, netns?: string, late?: (e: Error) => void): Promise<number> {
  const where = netns === undefined ? '' : ` in ${netns}`;
  const open = async (): Promise<NetlinkSocket> => (netns === undefined ? NetlinkSocket.open('the agent\'s namespace') : openNetlinkIn(netnsPath(netns)));
  const opened = await Promise.allSettled([netns === undefined && idle.length ? Promise.resolve(idle.pop()!) : open(), late ? open() : Promise.resolve(undefined)]);
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) {
    for (const o of opened) if (o.status === 'fulfilled') o.value?.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  const [s, listener] = opened.map((o) => (o as PromiseFulfilledResult<NetlinkSocket | undefined>).value) as [NetlinkSocket, NetlinkSocket | undefined];
  let watch = listener;
  let call: Promise<unknown> | undefined;
  try {
    // Joined before anything is deleted, so no announcement is missed; a socket that cannot join
    // leaves the answer to decide.
    try { watch?.join(rtnl.NL.RTNLGRP_LINK); } catch { watch?.close(); watch = undefined; }
    const links = (await dumpLinks(s, where)).filter((l) => l.group === group);
    if (links.length === 0) return 0;
    const req = s.call(rtnl.deleteLinkGroup(group), `delete link group ${group}${where}`);
    call = req;
    const answer = req.then(() => null, (e: Error) => e);
    let answered = false;
    void answer.then(() => { answered = true; });
    const left = new Set(links.map((l) => l.index));
    while (watch && !answered && left.size > 0) {
      try {
        for (const i of watch.takeRemovedLinks()) left.delete(i);
      } catch { break; } // announcements lost (ENOBUFS): the answer decides
      if (left.size > 0) await Promise.race([answer, sleep(1)]);
    }
    if (left.size > 0 || answered) {
      const e = await answer;
      if (e) { if (isErrno(e, 'ENODEV')) return 0; throw e; }
      return links.length;
    }
    void answer.then((e) => { if (e && !isErrno(e, 'ENODEV')) late!(e); });
    return links.length;
  } finally {
    watch?.close();
    // The request's socket only once its write and answer are done (the write may still be in the kernel).
    const release = () => { if (netns === undefined && idle.length < 4) idle.push(s); else s.close(); };
    if (call) void call.then(release, release);
    else release();
  }
}

/**
 * Sends everything arriving on `dev` out of `to` (both in `netns`, undefined: the agent's
 * namespace), in the kernel, with no bridge and no process: a clsact qdisc on `dev` (one already
 * there, clsact or ingress, is kept) and, as its only ingress filter, a u32 filter matching every
 * packet with a mirred egress redirect to `to` — `tc filter add dev DEV ingress u32 match u32 0 0
 * action mirred egress redirect dev TO`. Any ingress filter `dev` had before is deleted in the
 * same write, just before the new one is added. Two calls, each way, make a patch cable between
 * two links (as Kata containers' tcfilter model does).
 */
export async function redirectIngress(o: { dev: string; to: string; netns?: string }): Promise<void> {
  await inNs(o.netns, async (s, where) => {
    const what = `redirect ingress of ${o.dev} to ${o.to}${where}`;
    const [[d], [t]] = await s.all([o.dev, o.to].map((name) => ({ req: rtnl.getLink({ name }), what: `${what}: get link ${name}` })));
    if (!d || !t) throw new Error(`${what}: the kernel answered without the link`);
    const [dev, to] = [rtnl.parseLink(d.payload).index, rtnl.parseLink(t.payload).index];
    const [qdisc, ...rest] = await s.batch([
      { req: rtnl.addClsact(dev), what: `${what}: add clsact qdisc to ${o.dev}` },
      { req: rtnl.deleteIngressFilters(dev), what: `${what}: delete the ingress filters of ${o.dev}` },
      { req: rtnl.addIngressRedirect(dev, to), what },
    ]);
    // EEXIST: the device has its clsact (or ingress) qdisc already, which takes the filter as well.
    const failed = [...(qdisc!.error?.code === 'EEXIST' ? [] : [qdisc!]), ...rest].find((a) => a.error);
    if (failed) throw failed.error;
  });
}

/**
 * Deletes every ingress filter of each of `devs` (in `netns`; undefined: the agent's namespace),
 * in two writes (the links looked up, then all their filters deleted): redirectIngress undone without deleting a link (a filter goes without an RCU
 * grace period to wait out). A link that is not there, or has no clsact qdisc, has none to delete.
 */
export async function clearIngress(devs: readonly string[], netns?: string): Promise<void> {
  await inNs(netns, async (s, where) => {
    const links = await s.batch(devs.map((name) => ({ req: rtnl.getLink({ name }), what: `clear ingress filters of ${name}${where}: get link` })));
    const present = links.flatMap((a, i) => {
      if (isErrno(a.error, 'ENODEV')) return [];
      if (a.error) throw a.error;
      const [m] = a.messages;
      if (!m) throw new Error(`clear ingress filters of ${devs[i]}${where}: the kernel answered without the link`);
      return [{ name: devs[i]!, index: rtnl.parseLink(m.payload).index }];
    });
    const answers = await s.batch(present.map((l) => ({ req: rtnl.deleteIngressFilters(l.index), what: `clear ingress filters of ${l.name}${where}` })));
    // ENODEV: gone meanwhile; EINVAL: no clsact qdisc ("Parent Qdisc doesn't exists"), so no filter.
    const failed = answers.find((a) => a.error && !isErrno(a.error, 'ENODEV') && !isErrno(a.error, 'EINVAL'));
    if (failed) throw failed.error;
  });
}

/** The ingress filters of `dev` in `netns` as the kernel dumps them (a u32 filter: several nodes). */
export async function listIngressFilters(dev: string, netns?: string): Promise<rtnl.FilterMessage[]> {
  return inNs(netns, async (s, where) => {
    const what = `list ingress filters of ${dev}${where}`;
    const [m] = await s.call(rtnl.getLink({ name: dev }), `${what}: get link ${dev}`);
    if (!m) throw new Error(`${what}: the kernel answered without the link`);
    return (await s.dump(rtnl.dumpIngressFilters(rtnl.parseLink(m.payload).index), what)).map((f) => rtnl.parseFilter(f.payload));
  });
}

/**
 * The index of the link the ingress filters of `dev` redirect to (the first mirred egress
 * redirect found, in the kernel's order), or undefined when there is none (no filter, no clsact)
 * or its target is gone: when a target link is deleted the kernel keeps the filter but clears its
 * device (dumped as index 0), and it drops what it matches until redirectIngress rewires it.
 */
export async function ingressRedirectTarget(dev: string, netns?: string): Promise<number | undefined> {
  for (const f of await listIngressFilters(dev, netns)) {
    const r = f.mirred.find((a) => a.eaction === rtnl.NL.TCA_EGRESS_REDIR);
    if (r) return r.ifindex || undefined;
  }
  return undefined;
}

/** A route through `dev`; `table` other than the main one when given. */
export interface RouteSpec { dst: string; via?: string; dev: string; scope?: 'link' | 'global' | 'host'; onlink?: boolean; table?: number }

function routeCall(index: number, r: Omit<RouteSpec, 'dev'>, dev: string, where: string): NetlinkCall {
  const scope: rtnl.RouteScope | undefined = r.scope === 'global' ? 'universe' : r.scope;
  return {
    req: rtnl.addRoute({
      dst: r.dst, oif: index, ...(r.via !== undefined ? { via: r.via } : {}), ...(scope ? { scope } : {}), ...(r.onlink ? { onlink: true } : {}),
      ...(r.table !== undefined ? { table: r.table } : {}),
    }),
    what: `add route ${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${dev}${r.table !== undefined ? ` table ${r.table}` : ''}${where}`,
  };
}

/** What one link gets, in this order: up or down, its addresses, neighbours, routes. */
export interface LinkConfig {
  name: string;
  up?: boolean;
  addresses?: string[];
  neighbors?: Array<{ ip: string; mac: string }>;
  routes?: Array<Omit<RouteSpec, 'dev'>>;
}

/**
 * Configures one link of `netns` (undefined: the agent's namespace) in one round trip after
 * finding it, and returns it as it was found (its MAC address is what VPP needs). The kernel
 * carries every request out in order; the first one it refused is thrown.
 */
export async function configureLink(netns: string | undefined, c: LinkConfig): Promise<Link> {
  return inNs(netns, async (s, where) => {
    const l = await linkIndex(s, c.name, where);
    const calls: NetlinkCall[] = [];
    if (c.up !== undefined) calls.push({ req: rtnl.setLink({ index: l.index }, { up: c.up }), what: `set link ${c.name} ${c.up ? 'up' : 'down'}${where}` });
    for (const a of c.addresses ?? []) calls.push({ req: rtnl.addAddress(l.index, a), what: `add address ${a} to ${c.name}${where}` });
    for (const n of c.neighbors ?? []) calls.push({ req: rtnl.replaceNeighbor(l.index, n.ip, n.mac), what: `set neighbour ${n.ip} lladdr ${n.mac} on ${c.name}${where}` });
    for (const r of c.routes ?? []) calls.push(routeCall(l.index, r, c.name, where));
    if (calls.length) await s.all(calls);
    return toLink(l);
  });
}

/** `ip addr add CIDR dev DEV`. */
export async function addAddress(netns: string | undefined, dev: string, cidr: string): Promise<void> {
  await configureLink(netns, { name: dev, addresses: [cidr] });
}

/** `ip route add DST [via GW] dev DEV [scope S] [onlink] [table T]`. */
export async function addRoute(netns: string | undefined, r: RouteSpec): Promise<void> {
  await configureLink(netns, { name: r.dev, routes: [r] });
}

/**
 * Makes `cidr` the only IPv4 address of `dev` (`ip addr del` of the others, `ip addr add` of it
 * when missing), in one round trip after listing them.
 */
export async function setOnlyAddress(netns: string | undefined, dev: string, cidr: string): Promise<void> {
  await inNs(netns, async (s, where) => {
    const l = await linkIndex(s, dev, where);
    const have = (await s.dump(rtnl.dumpAddresses(), `list addresses${where}`)).map((m) => rtnl.parseAddress(m.payload))
      .filter((a) => a.index === l.index && a.family === rtnl.NL.AF_INET && a.local !== undefined).map((a) => `${a.local}/${a.prefixLen}`);
    const calls: NetlinkCall[] = have.filter((a) => a !== cidr).map((a) => ({ req: rtnl.deleteAddress(l.index, a), what: `delete address ${a} from ${dev}${where}` }));
    if (!have.includes(cidr)) calls.push({ req: rtnl.addAddress(l.index, cidr), what: `add address ${cidr} to ${dev}${where}` });
    if (calls.length) await s.all(calls);
  });
}

/** A route of the main table marked with a protocol number of its owner's (`proto P`), so it is found again without any state. */
export interface OwnedRoute { dst: string; via: string; dev?: string; src?: string; onlink?: boolean }

/** `ip route replace DST via GW [dev DEV] [src SRC] [onlink] proto P` (without dev: the gateway's link). */
export async function replaceOwnedRoute(netns: string | undefined, r: OwnedRoute, protocol: number): Promise<void> {
  await inNs(netns, async (s, where) => {
    const oif = r.dev !== undefined ? (await linkIndex(s, r.dev, where)).index : undefined;
    await s.call(
      rtnl.replaceRoute({ dst: r.dst, via: r.via, protocol, ...(oif !== undefined ? { oif } : {}), ...(r.src !== undefined ? { prefsrc: r.src } : {}), ...(r.onlink ? { onlink: true } : {}) }),
      `replace route ${r.dst} via ${r.via}${r.dev ? ` dev ${r.dev}` : ''}${r.src ? ` src ${r.src}` : ''}${r.onlink ? ' onlink' : ''} proto ${protocol}${where}`,
    );
  });
}

/** `ip route del DST proto P` in the main table; false when there was no such route. */
export async function deleteOwnedRoute(netns: string | undefined, dst: string, protocol: number): Promise<boolean> {
  try {
    await inNs(netns, (s, where) => s.call(rtnl.deleteRoute({ dst, protocol }), `delete route ${dst} proto ${protocol}${where}`));
    return true;
  } catch (e) {
    if (isErrno(e, 'ESRCH')) return false;
    throw e;
  }
}

/** The main table's routes of `protocol`, as `ip -j route show proto P` lists them. */
export async function listOwnedRoutes(netns: string | undefined, protocol: number): Promise<Array<OwnedRoute & { dev: string }>> {
  return inNs(netns, async (s, where) => {
    const names = new Map((await dumpLinks(s, where)).map((l) => [l.index, l.name]));
    return (await s.dump(rtnl.dumpRoutes(), `list routes${where}`)).map((m) => rtnl.parseRoute(m.payload))
      .filter((r) => r.table === rtnl.NL.RT_TABLE_MAIN && r.protocol === protocol && r.family === rtnl.NL.AF_INET)
      .map((r) => ({
        dst: `${r.dstLen === 0 ? '0.0.0.0' : r.dst}/${r.dstLen}`, via: r.gateway ?? '', dev: names.get(r.oif ?? -1) ?? '',
        ...(r.prefsrc !== undefined ? { src: r.prefsrc } : {}), ...(r.flags & rtnl.NL.RTNH_F_ONLINK ? { onlink: true } : {}),
      }));
  });
}

/** A VXLAN device as the node overlay has it: static entries only, `address` (a CIDR) its one address, `mac` its MAC. */
export interface VxlanDevice { name: string; vni: number; port: number; local: string; mac: string; address: string }

/** What VXLAN adds to every packet it carries: outer IPv4, UDP and VXLAN headers and the inner Ethernet header. */
export const VXLAN_OVERHEAD = 50;

/**
 * Makes `d.name` that VXLAN device, up, with `d.address` its only address: created when missing,
 * made anew when its VNI, port, local address, learning, MAC or underlay link differ (or it is
 * another kind of link). The underlay is the link holding `local`; the device's MTU is that link's
 * less VXLAN_OVERHEAD, checked every call (the underlay's MTU may change), or 1500 less it when the
 * address sits on a loopback (whose MTU says nothing of the wire). An error names the address when
 * no link of the namespace holds it.
 */
export async function ensureVxlan(netns: string | undefined, d: VxlanDevice): Promise<'created' | 'replaced' | 'ok'> {
  const result = await inNs(netns, async (s, where) => {
    const under = (await s.dump(rtnl.dumpAddresses(), `list addresses${where}`)).map((m) => rtnl.parseAddress(m.payload))
      .find((a) => a.family === rtnl.NL.AF_INET && a.local === d.local);
    if (!under) throw new Error(`VXLAN device ${d.name}${where}: no link has the address ${d.local} to send from (the node's InternalIP)`);
    const lower = (await dumpLinks(s, where)).find((l) => l.index === under.index);
    const loop = lower === undefined || (lower.flags & rtnl.NL.IFF_LOOPBACK) !== 0;
    const mtu = (loop || lower.mtu === undefined ? 1500 : lower.mtu) - VXLAN_OVERHEAD;
    const have = await findLink(s, d.name, where);
    const v = have?.vxlan;
    if (have && v && v.vni === d.vni && v.port === d.port && v.local === d.local && !v.learning && have.address === d.mac && v.link === (loop ? undefined : under.index)) {
      if (have.mtu !== mtu) await s.call(rtnl.setLink({ index: have.index }, { mtu }), `set mtu ${mtu} of ${d.name}${where}`);
      return 'ok' as const;
    }
    if (have) await s.call(rtnl.deleteLink({ index: have.index }), `delete link ${d.name}${where} (not the VXLAN device wanted)`);
    await s.call(rtnl.createVxlan({ name: d.name, vni: d.vni, port: d.port, local: d.local, ...(loop ? {} : { link: under.index }), address: d.mac, mtu }),
      `create VXLAN device ${d.name} id ${d.vni} dstport ${d.port} local ${d.local} mtu ${mtu}${where}`);
    return have ? 'replaced' as const : 'created' as const;
  });
  await setLinkUp(d.name, true, netns);
  await setOnlyAddress(netns, d.name, d.address);
  return result;
}

/** One other node on the overlay: its device's address and MAC, and where its packets go. */
export interface VxlanPeer { ip: string; mac: string; remote: string }

/**
 * Makes the VXLAN device's permanent neighbour entries and its forwarding entries exactly those of
 * `peers` (`ip neigh replace IP lladdr MAC dev DEV nud permanent`, `bridge fdb replace MAC dev DEV
 * dst REMOTE self permanent`, and the deletes of every other entry of the device). Returns each
 * entry added or deleted, as "IP MAC REMOTE" and "neighbour IP" / "fdb MAC REMOTE".
 */
export async function setVxlanPeers(netns: string | undefined, dev: string, peers: readonly VxlanPeer[]): Promise<{ added: string[]; deleted: string[] }> {
  return inNs(netns, async (s, where) => {
    const l = await linkIndex(s, dev, where);
    const neigh = (await s.dump(rtnl.dumpNeighbors(rtnl.NL.AF_INET), `list neighbours${where}`)).map((m) => rtnl.parseNeighbor(m.payload))
      .filter((n) => n.ifindex === l.index && n.dst !== undefined && n.state & rtnl.NL.NUD_PERMANENT);
    const fdb = (await s.dump(rtnl.dumpNeighbors(rtnl.NL.AF_BRIDGE), `list forwarding entries${where}`)).map((m) => rtnl.parseNeighbor(m.payload))
      .filter((n) => n.ifindex === l.index && n.dst !== undefined && n.lladdr !== undefined);
    const added: string[] = [], deleted: string[] = [], calls: NetlinkCall[] = [];
    const wantNeigh = new Map(peers.map((p) => [p.ip, p.mac]));
    const wantFdb = new Set(peers.map((p) => `${p.mac} ${p.remote}`));
    for (const n of neigh) {
      if (wantNeigh.has(n.dst!)) continue;
      calls.push({ req: rtnl.deleteNeighbor(l.index, n.dst!), what: `delete neighbour ${n.dst} on ${dev}${where}` });
      deleted.push(`neighbour ${n.dst}`);
    }
    for (const f of fdb) {
      if (wantFdb.has(`${f.lladdr} ${f.dst}`)) continue;
      calls.push({ req: rtnl.deleteFdb(l.index, f.lladdr!, f.dst!), what: `delete fdb ${f.lladdr} dst ${f.dst} on ${dev}${where}` });
      deleted.push(`fdb ${f.lladdr} ${f.dst}`);
    }
    for (const p of peers) {
      const hasNeigh = neigh.some((n) => n.dst === p.ip && n.lladdr === p.mac);
      const hasFdb = fdb.some((f) => f.lladdr === p.mac && f.dst === p.remote);
      if (hasNeigh && hasFdb) continue;
      if (!hasNeigh) calls.push({ req: rtnl.replaceNeighbor(l.index, p.ip, p.mac), what: `set neighbour ${p.ip} lladdr ${p.mac} on ${dev}${where}` });
      if (!hasFdb) calls.push({ req: rtnl.replaceFdb(l.index, p.mac, p.remote), what: `set fdb ${p.mac} dst ${p.remote} on ${dev}${where}` });
      added.push(`${p.ip} ${p.mac} ${p.remote}`);
    }
    if (calls.length) await s.all(calls);
    return { added, deleted };
  });
}

export interface NeighborSpec { ip: string; mac: string; dev: string }

/** `ip neigh replace IP lladdr MAC dev DEV nud permanent`. */
export async function addNeighbor(netns: string | undefined, o: NeighborSpec): Promise<void> {
  await configureLink(netns, { name: o.dev, neighbors: [o] });
}

/** A policy routing rule: packets from `from` (an address) look up `table`. */
export interface RuleSpec { from: string; table: number; priority: number }
/** As `ip -j rule show` prints it (src "all" or an address; table a name or a number). */
export interface RuleInfo { priority: number; src?: string; srclen?: number; table?: string }

/** `ip rule add from FROM lookup TABLE priority N`. */
export async function addRule(netns: string | undefined, r: RuleSpec): Promise<void> {
  await inNs(netns, (s, where) => s.call(rtnl.addRule(r), `add rule from ${r.from} lookup ${r.table} priority ${r.priority}${where}`));
}

/** The IPv4 rules, as `ip -j rule show` lists them. */
export function listRules(netns?: string): Promise<RuleInfo[]> {
  return inNs(netns, async (s, where) => (await s.dump(rtnl.dumpRules(), `list rules${where}`)).map((m) => {
    const r = rtnl.parseRule(m.payload);
    return {
      priority: r.priority ?? 0, src: r.src ?? 'all', ...(r.src !== undefined && r.srcLen !== 32 ? { srclen: r.srcLen } : {}),
      ...(r.action === rtnl.NL.FR_ACT_TO_TBL ? { table: rtnl.tableName(r.table) } : {}),
    };
  }));
}

export interface AddrInfo { ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number; scope?: string }> }

/** Every link with its addresses, as `ip -j addr show` lists them. */
export function listAddresses(netns?: string): Promise<AddrInfo[]> {
  return inNs(netns, async (s, where) => {
    const links = await dumpLinks(s, where);
    const addrs = (await s.dump(rtnl.dumpAddresses(), `list addresses${where}`)).map((m) => rtnl.parseAddress(m.payload));
    return links.map((l) => ({
      ifname: l.name,
      addr_info: addrs.filter((a) => a.index === l.index && a.local !== undefined).map((a) => ({
        family: a.family === rtnl.NL.AF_INET6 ? 'inet6' : 'inet', local: a.local!, prefixlen: a.prefixLen, scope: rtnl.scopeName(a.scope),
      })),
    }));
  });
}

export interface RouteInfo { type?: string; dst: string; gateway?: string; dev?: string; scope?: string; flags?: string[] }

/** The IPv4 routes of the main table (or of `table`), as `ip -j route show [table T]` lists them. */
export function listRoutes(netns?: string, table: number = rtnl.NL.RT_TABLE_MAIN): Promise<RouteInfo[]> {
  return inNs(netns, async (s, where) => {
    const names = new Map((await dumpLinks(s, where)).map((l) => [l.index, l.name]));
    const routes = (await s.dump(rtnl.dumpRoutes(), `list routes${where}`)).map((m) => rtnl.parseRoute(m.payload));
    return routes.filter((r) => r.table === table).map((r) => ({
      ...(rtnl.routeTypeName(r.type) !== undefined ? { type: rtnl.routeTypeName(r.type)! } : {}),
      dst: r.dstLen === 0 ? 'default' : r.dstLen === 32 ? r.dst! : `${r.dst}/${r.dstLen}`,
      ...(r.gateway !== undefined ? { gateway: r.gateway } : {}),
      ...(r.oif !== undefined && names.has(r.oif) ? { dev: names.get(r.oif)! } : {}),
      ...(r.scope !== rtnl.RT_SCOPE.universe ? { scope: rtnl.scopeName(r.scope) } : {}),
      flags: rtnl.routeFlagNames(r.flags),
    }));
  });
}

/** A persistent tap device (`ip tuntap add dev NAME mode tap`), in `netns` or the agent's namespace. */
export async function createTapDevice(name: string, netns?: string): Promise<void> {
  await createPersistentTap(name, netns === undefined ? undefined : netnsPath(netns));
}
