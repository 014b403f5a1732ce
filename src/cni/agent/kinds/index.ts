// The table of pod interface kinds: the `contivpp.io/custom-if` type names (CUSTOM_IF_TYPES in
// annotations.ts) and the module that implements each. Adding a kind is one module (see kind.ts
// and docs/cni.md) and one line here; the compiler refuses a type name without a module.
import type { CustomIfType } from '../../annotations.js';
import type { InterfaceKind, Kind, ResourceHandler, VppIfRecord } from './kind.js';
import { tap } from './tap.js';
import { veth } from './veth.js';
import { memif } from './memif.js';

export const KINDS = {
  tap,
  veth,
  memif,
} as const satisfies { [T in CustomIfType]: InterfaceKind<{ kind: string }> };

type ResourcesOf<K> = K extends InterfaceKind<infer R> ? R : never;
/** Everything the kinds record in a pod record (state.ts adds what the pipeline records itself). */
export type KindResource = ResourcesOf<(typeof KINDS)[CustomIfType]>;

/** The resources that are a pod interface's VPP interface (tap, afpacket, memif). */
export type VppIfResource = Extract<KindResource, VppIfRecord>;

export function isVppIf(r: { kind: string }): r is VppIfResource {
  return 'tag' in r && 'swIfIndex' in r && 'ifName' in r;
}

export function kindOf(type: CustomIfType): Kind {
  return KINDS[type];
}

/** The kind whose VPP interface names `name` (tap0, host-x, memif1/1) has. */
export function kindOfVppName(name: string): Kind | undefined {
  return Object.values(KINDS).find((k: Kind) => k.ownsVppName(name));
}

// Each resource kind has exactly one owner (checked here, once, at load).
const handlers = new Map<string, ResourceHandler<KindResource>>();
for (const k of Object.values(KINDS)) {
  for (const [name, h] of Object.entries<ResourceHandler<KindResource>>(k.resources)) {
    if (handlers.has(name)) throw new Error(`internal: two interface kinds record "${name}" resources`);
    handlers.set(name, h);
  }
}

/** How a resource a kind recorded is undone and checked. */
export function resourceHandler(r: KindResource): ResourceHandler<KindResource> {
  return handlers.get(r.kind)!;
}
