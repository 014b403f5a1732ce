// veth: a veth pair whose pod end is the pod's interface, made inside the pod's netns. VPP attaches
// as an af_packet either to its host end (in the agent's netns), or, for a member of the veth pool,
// to the member's host end, the member's peer and the pod veth's host end being joined by tc
// redirects. The pair is Linux's: it outlives a VPP restart.
import { createHash } from 'node:crypto';
import { DEFAULT_NETWORK, STUB_NETWORK } from '../../annotations.js';
import { randomMac } from '../../mac.js';
import type { LinuxOps } from '../pipeline.js';
import type { PodInterfaceState, PodRecord } from '../state.js';
import type { PoolMember } from '../veth-pool.js';
import { poolTag, type CreatedInterface } from '../vswitch.js';
import { findResource, podInterface, unlessGone, type InterfaceKind, type KindContext, type KindCreated, type VppIfRecord } from './kind.js';

/**
 * `pool`: the af_packet is a veth pool member's, lent to the pod (its host end is `hostIfName`, its
 * peer `peerName` redirects to and from the pod veth's host end): DEL hands it back to the pool.
 */
export type VethResource =
  | { kind: 'veth'; ifName: string; hostName: string }
  | ({ kind: 'afpacket'; hostIfName: string; pool?: { peerName: string; mac?: string } } & VppIfRecord);

/**
 * The link group of every veth the agent makes for a pod (both ends): DEL deletes a pod's veths in
 * one request, which the kernel unregisters as one batch, one RCU grace period for all of them
 * (one by one, each waits ~20 ms under rtnl). 'tsvp' in ASCII: no other group number a tool picks.
 */
export const POD_VETH_GROUP = 0x74737670;

/** Host-side name of a veth: deterministic (so it can be recorded before creation), ≤ 15 bytes. */
export function vethHostName(containerId: string, ifName: string): string {
  return 'tsv' + createHash('sha256').update(`${containerId}/${ifName}`).digest('hex').slice(0, 11);
}

/**
 * VPP's MTU of the af_packet on the host end lowered to the veth's: VPP's default (9000) lets it
 * hand the kernel a frame the veth refuses, and such a frame stays in the TX ring for good (the
 * interface sends nothing again).
 */
async function lowerMtu(c: KindContext, a: CreatedInterface): Promise<CreatedInterface> {
  await c.d.vswitch.setInterfaceMtu(a.swIfIndex, podAfPacketMtu(c.d.config.mtu));
  return a;
}

/** VPP's MTU of a pod veth's af_packet: the veth's (config.mtu, else the kernel's default for a new veth). */
export const podAfPacketMtu = (configMtu: number) => configMtu || 1500;

/**
 * TX frames of a pod veth's af_packet ring (VPP's default: 1024 of 66 KB, 66 MiB of kernel memory per
 * interface, zeroed at create and unmapped at delete: ~24 ms of VPP's create and ~6 of its delete on
 * this machine; docs/perf.md). 256 is one full VPP vector; the kernel frees a frame as soon as the
 * packet crosses into the pod's netns (the veth orphans it there), so the ring never fills at
 * pod speeds (no TCP throughput difference, no "frame not ready" drops measured). The node's host
 * link (both ends in VPP's netns) keeps VPP's default.
 */
export const POD_AF_PACKET_TX_FRAMES = 256;

/** VPP names an af_packet interface after its host interface. */
export const AF_PACKET_PREFIX = 'host-';

/**
 * A member of the veth pool (veth-pool.ts) carries the pod's interface: the pod gets a veth of its
 * own, made inside its netns (a link made there never moves: no RCU grace period under rtnl, where
 * moving the member's peer in took 15-30 ms), whose host end and the member's peer redirect to each
 * other, and the member's af_packet is re-tagged for the pod. Both recorded before anything is
 * made: a failure or crash before the re-tag leaves the af_packet with the pool's tag, and the
 * pod's undo hands it back (the veth's `untagged`).
 */
async function fromPool(c: KindContext, rec: PodRecord, st: PodInterfaceState, tag: string, m: PoolMember): Promise<KindCreated> {
  const { linux, config } = c.d;
  const hostName = vethHostName(rec.containerId, st.name), podMac = randomMac();
  await c.record(rec, { kind: 'veth', ifName: st.name, hostName },
    { kind: 'afpacket', ifName: st.name, hostIfName: m.hostName, swIfIndex: m.swIfIndex, tag, pool: { peerName: m.peerName, ...(m.mac ? { mac: m.mac } : {}) } });
  // The Linux side goes on beside the re-tag (VPP's side needs neither).
  const podEndReady = joinPodVeth(linux, { hostName, podName: st.name, netns: rec.netns!, podMac, mtu: config.mtu, peerName: m.peerName });
  podEndReady.catch(() => undefined); // the pipeline awaits it; handled meanwhile
  try {
    await c.d.vswitch.tagInterface(m.swIfIndex, tag);
  } catch (e) {
    await podEndReady.catch(() => undefined); // settled before the rollback deletes the pair
    throw e;
  }
  c.log(`ADD ${rec.containerId}: ${st.name} is carried by pool member ${m.hostName} (sw_if_index ${m.swIfIndex})`);
  return { swIfIndex: m.swIfIndex, ...(m.mac ? { mac: m.mac } : {}), podMac, podEndReady };
}

/**
 * The pod's own veth made inside its netns (`podName` there, `hostName` here, both in
 * POD_VETH_GROUP; `mtu` 0: the kernel's default), joined by tc redirects both ways to a pool
 * member's peer `peerName`.
 */
export async function joinPodVeth(linux: Pick<LinuxOps, 'createVethPair' | 'redirectIngress'>, o: { hostName: string; podName: string; netns: string; podMac: string; mtu: number; peerName: string }): Promise<void> {
  await linux.createVethPair({ hostName: o.hostName, podName: o.podName, netns: o.netns, podMac: o.podMac, up: true, group: POD_VETH_GROUP, ...(o.mtu ? { mtu: o.mtu } : {}) });
  await linux.redirectIngress({ dev: o.hostName, to: o.peerName });
  await linux.redirectIngress({ dev: o.peerName, to: o.hostName });
}

/**
 * A lent pool member back to the pool (deleted when the agent runs none, or when it is not clean),
 * once nothing joins it to the pod's veth: while the redirects are there the pod's host end sends
 * what the pod sends into the member, which the next pod may have by then. The redirects are
 * deleted first (no RCU grace period), so the member's reset in VPP goes on beside the deletion of
 * the pod's veths (the veth resource's undo, which waits out grace periods in the kernel). If they
 * cannot be, the member waits for the pod's veth to be gone; a failure to delete it keeps the
 * member the pod's.
 */
async function handBack(c: KindContext, rec: PodRecord, r: Extract<VethResource, { kind: 'afpacket' }>, pool: { peerName: string; mac?: string }): Promise<void> {
  const v = findResource(rec, 'veth', r.ifName);
  if (v) {
    const cut = await c.d.linux.clearIngress([v.hostName, pool.peerName]).then(() => true, (e: Error) => {
      c.log(`undo ${rec.containerId}: deleting the redirects between ${v.hostName} and ${pool.peerName} failed (${e.message}): the member waits for the pod's veth to go`);
      return false;
    });
    if (!cut) await deletePodVeths(c, rec, v.hostName);
  }
  const m = { hostName: r.hostIfName, peerName: pool.peerName, swIfIndex: r.swIfIndex, ...(pool.mac ? { mac: pool.mac } : {}) };
  if (c.d.pool) return c.d.pool.giveBack(m, c.d.services !== undefined);
  await unlessGone(c.d.vswitch.deleteAfPacket({ hostIfName: m.hostName, swIfIndex: m.swIfIndex }));
  await c.d.linux.deleteLinkIfExists(m.hostName); // the peer goes with it
}

/**
 * Deletes the pod veth with host end `hostName`: all the pod's veths in one batch (the link group
 * in its netns; the first call takes them all, the others find theirs gone), then that host end if
 * it is still there (no netns any more, or the batch failed).
 */
async function deletePodVeths(c: KindContext, rec: PodRecord, hostName: string): Promise<void> {
  let group = groupDeletions.get(rec);
  if (!group) {
    group = deleteGroup(c, rec).finally(() => groupDeletions.delete(rec));
    groupDeletions.set(rec, group);
  }
  await group;
  await c.d.linux.deleteLinkIfExists(hostName);
}

/**
 * The group deletion each of a pod's veth undoes asks for, side by side: one request, not one per
 * veth (each would hold a thread of Node's pool, four in all, through the kernel's RCU wait).
 */
const groupDeletions = new WeakMap<PodRecord, Promise<void>>();

async function deleteGroup(c: KindContext, rec: PodRecord): Promise<void> {
  if (rec.netns && await c.d.linux.netnsExists(rec.netns)) {
    // Answered once the kernel announced the veths' removal; its RCU wait after that (15-50 ms)
    // finishes in the background (docs/perf.md, "DEL without the kernel's RCU wait").
    const late = (e: Error) => c.log(`undo ${rec.containerId}: deleting the pod's veths in ${rec.netns}: the kernel announced their removal, then answered ${e.message}`);
    await c.d.linux.deleteLinkGroup(POD_VETH_GROUP, rec.netns, late).catch((e: Error) => c.log(`undo ${rec.containerId}: deleting the pod's veths in ${rec.netns} at once failed (${e.message}): one by one`));
  }
}

export const veth: InterfaceKind<VethResource> = {
  podEnd: 'outlives-vpp',

  async begin(c, _pod, ifs) {
    const { linux, vswitch: vs, config } = c.d;
    // On a CustomNetwork (a VXLAN segment between nodes) the pod's kernel segments TCP itself:
    // VPP cannot segment a GSO packet it puts into a VXLAN tunnel (the frame keeps the whole
    // packet's IP length and is dropped at the other end). Pool members send GSO: not for those.
    const overlay = (network: string) => network !== DEFAULT_NETWORK && network !== STUB_NETWORK;
    // Checked before the first one moves into the pod, so the moves follow each other.
    const pooled = ifs.filter((ci) => !overlay(ci.network)).length;
    const fit = c.d.pool && pooled > 0 ? await c.d.pool.checkAhead(pooled) : undefined;
    return {
      async create(rec, st, tag) {
        // With the pool empty a member is made for the pod: lent like the others, it goes back to
        // the pool at DEL instead of an af_packet_delete (a forwarding pause for every pod).
        const pool = overlay(st.network) ? undefined : c.d.pool;
        let member = await pool?.take(fit);
        if (pool && !member) {
          member = await pool.make();
          c.log(`ADD ${rec.containerId}: the veth pool is empty: member ${member.hostName} made for ${st.name}`);
        }
        if (member) return fromPool(c, rec, st, tag, member);
        const hostName = vethHostName(rec.containerId, st.name), podMac = randomMac();
        await c.record(rec, { kind: 'veth', ifName: st.name, hostName });
        await linux.createVethPair({ hostName, podName: st.name, netns: rec.netns!, podMac, up: true, group: POD_VETH_GROUP, ...(config.mtu ? { mtu: config.mtu } : {}), ...(overlay(st.network) ? { noGso: true } : {}) });
        const a = await vs.createAfPacket({ hostIfName: hostName, tag, txFrames: POD_AF_PACKET_TX_FRAMES });
        await c.record(rec, { kind: 'afpacket', ifName: st.name, hostIfName: hostName, swIfIndex: a.swIfIndex, tag });
        return { ...(await lowerMtu(c, a)), podMac };
      },
    };
  },

  resources: {
    veth: {
      undo: (c, rec, r) => deletePodVeths(c, rec, r.hostName),
      background: true, // beside the af_packet on it (see afpacket)
      // The af_packet is tagged after it is created (or, from the pool, re-tagged for the pod):
      // one without the pod's tag is deleted before the veth it sits on, a lent pool member that
      // still has the pool's tag goes back to the pool (the pod's undo skips an interface without
      // its tag). A member moved into a pod by an agent before the redirects is the first case.
      async untagged(c, rec, r, dump) {
        const a = findResource(rec, 'afpacket', r.ifName);
        if (a?.pool && dump.some((x) => x.swIfIndex === a.swIfIndex && x.tag === poolTag(a.hostIfName))) {
          await handBack(c, rec, a, a.pool);
          c.log(`undo ${rec.containerId}: pool member ${a.hostIfName} was not re-tagged for ${r.ifName} yet: handed back`);
          return;
        }
        const i = dump.find((x) => x.name === `${AF_PACKET_PREFIX}${r.hostName}` && (x.tag === '' || x.tag === poolTag(r.hostName)));
        if (!i) return;
        await unlessGone(c.d.vswitch.deleteAfPacket({ hostIfName: r.hostName, swIfIndex: i.swIfIndex }));
        c.log(`undo ${rec.containerId}: deleted ${i.name} (${i.tag ? 'still tagged for the veth pool' : 'created before the agent could tag it'})`);
      },
      missing: (_c, _rec, r, host) => (host.links.has(r.hostName) ? [] : [`host end ${r.hostName} of veth ${r.ifName} is gone`]),
    },
    afpacket: {
      undo: (c, rec, r) => (r.pool ? handBack(c, rec, r, r.pool) : c.d.vswitch.deleteAfPacket({ hostIfName: r.hostIfName, swIfIndex: r.swIfIndex })),
      // Beside the deletion of the veth under it: each waits out RCU grace periods in the kernel
      // (VPP's socket teardown, the link's unregistration), and overlapped they share them. VPP
      // does not need the host link to delete an af_packet (by name; a socket whose link went
      // first only makes VPP log "af_packet_fd_error: Network is down"), and what refers to the
      // interface in VPP (its route and neighbour, recorded after it) is undone, awaited, before it.
      background: true,
      missing: (_c, _rec, r, host) => (r.pool && !host.links.has(r.pool.peerName) ? [`pool member peer ${r.pool.peerName} of ${r.ifName} is gone`] : []),
    },
  },

  async recreate(c, rec, st, tag) {
    const a = findResource(rec, 'afpacket', st.name);
    if (!a) throw new Error(`${st.name}: no af_packet recorded`);
    return lowerMtu(c, await c.d.vswitch.createAfPacket({ hostIfName: a.hostIfName, tag, txFrames: POD_AF_PACKET_TX_FRAMES }));
  },

  ownsVppName: (name) => name.startsWith(AF_PACKET_PREFIX),
  deleteOrphan: (c, i) => c.d.vswitch.deleteAfPacket({ hostIfName: i.name.slice(AF_PACKET_PREFIX.length), swIfIndex: i.swIfIndex }),

  result(rec, st) {
    const host = findResource(rec, 'veth', st.name);
    return [podInterface(rec, st, veth.podEnd), ...(host ? [{ name: host.hostName }] : [])];
  },
};
