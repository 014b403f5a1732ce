// tap: a VPP tap v2 whose Linux end VPP creates in the pod's netns under the pod's interface name.
// The Linux end belongs to VPP: it goes away when VPP restarts and is set up again.
import { podInterface, type InterfaceKind, type VppIfRecord } from './kind.js';

export type TapResource = { kind: 'tap' } & VppIfRecord;

export const tap: InterfaceKind<TapResource> = {
  podEnd: 'dies-with-vpp',

  async begin(c) {
    return {
      async create(rec, st, tag) {
        const t = await c.d.vswitch.createTap({ hostIfName: st.name, hostNamespace: rec.netns!, tag });
        await c.record(rec, { kind: 'tap', ifName: st.name, swIfIndex: t.swIfIndex, tag });
        return t;
      },
    };
  },

  resources: {
    tap: { undo: (c, _rec, r) => c.d.vswitch.deleteTap(r.swIfIndex) },
  },

  async recreate(c, rec, st, tag) {
    await c.d.linux.deleteLinkIfExists(st.name, rec.netns!); // a stale kernel tap would block the name
    return c.d.vswitch.createTap({ hostIfName: st.name, hostNamespace: rec.netns!, tag });
  },

  ownsVppName: (name) => name.startsWith('tap'),
  deleteOrphan: (c, i) => c.d.vswitch.deleteTap(i.swIfIndex),
  result: (rec, st) => [podInterface(rec, st, tap.podEnd)],
};
