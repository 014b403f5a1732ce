// TEST DOUBLE handlers: the vxlan plugin (vxlan.c, vxlan_api.c), IPv4 unicast tunnels.
//  vxlan_add_del_tunnel_v3: encap_vrf_id must name a table → NO_SUCH_FIB; src and dst of different
//  families → INVALID_VALUE; src == dst → SAME_SRC_DST. A tunnel is keyed by (src, dst, vni,
//  encap table, src_port); ports 0 mean 4789. Adding an existing key → TUNNEL_EXIST, deleting an
//  absent one → NO_SUCH_ENTRY. Each tunnel takes an index of a pool (VPP's pools hand out the
//  last freed index first); instance ~0 names the tunnel after it, a used instance →
//  INSTANCE_IN_USE (the index goes back to the pool). The interface, "vxlan_tunnel<instance>", an ethernet interface with a random
//  02:fe MAC, is admin up (and so link up) from the start; deleting it takes it out of its bridge
//  domain. Multicast destinations and is_l3 are not modelled (refused with INVALID_VALUE).
import type { Handler, HandlerContext, Value } from '../handler.js';
import { fail, randomMac } from '../handler.js';
import type { ApiAddress, VxlanInfo } from '../state.js';

const PORT = 4789;
const ip4 = (a: ApiAddress) => (a.af === 0 && a.un.ip4 ? [...a.un.ip4].join('.') : undefined);
const keyOf = (t: Pick<VxlanInfo, 'src' | 'dst' | 'vni' | 'encapVrfId' | 'srcPort'>) => `${t.src}>${t.dst}/${t.vni}/${t.encapVrfId}/${t.srcPort}`;

function tunnels(ctx: HandlerContext) {
  return [...ctx.state.interfaces.values()].filter((i) => i.vxlan);
}

export const vxlanHandlers: Record<string, Handler> = {
  vxlan_add_del_tunnel_v3: (req: Value, ctx) => {
    const encapVrfId = req.encap_vrf_id >>> 0;
    const src = ip4(req.src_address), dst = ip4(req.dst_address);
    if (!ctx.state.ipTables.has(`${req.src_address.af === 1 ? 6 : 4}:${encapVrfId}`)) fail('NO_SUCH_FIB', `encap table ${encapVrfId} does not exist`);
    if (req.src_address.af !== req.dst_address.af) fail('INVALID_VALUE', 'src and dst of different address families');
    if (!src || !dst) fail('INVALID_VALUE', 'the emulator models IPv4 tunnels only');
    if (src === dst) fail('SAME_SRC_DST', `src and dst are both ${src}`);
    if (Number(dst.split('.')[0]) >= 224 && Number(dst.split('.')[0]) < 240) fail('INVALID_VALUE', 'multicast tunnels are not modelled');
    if (req.is_l3) fail('INVALID_VALUE', 'is_l3 tunnels are not modelled');
    const want = { src, dst, vni: req.vni >>> 0, encapVrfId, srcPort: req.src_port || PORT, dstPort: req.dst_port || PORT };
    const have = tunnels(ctx).find((i) => keyOf(i.vxlan!) === keyOf(want));
    if (!req.is_add) {
      if (!have) fail('NO_SUCH_ENTRY', `no tunnel ${keyOf(want)}`);
      ctx.state.vxlanInstances.delete(have.vxlan!.instance);
      ctx.state.vxlanPool.free.push(have.vxlan!.devInstance);
      ctx.state.removeInterface(have.swIfIndex);
      ctx.interfaceEvent(have, true);
      return { sw_if_index: have.swIfIndex };
    }
    if (have) fail('TUNNEL_EXIST', `tunnel ${keyOf(want)} exists (sw_if_index ${have.swIfIndex})`);
    const pool = ctx.state.vxlanPool;
    const devInstance = pool.free.pop() ?? pool.size++;
    const instance = req.instance >>> 0 === 0xffffffff ? devInstance : req.instance >>> 0;
    if (ctx.state.vxlanInstances.has(instance)) {
      pool.free.push(devInstance);
      fail('INSTANCE_IN_USE', `vxlan instance ${instance} is in use`);
    }
    ctx.state.vxlanInstances.add(instance);
    const i = ctx.state.addInterface({
      kind: 'vxlan', name: `vxlan_tunnel${instance}`, devType: 'VXLAN', mac: randomMac(), adminUp: true, linkUp: true,
      vxlan: { ...want, instance, devInstance, decapNextIndex: req.decap_next_index >>> 0 === 0xffffffff ? 1 : req.decap_next_index >>> 0 },
    });
    ctx.interfaceEvent(i);
    return { sw_if_index: i.swIfIndex };
  },

  vxlan_tunnel_v2_dump: (req, ctx) => {
    const want = req.sw_if_index >>> 0;
    for (const i of tunnels(ctx).sort((a, b) => a.swIfIndex - b.swIfIndex)) {
      if (want !== 0xffffffff && i.swIfIndex !== want) continue;
      const t = i.vxlan!;
      const addr = (s: string) => ({ af: 0, un: { ip4: Uint8Array.from(s.split('.').map(Number)) } });
      ctx.details('vxlan_tunnel_v2_details', {
        sw_if_index: i.swIfIndex, instance: t.instance, src_address: addr(t.src), dst_address: addr(t.dst), src_port: t.srcPort, dst_port: t.dstPort,
        mcast_sw_if_index: 0xffffffff, encap_vrf_id: t.encapVrfId, decap_next_index: t.decapNextIndex, vni: t.vni,
      });
    }
    return undefined;
  },
};
