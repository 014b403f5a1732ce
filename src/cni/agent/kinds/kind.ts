// The contract of a pod interface kind. One module per kind (tap.ts, veth.ts, memif.ts) owns what
// the kind creates in VPP and Linux, how each thing it records is undone and checked, how its VPP
// interface is recognised as an orphan and re-created after a VPP restart, and what it adds to the
// pod and to the CNI result. The pipeline keeps what every kind shares: the order of operations,
// the pod record, addresses and networks, the VPP-side attachment (bridge domain or VRF, unnumbered,
// /32 route), the pod-side Linux configuration, and rollback. The table of kinds is ./index.ts.
import type { CustomInterface } from '../../annotations.js';
import type { CniInterface } from '../../spec.cjs';
import type { PipelineDeps } from '../pipeline.js';
import type { PodInterfaceState, PodRecord, Resource } from '../state.js';
import { VswitchError, type CreatedInterface, type VswitchInterface } from '../vswitch.js';

/** What the pipeline lends a kind. */
export interface KindContext {
  readonly d: PipelineDeps;
  log(msg: string): void;
  /**
   * Appends the resources to the pod record and saves it (once). A resource whose name is known up
   * front is recorded before it is created (a crash in between still undoes it); one VPP names is
   * recorded right after.
   */
  record(rec: PodRecord, ...rs: Resource[]): Promise<void>;
  /** Writes a pod-side configuration key to etcd; recorded first, compare-and-deleted by rollback and DEL. */
  writeEtcdKey(rec: PodRecord, key: string, value: string): Promise<void>;
}

/**
 * The VPP interface of one pod interface, as its kind records it. It is the pod's only while VPP
 * shows the same tag at that sw_if_index (VPP reuses indexes); the pipeline checks that before
 * undoing, in CHECK, in the orphan sweep and when it re-wires after a VPP restart.
 */
export interface VppIfRecord { ifName: string; swIfIndex: number; tag: string }

/** How one recorded resource kind is undone and checked. */
export interface ResourceHandler<R> {
  /** Removes what r names. "Already gone" is success: throw VswitchError with notFound, or return. */
  undo(c: KindContext, rec: PodRecord, r: R): Promise<void>;
  /**
   * Before undo: VPP interfaces created for r but never tagged (VPP tags some in a second call, and
   * the agent may be killed in between), found in `dump` by VPP's name for them, and deleted.
   */
  untagged?(c: KindContext, rec: PodRecord, r: R, dump: readonly VswitchInterface[]): Promise<void>;
  /**
   * Nothing undone after it needs it gone first: its undo may run in the background while the rest
   * of the pod is undone (a veth's kernel deletion and an af_packet's teardown in VPP each wait out
   * RCU grace periods; overlapped, they share them).
   */
  background?: boolean;
  /** CHECK: what of r is gone (beyond its VPP interface, which the pipeline checks). */
  missing?(c: KindContext, rec: PodRecord, r: R, host: { links: ReadonlySet<string> }): string[];
}

/** One handler per resource kind R has: a kind cannot record something it cannot undo. */
export type ResourceHandlers<R extends { kind: string }> = { [K in R['kind']]: ResourceHandler<Extract<R, { kind: K }>> };

/**
 * What the pod sees of the interface:
 * - 'none': no Linux interface (a memif: the pod's application owns its end);
 * - 'dies-with-vpp': a Linux interface VPP made, gone when VPP restarts (a tap): set up again;
 * - 'outlives-vpp': a Linux interface of its own (a veth): after a VPP restart only the gateway's
 *   MAC changes.
 * A Linux pod end gets the pipeline's configuration: up, the address, routes, the gateway's MAC.
 */
export type PodEnd = 'none' | 'dies-with-vpp' | 'outlives-vpp';

/**
 * A created interface whose pod end may still be on its way into the pod: moving a link between
 * namespaces waits for an RCU grace period under the kernel's rtnl lock (15-30 ms here), so the
 * pipeline goes on with the next interface meanwhile and awaits `podEndReady` before it
 * configures the pod end. Settles once the move ended either way (a rejection is the move's error).
 * `podMac`: the pod end's MAC when the kind chose it, so that VPP gets its static neighbour beside
 * the rest of the VPP side instead of after the pod side.
 */
export interface KindCreated extends CreatedInterface { podEndReady?: Promise<void>; podMac?: string }

/** One ADD's use of a kind, begun before anything of the pod is created. */
export interface KindAdd {
  /** Creates the VPP interface for `st` (and whatever it needs), recording each resource. */
  create(rec: PodRecord, st: PodInterfaceState, tag: string): Promise<KindCreated>;
  /** After every interface and the service endpoint exist: configuration the pod reads elsewhere (etcd). */
  finish?(rec: PodRecord): Promise<void>;
}

/** A kind as the pipeline drives it; InterfaceKind adds the resources it records. */
export interface Kind {
  readonly podEnd: PodEnd;
  /**
   * Starts an ADD for the pod's interfaces of this kind (`ifs`, in annotation order, eth0 first).
   * Runs before anything is created, so what it looks up (a device allocation) fails ADD with
   * nothing to undo.
   */
  begin(c: KindContext, pod: PodRecord['pod'], ifs: readonly CustomInterface[]): Promise<KindAdd>;
  /**
   * After VPP lost them (it restarted): called once per pod with every lost VPP interface of the
   * pod, before `recreate`, for what they share (a memif socket).
   */
  beforeRecreate?(c: KindContext, rec: PodRecord, lost: readonly VppIfRecord[]): Promise<void>;
  /** Re-creates the VPP interface of `st` with the recorded tag, ids and secrets. */
  recreate(c: KindContext, rec: PodRecord, st: PodInterfaceState, tag: string): Promise<KindCreated>;
  /** Whether VPP's name for an interface (tap0, host-x, memif1/1) is one of this kind's. */
  ownsVppName(name: string): boolean;
  /** Deletes a tagged VPP interface of this kind that no pod record owns. */
  deleteOrphan(c: KindContext, i: VswitchInterface): Promise<void>;
  /**
   * The MAC of the pod end when the kind knows it without a Linux interface (a memif whose pod
   * side the agent configures): VPP gets it as the static neighbour of the pod's address.
   */
  podMac?(st: PodInterfaceState): string | undefined;
  /** What the CNI result lists for `st`; the first entry is the one its IP configuration names. */
  result(rec: PodRecord, st: PodInterfaceState): CniInterface[];
}

export interface InterfaceKind<R extends { kind: string }> extends Kind {
  /** Every resource kind the kind records, with how it is undone and checked. */
  readonly resources: ResourceHandlers<R>;
}

/** The recorded resource of `kind` for pod interface `ifName` (or the pod's only one without it). */
export function findResource<K extends Resource['kind']>(rec: PodRecord, kind: K, ifName?: string): Extract<Resource, { kind: K }> | undefined {
  return rec.resources.find((r): r is Extract<Resource, { kind: K }> => r.kind === kind && (ifName === undefined || ('ifName' in r && r.ifName === ifName)));
}

/** Deletions of something already gone succeed: DEL and rollback stay idempotent. */
export async function unlessGone(p: Promise<void>): Promise<void> {
  await p.catch((e) => { if (!(e instanceof VswitchError && e.notFound)) throw e; });
}

/** Deletes the untagged interfaces of `dump` that `mine` recognises (see ResourceHandler.untagged). */
export async function deleteUntagged(
  c: KindContext, rec: PodRecord, dump: readonly VswitchInterface[], mine: (name: string) => boolean, del: (i: VswitchInterface) => Promise<void>,
): Promise<void> {
  for (const i of dump) {
    if (i.tag !== '' || !mine(i.name)) continue;
    await unlessGone(del(i));
    c.log(`undo ${rec.containerId}: deleted untagged ${i.name} (created before the agent could tag it)`);
  }
}

/** The CNI result entry of a pod interface: in the pod's netns when the pod sees a Linux interface. */
export function podInterface(rec: PodRecord, st: PodInterfaceState, end: PodEnd): CniInterface {
  return end === 'none' ? { name: st.name } : { name: st.name, sandbox: rec.netns! };
}

/** Starts moving a link into the pod; the move's error is the caller's once it awaits the result
 *  (handled meanwhile, so a failure before the pipeline awaits it is no unhandled rejection). */
export function movingIntoPod(c: KindContext, o: { name: string; netns: string; newName: string }): Promise<void> {
  const moved = c.d.linux.moveLink(o);
  moved.catch(() => undefined);
  return moved;
}

