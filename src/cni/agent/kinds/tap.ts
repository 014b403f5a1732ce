// tap: a VPP tap v2 whose Linux end is the pod's interface. VPP creates it in its own namespace
// under a staging name; the agent moves it into the pod by the netns path (tap_create_v2's
// host_namespace is a string[64], shorter than many CNI_NETNS paths) and names it there. The
// Linux end belongs to VPP (it holds the tun fd): it goes away when VPP deletes the tap or
// restarts, wherever it has been moved, and is set up again.
import { createHash } from 'node:crypto';
import type { PodInterfaceState, PodRecord } from '../state.js';
import type { CreatedInterface } from '../vswitch.js';
import { movingIntoPod, podInterface, type InterfaceKind, type KindContext, type KindCreated, type VppIfRecord } from './kind.js';

export type TapResource = { kind: 'tap' } & VppIfRecord;

/** The name a pod tap has in VPP's namespace until the agent moves it into the pod (≤ 15 bytes). */
export function tapStagingName(containerId: string, ifName: string): string {
  return 'tsvt' + createHash('sha256').update(`${containerId}/${ifName}/tap`).digest('hex').slice(0, 11);
}

/** Creates the tap in VPP, lets `created` record it, then moves it into the pod as `st.name`. */
async function podTap(c: KindContext, rec: PodRecord, st: PodInterfaceState, tag: string, created: (t: CreatedInterface) => Promise<void>): Promise<KindCreated> {
  const staging = tapStagingName(rec.containerId, st.name);
  const t = await c.d.vswitch.createTap({ hostIfName: staging, tag });
  await created(t);
  return { ...t, podEndReady: movingIntoPod(c, { name: staging, netns: rec.netns!, newName: st.name }) };
}

export const tap: InterfaceKind<TapResource> = {
  podEnd: 'dies-with-vpp',

  async begin(c) {
    return {
      // Recorded before the move: deleting it in VPP removes the device wherever it is.
      create: (rec, st, tag) => podTap(c, rec, st, tag, (t) => c.record(rec, { kind: 'tap', ifName: st.name, swIfIndex: t.swIfIndex, tag })),
    };
  },

  resources: {
    tap: { undo: (c, _rec, r) => c.d.vswitch.deleteTap(r.swIfIndex) },
  },

  async recreate(c, rec, st, tag) {
    await c.d.linux.deleteLinkIfExists(st.name, rec.netns!); // a stale kernel tap would block the name
    return podTap(c, rec, st, tag, async () => {});
  },

  ownsVppName: (name) => name.startsWith('tap'),
  deleteOrphan: (c, i) => c.d.vswitch.deleteTap(i.swIfIndex),
  result: (rec, st) => [podInterface(rec, st, tap.podEnd)],
};
