// TEST DOUBLE handlers: ip_neighbor.api (add/del, dump), as VPP's ip_neighbor_api.c and
// ip_neighbor.c answer: unknown sw_if_index → INVALID_SW_IF_INDEX; adding an existing entry
// updates it (rv 0); deleting an absent one → NO_SUCH_ENTRY. Entries go with their interface.
import type { Handler } from '../handler.js';
import { fail, iface } from '../handler.js';
import type { ApiAddress } from '../state.js';

const addrKey = (a: ApiAddress) => `${a.af}:${Buffer.from((a.af === 1 ? a.un.ip6 : a.un.ip4) ?? []).toString('hex')}`;
/** ip_neighbor_flags: STATIC 1, NO_FIB_ENTRY 2; VPP makes an entry without STATIC dynamic. */
const STATIC = 1;

export const neighborHandlers: Record<string, Handler> = {
  ip_neighbor_add_del: (req, ctx) => {
    const n = req.neighbor;
    const i = iface(ctx, n.sw_if_index);
    const key = `${i.swIfIndex}/${addrKey(n.ip_address)}`;
    if (req.is_add) {
      ctx.state.neighbors.set(key, { swIfIndex: i.swIfIndex, ipAddress: n.ip_address, mac: n.mac_address, flags: n.flags & STATIC });
      return { stats_index: 0 };
    }
    if (!ctx.state.neighbors.delete(key)) fail('NO_SUCH_ENTRY', `no neighbour ${key}`);
    return { stats_index: 0xffffffff };
  },

  ip_neighbor_dump: (req, ctx) => {
    const want = req.sw_if_index >>> 0;
    for (const n of ctx.state.neighbors.values()) {
      if ((want !== 0xffffffff && n.swIfIndex !== want) || n.ipAddress.af !== req.af) continue;
      ctx.details('ip_neighbor_details', { age: 0, neighbor: { sw_if_index: n.swIfIndex, flags: n.flags, mac_address: n.mac, ip_address: n.ipAddress } });
    }
    return undefined;
  },
};
