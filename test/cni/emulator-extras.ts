// Handlers the VPP emulator (test/support/vpp-emulator, not ours) does not have yet but the CNI
// agent sends: create_loopback, delete_loopback, sw_interface_tag_add_del. Passed through the
// emulator's `handlers` option; return codes as in VPP's interface_api.c / vnet ethernet.
import type { Handler } from '../support/vpp-emulator/index.js';
import { fail } from '../support/vpp-emulator/index.js';
import { randomBytes } from 'node:crypto';

let loopIds = 0;

export const cniEmulatorHandlers: Record<string, Handler> = {
  create_loopback: (req, ctx) => {
    const mac = req.mac_address && [...req.mac_address].some((b: number) => b) ? req.mac_address : Uint8Array.from([0xde, 0xad, 0, 0, ...randomBytes(2)]);
    const i = ctx.state.addInterface({ kind: 'loopback' as never, name: `loop${loopIds++}`, devType: 'Loopback', mac });
    return { sw_if_index: i.swIfIndex };
  },
  delete_loopback: (req, ctx) => {
    const i = ctx.state.interfaces.get(req.sw_if_index);
    if (!i || i.devType !== 'Loopback') fail('INVALID_SW_IF_INDEX', `sw_if_index ${req.sw_if_index} is not a loopback`);
    ctx.state.removeInterface(i.swIfIndex);
    return {};
  },
  sw_interface_tag_add_del: (req, ctx) => {
    const i = ctx.state.interfaces.get(req.sw_if_index);
    if (!i) fail('INVALID_SW_IF_INDEX', `sw_if_index ${req.sw_if_index}`);
    i.tag = req.is_add ? String(req.tag ?? '') : '';
    return {};
  },
};
