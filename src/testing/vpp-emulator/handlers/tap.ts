// TEST DOUBLE handlers: tapv2 and af_packet.
//  tap_create_v2: id ~0 allocates the lowest unused id; a used id → VNET_API_ERROR_INVALID_INTERFACE
//  (VPP tap.c: "interface already exists"); a node without /dev/vhost-net → SYSCALL_ERROR_1 (tap.c's
//  open of /dev/vhost-net, the only -11 there); the kernel side (host_if_name, default tap<id>, in
//  host_namespace) is the onTapCreate hook's job, or the emulator's kernelTaps. Interface name
//  "tap<id>", dev type "virtio".
//  af_packet_create*: duplicate host_if_name → IF_ALREADY_EXISTS; a missing host interface →
//  INVALID_INTERFACE; the link is up from the start, then follows admin state (device.c);
//  dev type "af-packet"; af_packet_delete of an unknown name → SYSCALL_ERROR_1 (VPP af_packet.c).
import * as fs from 'node:fs';
import type { Handler, HandlerContext, Value } from '../handler.js';
import { E, fail, isZero, randomMac, runHook, Retval } from '../handler.js';
import { setAdmin } from './interface.js';

async function tapCreate(req: Value, ctx: HandlerContext): Promise<Value> {
  let id = req.id >>> 0;
  if (id === 0xffffffff) {
    id = 0;
    while (ctx.state.tapIds.has(id)) id++;
  } else if (ctx.state.tapIds.has(id)) {
    fail('INVALID_INTERFACE', `tap id ${id}: interface already exists`);
  }
  const hostIfName = req.host_if_name_set && req.host_if_name ? String(req.host_if_name) : `tap${id}`;
  const hostNamespace = req.host_namespace_set ? String(req.host_namespace ?? '') : '';
  const hostBridge = req.host_bridge_set ? String(req.host_bridge ?? '') : '';
  for (const i of ctx.state.interfaces.values()) {
    if (i.tap && i.tap.hostIfName === hostIfName && i.tap.hostNamespace === hostNamespace) {
      fail('SYSCALL_ERROR_2', `host interface ${hostIfName} already exists in namespace "${hostNamespace}"`);
    }
  }
  if (!ctx.vhostNet) fail('SYSCALL_ERROR_1', "open '/dev/vhost-net': No such file or directory (the emulated node has no vhost-net)");
  await runHook('onTapCreate', ctx.hooks.onTapCreate && (() => ctx.hooks.onTapCreate!({ request: req, id, hostIfName, hostNamespace, hostBridge })));
  ctx.state.tapIds.add(id);
  const useRandom = req.use_random_mac !== false;
  const i = ctx.state.addInterface({
    kind: 'tap', name: `tap${id}`, devType: 'virtio', mac: !useRandom && !isZero(req.mac_address) ? req.mac_address : randomMac(),
    linkUp: false, tag: String(req.tag ?? ''),
    tap: { id, hostIfName, hostNamespace, hostBridge, hostMtu: req.host_mtu_set ? req.host_mtu_size : 0, request: req },
  });
  return { sw_if_index: i.swIfIndex };
}

async function afPacketCreate(req: Value, ctx: HandlerContext): Promise<Value> {
  const hostIfName = String(req.host_if_name ?? '');
  if (!hostIfName) fail('INVALID_INTERFACE', 'empty host_if_name');
  for (const i of ctx.state.interfaces.values()) {
    if (i.afPacket?.hostIfName === hostIfName) fail('IF_ALREADY_EXISTS', `af_packet on ${hostIfName} already exists`);
  }
  if (ctx.hooks.onAfPacketCreate) {
    await runHook('onAfPacketCreate', () => ctx.hooks.onAfPacketCreate!({ request: req, hostIfName }));
  } else if (!fs.existsSync(`/sys/class/net/${hostIfName}`)) {
    throw new Retval(E('INVALID_INTERFACE'), `host interface ${hostIfName} does not exist`);
  }
  const i = ctx.state.addInterface({
    kind: 'af_packet', name: `host-${hostIfName}`, devType: 'af-packet', linkUp: true,
    mac: req.use_random_hw_addr || isZero(req.hw_addr) ? randomMac() : req.hw_addr, afPacket: { hostIfName },
  });
  return { sw_if_index: i.swIfIndex };
}

export const tapHandlers: Record<string, Handler> = {
  tap_create_v2: tapCreate,
  tap_create_v3: tapCreate,

  tap_delete_v2: async (req, ctx) => {
    const i = ctx.state.interfaces.get(req.sw_if_index);
    if (!i || i.kind !== 'tap') fail('INVALID_SW_IF_INDEX', `sw_if_index ${req.sw_if_index} is not a tap`);
    await runHook('onTapDelete', ctx.hooks.onTapDelete && (() => ctx.hooks.onTapDelete!(i)));
    setAdmin(ctx, i, false);
    ctx.state.tapIds.delete(i.tap!.id);
    ctx.state.removeInterface(i.swIfIndex);
    ctx.interfaceEvent(i, true);
    return {};
  },

  af_packet_create: afPacketCreate,
  af_packet_create_v2: afPacketCreate,
  af_packet_create_v3: afPacketCreate,

  af_packet_delete: async (req, ctx) => {
    const name = String(req.host_if_name ?? '');
    const i = [...ctx.state.interfaces.values()].find((x) => x.afPacket?.hostIfName === name);
    if (!i) fail('SYSCALL_ERROR_1', `host interface ${name} does not exist`);
    await runHook('onAfPacketDelete', ctx.hooks.onAfPacketDelete && (() => ctx.hooks.onAfPacketDelete!(i)));
    setAdmin(ctx, i, false);
    ctx.state.removeInterface(i.swIfIndex);
    ctx.interfaceEvent(i, true);
    return {};
  },

  af_packet_dump: (_req, ctx) => {
    for (const i of ctx.state.interfaces.values()) {
      if (i.afPacket) ctx.details('af_packet_details', { sw_if_index: i.swIfIndex, host_if_name: i.afPacket.hostIfName });
    }
    return undefined;
  },
};
