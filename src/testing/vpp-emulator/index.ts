// VPP emulator: a TEST DOUBLE speaking VPP's binary API socket protocol. See emulator.ts.
export { VppEmulator, startVppEmulator } from './emulator.js';
export type { VppEmulatorOptions, TableOptions } from './emulator.js';
export type { EmulatorHooks, TapCreateRequest, AfPacketCreateRequest, MemifCreateRequest } from './hooks.js';
export { VppState } from './state.js';
export type { EmuInterface, MemifSocket, BridgeDomain, IpTable, Route, ApiAddress, ApiPrefix, Neighbor } from './state.js';
export { Retval, E, fail } from './handler.js';
export type { Handler, HandlerContext, Registration } from './handler.js';
