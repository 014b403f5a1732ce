// TEST DOUBLE extension points: where a real VPP would touch the host, the emulator calls these.
// A hook runs after the request was validated and before the state changes; throwing fails the
// request (retval = err.retval if it is a number, else VNET_API_ERROR_SYSCALL_ERROR_1), the way
// VPP reports netlink/syscall failures. Hooks may be async; VPP handles one request at a time
// and so does the emulator, so a slow hook delays later requests.
import type { EmuInterface } from './state.js';

export interface TapCreateRequest {
  /** tap_create_v2 as decoded, plus the resolved values below. */
  request: Record<string, any>;
  id: number;
  /** Kernel-side name: host_if_name if set, else "tap<id>". Real VPP creates it in hostNamespace. */
  hostIfName: string;
  /** "" = VPP's own namespace. */
  hostNamespace: string;
  hostBridge: string;
}

export interface AfPacketCreateRequest {
  request: Record<string, any>;
  hostIfName: string;
}

export interface MemifCreateRequest {
  request: Record<string, any>;
  socketId: number;
  socketFilename: string;
  isMaster: boolean;
}

export interface EmulatorHooks {
  onTapCreate?(req: TapCreateRequest): void | Promise<void>;
  onTapDelete?(i: EmuInterface): void | Promise<void>;
  /**
   * Real VPP needs an existing host interface. Without this hook the emulator checks
   * /sys/class/net/<host_if_name> in its own network namespace (VNET_API_ERROR_INVALID_INTERFACE if absent).
   */
  onAfPacketCreate?(req: AfPacketCreateRequest): void | Promise<void>;
  onAfPacketDelete?(i: EmuInterface): void | Promise<void>;
  onMemifCreate?(req: MemifCreateRequest): void | Promise<void>;
  onMemifDelete?(i: EmuInterface): void | Promise<void>;
  /** After any admin/link change (the same moments sw_interface_event is sent). */
  onInterfaceChange?(i: EmuInterface, deleted: boolean): void;
}
