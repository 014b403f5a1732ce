// veth: a veth pair whose pod end is the pod's interface and whose host end (in the agent's netns)
// VPP attaches to as an af_packet interface. The pair is Linux's: it outlives a VPP restart.
import { createHash } from 'node:crypto';
import { DEFAULT_NETWORK, STUB_NETWORK } from '../../annotations.js';
import { randomMac } from '../../mac.js';
import type { PodInterfaceState, PodRecord } from '../state.js';
import type { PoolMember } from '../veth-pool.js';
import { poolTag, type CreatedInterface } from '../vswitch.js';
import { findResource, movingIntoPod, podInterface, unlessGone, type InterfaceKind, type KindContext, type KindCreated, type VppIfRecord } from './kind.js';

export type VethResource =
  | { kind: 'veth'; ifName: string; hostName: string }
  | ({ kind: 'afpacket'; hostIfName: string } & VppIfRecord);

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
 * A member of the veth pool (veth-pool.ts) becomes the pod's interface: recorded as a veth made for
 * the pod would be (host end, then the af_packet once it carries the pod's tag), the peer moved
 * into the pod's netns under the pod's interface name in one request. A crash at any point leaves
 * the member either in the pod's record (undone by its rollback: the veth's `untagged` handler
 * also takes an af_packet still tagged for the pool) or nowhere (the pool's sweep deletes it).
 */
async function fromPool(c: KindContext, rec: PodRecord, st: PodInterfaceState, tag: string, m: PoolMember): Promise<KindCreated> {
  // Both recorded in one save: until the re-tag lands, the undo takes the af_packet by its pool tag
  // (the veth's `untagged`) and skips it by sw_if_index (not the pod's tag), and deleting the host
  // end removes the pair wherever the peer is by then. The move starts beside the save, not after
  // it (it is the longest step of an ADD): a crash before the save lands leaves a member that is
  // in no record and no longer in the pool (its peer gone from the agent's namespace), which the
  // pool's reconcile deletes by its pool names and tag like any unknown one.
  const saved = c.record(rec, { kind: 'veth', ifName: st.name, hostName: m.hostName }, { kind: 'afpacket', ifName: st.name, hostIfName: m.hostName, swIfIndex: m.swIfIndex, tag });
  const podEndReady = movingIntoPod(c, { name: m.peerName, netns: rec.netns!, newName: st.name });
  try {
    await saved;
    await c.d.vswitch.tagInterface(m.swIfIndex, tag);
  } catch (e) {
    await podEndReady.catch(() => undefined); // settled before the rollback deletes the pair
    throw e;
  }
  c.log(`ADD ${rec.containerId}: ${st.name} is pool member ${m.hostName} (sw_if_index ${m.swIfIndex})`);
  return { swIfIndex: m.swIfIndex, ...(m.mac ? { mac: m.mac } : {}), ...(m.peerMac ? { podMac: m.peerMac } : {}), podEndReady };
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
        const member = overlay(st.network) ? undefined : await c.d.pool?.take(fit);
        if (member) return fromPool(c, rec, st, tag, member);
        const hostName = vethHostName(rec.containerId, st.name), podMac = randomMac();
        await c.record(rec, { kind: 'veth', ifName: st.name, hostName });
        await linux.createVethPair({ hostName, podName: st.name, netns: rec.netns!, podMac, up: true, ...(config.mtu ? { mtu: config.mtu } : {}), ...(overlay(st.network) ? { noGso: true } : {}) });
        const a = await vs.createAfPacket({ hostIfName: hostName, tag, txFrames: POD_AF_PACKET_TX_FRAMES });
        await c.record(rec, { kind: 'afpacket', ifName: st.name, hostIfName: hostName, swIfIndex: a.swIfIndex, tag });
        return { ...(await lowerMtu(c, a)), podMac };
      },
    };
  },

  resources: {
    veth: {
      undo: async (c, _rec, r) => { await c.d.linux.deleteLinkIfExists(r.hostName); },
      background: true, // beside the af_packet on it (see afpacket)
      // The af_packet is tagged after it is created (or, from the pool, re-tagged for the pod):
      // one without the pod's tag is deleted before the veth it sits on.
      async untagged(c, rec, r, dump) {
        const i = dump.find((x) => x.name === `${AF_PACKET_PREFIX}${r.hostName}` && (x.tag === '' || x.tag === poolTag(r.hostName)));
        if (!i) return;
        await unlessGone(c.d.vswitch.deleteAfPacket({ hostIfName: r.hostName, swIfIndex: i.swIfIndex }));
        c.log(`undo ${rec.containerId}: deleted ${i.name} (${i.tag ? 'still tagged for the veth pool' : 'created before the agent could tag it'})`);
      },
      missing: (_c, _rec, r, host) => (host.links.has(r.hostName) ? [] : [`host end ${r.hostName} of veth ${r.ifName} is gone`]),
    },
    afpacket: {
      undo: (c, _rec, r) => c.d.vswitch.deleteAfPacket({ hostIfName: r.hostIfName, swIfIndex: r.swIfIndex }),
      // Beside the deletion of the veth under it: each waits out RCU grace periods in the kernel
      // (VPP's socket teardown, the link's unregistration), and overlapped they share them. VPP
      // does not need the host link to delete an af_packet (by name; a socket whose link went
      // first only makes VPP log "af_packet_fd_error: Network is down"), and what refers to the
      // interface in VPP (its route and neighbour, recorded after it) is undone, awaited, before it.
      background: true,
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
