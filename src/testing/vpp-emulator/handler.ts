// TEST DOUBLE plumbing: what a message handler gets and how it answers.
//
// A handler returns the reply's fields (sent as `<request>_reply`, or `replyName`, with the
// request's context and retval 0 unless given), or undefined when VPP sends no reply (dumps:
// they send details through ctx.details and the client's control_ping ends the dump).
// Throwing Retval answers with that retval, as VPP's REPLY_MACRO does with `rv`.
import { vppErrnoCode } from '../../vppapi/client/api-errno.js';
import type { VppState, EmuInterface } from './state.js';
import type { EmulatorHooks } from './hooks.js';

export type Value = Record<string, any>;

export interface Registration {
  /** client_index / sockclnt_create_reply.index: pool index | 0x80000000. */
  handle: number;
  name: string;
  /** want_interface_events registration (pid to echo in events). */
  interfaceEvents: { pid: number } | null;
}

export interface HandlerContext {
  state: VppState;
  hooks: EmulatorHooks;
  registration: Registration;
  runtimeDir: string;
  /** The emulated node has /dev/vhost-net (tap v2 can be created). */
  vhostNet: boolean;
  /** Page size of stream (*_get) calls before VPP answers EAGAIN with a cursor. */
  streamPageSize: number;
  versionString: string;
  /** Send one details message to the requesting client, with the request's context. */
  details(name: string, value: Value): void;
  /** Tell subscribed clients about an interface state change (sw_interface_event). */
  interfaceEvent(i: EmuInterface, deleted?: boolean): void;
  log(msg: string): void;
}

export type Handler = (req: Value, ctx: HandlerContext) => Value | undefined | Promise<Value | undefined>;

export interface HandlerResult { replyName?: string }

/** A reply with retval != 0. `why` goes to the emulator log (VPP logs similar warnings). */
export class Retval extends Error {
  /** Other reply fields VPP fills in even on error (REPLY_MACRO2). */
  fields: Value = {};
  constructor(readonly code: number, why: string) {
    super(why);
    this.name = 'Retval';
  }
}

/** VNET_API_ERROR_* by name, e.g. E('INVALID_SW_IF_INDEX') === -2. */
export function E(name: string): number {
  return vppErrnoCode(name);
}

export function fail(name: string, why: string): never {
  throw new Retval(E(name), why);
}

/** VALIDATE_SW_IF_INDEX: unknown index → VNET_API_ERROR_INVALID_SW_IF_INDEX. */
export function iface(ctx: HandlerContext, swIfIndex: number, errName = 'INVALID_SW_IF_INDEX'): EmuInterface {
  const i = ctx.state.interfaces.get(swIfIndex);
  if (!i) fail(errName, `sw_if_index ${swIfIndex} does not exist`);
  return i;
}

/** IF_STATUS_API_FLAG_ADMIN_UP | IF_STATUS_API_FLAG_LINK_UP */
export function statusFlags(i: EmuInterface): number {
  return (i.adminUp ? 1 : 0) | (i.linkUp ? 2 : 0);
}

/**
 * How VPP picks an id for "~0 = any" (memif_get_unused_socket_id, bd_get_unused_id): its static seed
 * is advanced by clib's random_u32 (an LCG: 1013904223 first), then ids around it are tried (+0,
 * +1, -1, +2, -2, ...), masked, skipping `invalid` ones, until one is not in use; ~0 if none.
 */
export function unusedId(ctx: HandlerContext, which: keyof VppState['idSeeds'], mask: number, invalid: number, inUse: (id: number) => boolean): number {
  const seeds = ctx.state.idSeeds;
  for (let j = 0; j < 1 << 10; j++) {
    seeds[which] = (Math.imul(1664525, seeds[which]) + 1013904223) >>> 0;
    for (let i = 0; i < 1 << 10; i++) {
      seeds[which] = ((seeds[which] + (2 * (i % 2) - 1) * i) & mask) >>> 0;
      if (seeds[which] !== invalid && !inUse(seeds[which])) return seeds[which];
    }
  }
  return 0xffffffff;
}

/** Locally administered MAC like VPP's random ones: 02:fe:xx:xx:xx:xx. */
export function randomMac(): Uint8Array {
  const m = new Uint8Array(6);
  m[0] = 0x02;
  m[1] = 0xfe;
  for (let k = 2; k < 6; k++) m[k] = Math.floor(Math.random() * 256);
  return m;
}

export function isZero(b: Uint8Array | undefined): boolean {
  return !b || b.every((x) => x === 0);
}

/** Hooks signal failure by throwing; `retval` on the error selects the code, default SYSCALL_ERROR_1. */
export async function runHook<T>(name: string, fn: (() => T | Promise<T>) | undefined): Promise<void> {
  if (!fn) return;
  try {
    await fn();
  } catch (err) {
    const code = typeof (err as { retval?: unknown }).retval === 'number' ? (err as { retval: number }).retval : E('SYSCALL_ERROR_1');
    throw new Retval(code, `${name} hook failed: ${(err as Error).message}`);
  }
}
