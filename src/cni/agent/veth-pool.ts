// A few af_packets kept ready for pod veths. VPP's af_packet_create_v3 is most of a veth interface's
// ADD (~50 ms on real VPP: the packet socket's bind waits out an RCU grace period, the rings are
// allocated, zeroed and mapped; af_packet_delete costs as much at DEL, both stopping VPP's
// forwarding) and VPP's API is serial, so the agent keeps `size` members ready:
// a veth pair in the agent's namespace (host end `tsvp…`, peer `tsvq…`, both up) whose host end has
// its af_packet in VPP (admin up, MTU lowered, tagged `tsvpp-pool:<host end>`). An ADD of a veth
// on the default or stub network takes one (kinds/veth.ts): the pod gets a veth of its own made
// inside its netns, whose host end and the member's peer are joined by tc redirects, and the
// af_packet is re-tagged for the pod. Neither end of the member ever enters a pod, so DEL hands it
// back (giveBack) instead of deleting the af_packet. An ADD that finds the pool empty makes a member
// for the pod (make), so every pod veth on those networks is a lent member and no DEL deletes an
// af_packet. Refilled up to `size`, and trimmed back to it after `idleMs` without a request, one
// member at a time, in the pipeline's turn, when no CNI request waits.
//
// Members are listed in <stateDir>/veth-pool.json (before they are created, like pod resources),
// so an agent restart keeps those complete in both Linux and VPP and deletes the rest, and the
// sweep deletes pool links and af_packets of this agent that neither the list nor a pod names.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrderedWrites } from '../atomic-file.js';
import type { LinuxOps } from './pipeline.js';
import type { PodRecord } from './state.js';
import type { Vswitch, VswitchInterface } from './vswitch.js';
import { poolTag, VswitchError } from './vswitch.js';
import { AF_PACKET_PREFIX, POD_AF_PACKET_TX_FRAMES, podAfPacketMtu } from './kinds/veth.js';

/** A ready member: the veth's two ends in the agent's namespace and the af_packet on its host end. */
/** `mac`: the af_packet's (VPP's side). */
export interface PoolMember { hostName: string; peerName: string; swIfIndex: number; mac?: string }

/** As listed in the pool file: without swIfIndex while it is being made. */
type ListedMember = Omit<PoolMember, 'swIfIndex'> & { swIfIndex?: number };

export const POOL_FILE = 'veth-pool.json';

const afPacketName = (hostIfName: string) => `${AF_PACKET_PREFIX}${hostIfName}`;

/**
 * The name prefixes of one agent's pool links (8 bytes; 7 random hex digits follow): `tsvp`/`tsvq`
 * and a hash of the state dir, so agents sharing a network namespace (tests) never sweep each
 * other's members. Pod veths are `tsv` + hex (kinds/veth.ts), taps' staging names `tsvt`.
 */
export function poolLinkPrefixes(stateDir: string): { host: string; peer: string } {
  const h = createHash('sha256').update(stateDir).digest('hex').slice(0, 4);
  return { host: `tsvp${h}`, peer: `tsvq${h}` };
}

/**
 * The links pod records hold that may carry pool names: veth host ends (a member an agent before
 * the redirects moved into a pod kept its host end's name), and both ends of a lent member.
 */
export function podPoolLinks(pods: readonly PodRecord[]): Set<string> {
  return new Set(pods.flatMap((rec) => rec.resources.flatMap((r) => {
    switch (r.kind) {
      case 'veth': return [r.hostName];
      case 'afpacket': return r.pool ? [r.hostIfName, r.pool.peerName] : [];
      default: return [];
    }
  })));
}

/** Once the agent has served a request, members are made only after this long without one. */
export const REFILL_QUIET_MS = 300;

export interface VethPoolDeps {
  size: number;
  stateDir: string;
  vswitch: Vswitch;
  linux: LinuxOps;
  /** The pod veths' MTU (config.mtu; 0: the kernel's default). */
  mtu: number;
  /**
   * Members beyond `size` (handed back after more pods than `size` had them at once) are deleted
   * only after this long without a request (config.vethPoolIdleSeconds).
   */
  idleMs: number;
  /** Runs fn in the pipeline's turn; `busy`: a CNI request waits for its turn; `servedAt`: when
   *  the last one was answered (the pipeline's, so a request that is not yet refill()'s counts). */
  turn<T>(fn: () => Promise<T>): Promise<T>;
  busy(): boolean;
  servedAt(): number;
  /** Fill from the start (eth0 is a veth); otherwise only once an ADD asked for a member. */
  eager: boolean;
  log(msg: string): void;
}

export class VethPool {
  private ready: PoolMember[] = [];
  /** Being made (listed without swIfIndex): by the refill, or for an ADD (make). */
  private readonly making = new Set<ListedMember>();
  private wanted: boolean;
  /** The pool file was read (the first reconcile, at agent start). */
  private loaded = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** The timer only waits to trim (settled() does not wait for it). */
  private timerTrims = false;
  /** A refill's turn in flight. */
  private running: Promise<void> | undefined;
  /**
   * When refill('request') last came (at first: when the agent started, so that members an agent
   * restart finds beyond `size` are kept for idleMs too).
   */
  private lastRequest = Date.now();
  /** A request came since the agent started (before, the pool fills at once). */
  private requested = false;
  /** A member could not be made: no retry until the next request or reconcile. */
  private failed = false;
  private readonly file: string;
  private readonly files = new OrderedWrites();
  readonly prefixes: { host: string; peer: string };

  constructor(private readonly d: VethPoolDeps) {
    this.file = join(d.stateDir, POOL_FILE);
    this.prefixes = poolLinkPrefixes(d.stateDir);
    this.wanted = d.eager;
  }

  /** The host ends of the ready members. */
  members(): readonly PoolMember[] { return this.ready; }

  /**
   * A ready member for a pod, checked first (its af_packet still at its sw_if_index with the pool's
   * tag, both ends still in the agent's namespace): a broken one is deleted, never handed out.
   * Undefined when the pool is empty. Runs in the pipeline's turn; the member is off the list when
   * this returns (the caller records it in the pod's record).
   */
  async take(checked?: ReadonlySet<PoolMember>): Promise<PoolMember | undefined> {
    this.wanted = true;
    while (this.ready.length) {
      const m = this.ready.shift()!;
      await this.save();
      const why = checked?.has(m) ? undefined : await this.problem(m);
      if (!why) return m;
      await this.discard(m, why);
    }
    return undefined;
  }

  /**
   * Checks the next `n` ready members with one link listing, before an ADD makes anything of the
   * pod (one listing instead of one per member: each waits for the kernel's rtnl lock): broken ones
   * are deleted. Returns those fit to hand out; take(fit) hands them out without a second check.
   * Both run in the same turn of the pipeline (one ADD).
   */
  async checkAhead(n: number): Promise<ReadonlySet<PoolMember>> {
    const fit = new Set<PoolMember>();
    for (;;) {
      const next = this.ready.filter((m) => !fit.has(m)).slice(0, n - fit.size);
      if (next.length === 0) return fit;
      const links = new Set((await this.d.linux.listLinks()).map((l) => l.ifname));
      for (const m of next) {
        const why = await this.problem(m, links);
        if (!why) { fit.add(m); continue; }
        this.ready = this.ready.filter((x) => x !== m);
        await this.save();
        await this.discard(m, why);
      }
    }
  }

  private async discard(m: PoolMember, why: string): Promise<void> {
    this.d.log(`veth pool: ${m.hostName} is broken (${why}): deleted, not handed to a pod`);
    await this.destroy(m).catch((e) => this.d.log(`veth pool: deleting ${m.hostName} failed: ${(e as Error).message}`));
  }

  /** Why `m` cannot be handed out (undefined: it can); `links`: the agent's namespace's link names. */
  private async problem(m: PoolMember, links?: ReadonlySet<string>): Promise<string | undefined> {
    const [i] = await this.d.vswitch.dumpInterfaces(m.swIfIndex);
    if (!i || i.name !== afPacketName(m.hostName) || i.tag !== poolTag(m.hostName)) return `its af_packet is not at sw_if_index ${m.swIfIndex}`;
    links ??= new Set((await this.d.linux.listLinks()).map((l) => l.ifname));
    if (!links.has(m.hostName)) return 'its host end is gone';
    if (!links.has(m.peerName)) return `its peer ${m.peerName} is gone`;
    return undefined;
  }

  /**
   * After a CNI request was answered (or a reconcile): makes members up to `size`, one per turn
   * of the pipeline and only while no request waits. VPP's API is serial, so an af_packet_create
   * in flight (40-200 ms) holds up every call of a request that arrives meanwhile, and the next
   * request of a burst of pods comes a few ms after the last answer (the tsvpp-cni shim starts in
   * ~3 ms): members are made only once no request came for REFILL_QUIET_MS, the end of a burst.
   * Within a burst an ADD that finds the pool empty makes its own member (make), which every later
   * burst then finds in the pool.
   */
  refill(after: 'request' | 'reconcile'): void {
    // A member being made now (its turn came as the request ended) is this request's one.
    if (after === 'request') { this.lastRequest = Date.now(); this.requested = true; }
    this.failed = false;
    // A trim waiting for idleMs: looked at again now (ADDs may have taken the pool below `size`).
    if (this.timer && this.timerTrims) { clearTimeout(this.timer); this.timer = undefined; }
    this.schedule(0);
  }

  private schedule(delayMs: number, trims = false): void {
    if (this.closed || this.timer || !this.wanted || this.ready.length === this.d.size || this.failed) return;
    this.timerTrims = trims;
    this.timer = setTimeout(() => {
      const run = this.d.turn(async () => {
        this.timer = undefined;
        if (this.closed || this.d.busy() || this.ready.length === this.d.size) return; // the request's end schedules again
        // Since the last request: refill('request') comes once the agent has written the answer, and
        // a turn queued behind that request (a trim after a DEL that handed a member back) can run
        // before it; the pipeline notes each request's end before such a turn.
        const since = Date.now() - Math.max(this.lastRequest, this.d.servedAt());
        // Members handed back beyond `size` (more pods at once than the pool holds, then their
        // DELs) go only after idleMs without a request: each deletion, and the create when pods
        // come again, stops VPP's forwarding for as long as an af_packet_delete/create takes.
        if (this.ready.length > this.d.size) {
          if (since < this.d.idleMs) { this.schedule(this.d.idleMs - since, true); return; }
          await this.trimOne();
          this.schedule(0);
          return;
        }
        if (this.requested && since < REFILL_QUIET_MS) { this.schedule(REFILL_QUIET_MS - since); return; }
        if (await this.makeOne()) this.schedule(0);
      }).catch((e) => this.d.log(`veth pool: ${(e as Error).message}`));
      this.running = run;
      void run.finally(() => { if (this.running === run) this.running = undefined; });
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Resolves once no refill is scheduled or running and nothing is being trimmed (the pool holds
   * `size` or more, is closed, or a member could not be made): leak checks sample the agent then,
   * not while a member is half made. A trim still waiting for idleMs is not waited for.
   */
  async settled(): Promise<void> {
    while ((this.timer && !this.timerTrims) || this.running) await (this.running ?? new Promise((r) => setTimeout(r, 20)));
  }

  /** Deletes the oldest member, then unlists it (listed while any of it exists, as when made). */
  private async trimOne(): Promise<void> {
    const m = this.ready.shift()!;
    await this.destroy(m).catch((e) => { this.failed = true; this.d.log(`veth pool: deleting ${m.hostName} failed: ${(e as Error).message}`); });
    await this.save();
  }

  /**
   * At DEL, a member a pod had (kinds/veth.ts) back in the pool instead of its af_packet deleted:
   * what the pod's attachment set on the interface in VPP is undone (unnumbered first: without an
   * address VPP learns no neighbour on it meanwhile), then checked; a member with anything left is
   * deleted instead, never handed to another pod. `serviceNat`: the agent runs Services (service
   * NAT was on for default-network pods). Called once the pod's routes and neighbours were undone
   * and its veth is gone (kinds/veth.ts), in the pipeline's turn; the member's peer keeps a
   * redirect to nowhere until the next ADD replaces it.
   */
  async giveBack(m: PoolMember, serviceNat: boolean): Promise<void> {
    // Before the first reconcile read the pool file (rollbacks at agent start) a save would drop
    // the members listed there: such a member is deleted.
    const left = this.closed || !this.loaded ? ['the pool is not running'] : await this.reset(m, serviceNat).catch((e: Error) => [e.message]);
    if (left.length === 0) {
      this.ready.push(m);
      await this.save();
      this.d.log(`veth pool: ${m.hostName} is back (sw_if_index ${m.swIfIndex})`);
      this.schedule(0);
      return;
    }
    this.d.log(`veth pool: ${m.hostName} not taken back (${left.join('; ')}): deleted`);
    await this.destroy(m);
  }

  /** Undoes a pod's VPP settings on m's af_packet and re-tags it for the pool; returns what is still set (nothing: done). */
  private async reset(m: PoolMember, serviceNat: boolean): Promise<string[]> {
    const vs = this.d.vswitch, sw = m.swIfIndex;
    await vs.unsetUnnumbered(sw);
    if (serviceNat) await vs.disableServiceNat(sw, 'pod');
    for (const n of await vs.dumpNeighbors(sw)) await vs.deleteNeighbor(n).catch((e) => { if (!(e instanceof VswitchError && e.notFound)) throw e; });
    await vs.clearCounters(sw);
    const [[i], addresses, from, vrf, neighbors, routes] = await Promise.all([
      vs.dumpInterfaces(sw), vs.interfaceAddresses(sw), vs.unnumberedFrom(sw), vs.interfaceVrf(sw), vs.dumpNeighbors(sw), vs.routesThrough(sw, 0),
    ]);
    const left = [
      ...(!i || i.name !== afPacketName(m.hostName) ? [`its af_packet is not at sw_if_index ${sw}`] : !i.up ? ['its af_packet is down'] : []),
      ...(addresses.length ? [`addresses ${addresses.join(', ')}`] : []),
      ...(from !== undefined ? [`unnumbered to sw_if_index ${from}`] : []),
      ...(vrf !== 0 ? [`in VRF ${vrf}`] : []),
      ...(neighbors.length ? [`neighbours ${neighbors.map((n) => n.ip).join(', ')}`] : []),
      ...(routes.length ? [`routes ${routes.join(', ')} through it`] : []),
    ];
    if (left.length === 0) await vs.tagInterface(sw, poolTag(m.hostName));
    return left;
  }

  /**
   * For an ADD that found the pool empty, in its turn: a member made as the refill makes them and
   * handed out at once (unlisted when this returns, as take()'s; the caller records it in the pod's
   * record), so the pod's DEL hands it back rather than deleting an af_packet. Throws (what was made
   * deleted) when it cannot be made.
   */
  async make(): Promise<PoolMember> {
    this.wanted = true;
    const m = await this.build();
    await this.save();
    return m;
  }

  /** Makes one member for the pool; false when that failed (logged, what was made deleted). */
  private async makeOne(): Promise<boolean> {
    try {
      this.ready.push(await this.build());
      await this.save();
      return true;
    } catch (e) {
      this.failed = true;
      this.d.log((e as Error).message);
      return false;
    }
  }

  /**
   * Makes one member, listed in the pool file while it is made (a crash in between still deletes
   * it), unlisted at the end: the caller lists it as ready, or hands it to a pod. On failure what
   * was made is deleted and the error names the member.
   */
  private async build(): Promise<PoolMember> {
    const rnd = randomBytes(4).toString('hex').slice(0, 7);
    const m: ListedMember = { hostName: this.prefixes.host + rnd, peerName: this.prefixes.peer + rnd };
    this.making.add(m);
    try {
      await this.save(); // listed first: a crash in between still deletes it
      const { linux, vswitch: vs, mtu } = this.d;
      await linux.createVethPair({ hostName: m.hostName, podName: m.peerName, up: true, ...(mtu ? { mtu } : {}) });
      // The peer carries the pod's traffic once an ADD redirects it (it stays here, never in a pod).
      await linux.configureLink(undefined, { name: m.peerName, up: true });
      const a = await vs.createAfPacket({ hostIfName: m.hostName, tag: poolTag(m.hostName), txFrames: POD_AF_PACKET_TX_FRAMES });
      m.swIfIndex = a.swIfIndex;
      if (a.mac) m.mac = a.mac;
      await vs.setInterfaceMtu(a.swIfIndex, podAfPacketMtu(mtu));
      // Up now, so that the ADD's admin-up finds nothing to change: VPP sets an af_packet's Linux
      // link up by netlink when it goes up, which waits for rtnl (held meanwhile by the ADD's own
      // link work), all that time with VPP's main thread (its API and, without workers, its
      // forwarding) stopped. Nothing arrives on it meanwhile: its peer redirects nowhere yet.
      await vs.setInterfaceUp(a.swIfIndex, true);
      this.making.delete(m);
      return m as PoolMember;
    } catch (e) {
      await this.destroy(m).catch((e2) => this.d.log(`veth pool: deleting ${m.hostName} failed: ${(e2 as Error).message}`));
      this.making.delete(m);
      await this.save();
      throw new Error(`making veth pool member ${m.hostName} failed: ${(e as Error).message}`);
    }
  }

  /** Deletes a member's af_packet (by its host interface's name: also one never tagged) and its veth. */
  private async destroy(m: ListedMember): Promise<void> {
    await this.d.vswitch.deleteAfPacket({ hostIfName: m.hostName, swIfIndex: m.swIfIndex ?? 0 }).catch((e) => { if (!(e instanceof VswitchError && e.notFound)) throw e; });
    await this.d.linux.deleteLinkIfExists(m.hostName); // the peer goes with it
    await this.d.linux.deleteLinkIfExists(m.peerName);
  }

  /**
   * In the pipeline's turn, at agent start and after VPP reconnects (`dump`: VPP's interfaces):
   * keeps the members complete in both Linux and VPP, deletes the others, and deletes this agent's
   * pool af_packets and links that neither the pool file nor a pod (`podLinks`: podPoolLinks of
   * the pod records; a member lent to a pod keeps its names) knows. With `keep` false
   * (teardown, shutdown) every member goes. Returns the host ends deleted.
   */
  async reconcile(dump: readonly VswitchInterface[], podLinks: ReadonlySet<string>, keep = true): Promise<string[]> {
    const listed: ListedMember[] = this.loaded ? [...this.ready] : await this.load();
    this.loaded = true;
    const listing = await this.d.linux.listLinks();
    const links = new Set(listing.map((l) => l.ifname));
    const kept: PoolMember[] = [];
    const deleted: string[] = [];
    for (const m of listed) {
      if (podLinks.has(m.hostName)) continue; // a pod's now (taken just before a crash)
      const i = dump.find((x) => x.name === afPacketName(m.hostName));
      const complete = i && i.swIfIndex === m.swIfIndex && i.tag === poolTag(m.hostName) && links.has(m.hostName) && links.has(m.peerName);
      if (keep && complete) {
        // Agents before the redirects left the peer down (it was moved into the pod at ADD).
        if (!listing.find((l) => l.ifname === m.peerName)?.flags.includes('UP')) await this.d.linux.configureLink(undefined, { name: m.peerName, up: true });
        kept.push(m as PoolMember);
        continue;
      }
      await this.destroy({ ...m, ...(i ? { swIfIndex: i.swIfIndex } : {}) });
      deleted.push(m.hostName);
    }
    this.ready = kept;
    await this.save();
    const known = new Set([...kept.map((m) => m.hostName), ...podLinks]);
    // af_packets of this agent's pool that nothing knows, tagged or not (the agent died between create and tag).
    for (const i of dump) {
      const host = i.name.startsWith(AF_PACKET_PREFIX) ? i.name.slice(AF_PACKET_PREFIX.length) : '';
      if (!host.startsWith(this.prefixes.host) || known.has(host) || deleted.includes(host)) continue;
      if (i.tag !== '' && i.tag !== poolTag(host)) continue; // a pod's (re-tagged)
      await this.destroy({ hostName: host, peerName: this.prefixes.peer + host.slice(this.prefixes.host.length), swIfIndex: i.swIfIndex });
      deleted.push(host);
    }
    const peersKept = new Set(kept.map((m) => m.peerName));
    for (const l of links) {
      const mine = (l.startsWith(this.prefixes.host) || (l.startsWith(this.prefixes.peer) && !peersKept.has(l))) && !known.has(l);
      if (!mine || deleted.includes(l)) continue;
      await this.d.linux.deleteLinkIfExists(l);
      if (l.startsWith(this.prefixes.host)) deleted.push(l);
    }
    if (deleted.length) this.d.log(`veth pool: deleted ${deleted.join(', ')}${keep ? ` (kept ${kept.length})` : ''}`);
    return deleted;
  }

  /**
   * Stops refilling and deletes every member (agent shutdown, `tsvpp agent teardown`); with
   * `podLinks` (podPoolLinks) as in reconcile. Run it in the pipeline's turn.
   */
  async removeAll(podLinks: ReadonlySet<string>): Promise<string[]> {
    this.closed = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    return this.reconcile(await this.d.vswitch.dumpInterfaces(), podLinks, false);
  }

  private async load(): Promise<ListedMember[]> {
    try { return (JSON.parse(await readFile(this.file, 'utf8')) as { members: ListedMember[] }).members; } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      this.d.log(`veth pool: ${this.file} unreadable (${(e as Error).message}): its members are swept by name`);
      return [];
    }
  }

  /** Writes the list as it is now, after the writes before it: a DEL hands back its members side by side. */
  private save(): Promise<void> {
    const members: ListedMember[] = [...this.ready, ...this.making];
    return this.files.write(this.file, members.length ? JSON.stringify({ members }, null, 2) + '\n' : null);
  }
}

/** The link names the pool file of the agent with `stateDir` lists (members, and one being made). */
export async function listedPoolNames(stateDir: string): Promise<Set<string>> {
  let listed: ListedMember[] = [];
  try { listed = (JSON.parse(await readFile(join(stateDir, POOL_FILE), 'utf8')) as { members: ListedMember[] }).members; } catch { /* none */ }
  return new Set(listed.flatMap((m) => [m.hostName, m.peerName]));
}

/**
 * Of `links` (names in the agent's namespace), those of the pool of the agent with `stateDir` that
 * its pool file does not list: the host ends of pods' veths taken from the pool, and leftovers
 * once those pods are gone (tests and perf harnesses look for them). `agentStateDir`: the state
 * dir as the agent names it, when that differs (an agent in a container).
 */
export async function unlistedPoolLinks(stateDir: string, links: readonly string[], agentStateDir = stateDir): Promise<string[]> {
  const { host, peer } = poolLinkPrefixes(agentStateDir);
  const names = await listedPoolNames(stateDir);
  return links.filter((l) => (l.startsWith(host) || l.startsWith(peer)) && !names.has(l));
}
