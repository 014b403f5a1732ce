// TEST DOUBLE handlers: control_ping, show_version (vpe), want_interface_events.
import type { Handler } from '../handler.js';
import { fail } from '../handler.js';

export const coreHandlers: Record<string, Handler> = {
  control_ping: (_req, ctx) => ({ client_index: ctx.registration.handle, vpe_pid: process.pid }),

  show_version: (_req, ctx) => ({
    program: 'vpe',
    version: ctx.versionString,
    build_date: 'test double, not VPP',
    build_directory: '/nonexistent/vpp-emulator',
  }),

  // VPP's want_* handlers (vlibapi/api_helper_macros.h): enabling twice or disabling when not
  // registered is VNET_API_ERROR_INVALID_REGISTRATION.
  want_interface_events: (req, ctx) => {
    const on = req.enable_disable !== 0;
    const reg = ctx.registration;
    if (on && reg.interfaceEvents) fail('INVALID_REGISTRATION', `pid ${req.pid}: interface events already enabled`);
    if (!on && !reg.interfaceEvents) fail('INVALID_REGISTRATION', `pid ${req.pid}: interface events not enabled`);
    reg.interfaceEvents = on ? { pid: req.pid >>> 0 } : null;
    return {};
  },
};
