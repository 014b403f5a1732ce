// CNI ADD and DEL latency: the real tsvpp-cni executable (the bash shim `tsvpp agent shim` writes,
// process start included) → the agent
// (startAgent, in this process) → VppVswitch → a vswitch: the VPP emulator (its kernel taps the
// agent moves into real pod netns, as with VPP), or a real VPP of the harness's own (TSVPP_VPP=PREFIX, through
// scripts/vpp-peer.sh); real netns, veths and host-local either way. Pods with 0, 1 and 3 custom
// interfaces: with the emulator eth0 is a tap and 3 = tap1/tap, veth1/veth, memif1/memif (the soak
// rig's pod); real VPP has no tap here (no /dev/vhost-net), so eth0 is a veth (af_packet) and
// 3 = veth1/veth, veth2/veth, memif1/memif. Each round adds one pod of every size, then deletes
// them, the size order rotating per round, so drift hits every size alike and the node holds at
// most one pod per size. Timed: the ADD or DEL child from spawn to exit; the netns creation and
// deletion around it is not. A first round right after the agent starts is reported apart (a
// node's first pods), then PODS_PER_SIZE rounds make the figures. Needs root.
// Usage (alone): node dist/perf/harness/cni-latency.js [PODS_PER_SIZE] [--vpp PREFIX] [--veth-pool N] [--gap MS]
import { randomBytes } from 'node:crypto';
import { describeRcu } from './machine.js';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent, type Agent } from '../../src/cni/agent/agent.js';
import { HANDOVER_MARK, tsvppCniShim } from '../../src/cni/invocation.js';
import { vethHostName } from '../../src/cni/agent/kinds/veth.js';
import { listedPoolNames, unlistedPoolLinks } from '../../src/cni/agent/veth-pool.js';
import { podTag, type VswitchInterface } from '../../src/cni/agent/vswitch.js';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/cni/agent/config.js';
import { ManifestPodSource } from '../../src/cni/pods/manifests.js';
import { addNetns, deleteLinkIfExists, deleteNetns, listLinks, netnsPath } from '../../src/cni/linux/ip.js';
import { nodeManifest } from '../../src/testing/node-manifest.js';
import { deleteNetnsSync, runProcess } from '../../src/sys/index.js';
import { onExitCleanup } from '../peers/procs.js';
import { CNI_LATENCY_SIZES, POD_INTERFACES, startLatencyVswitch, type CustomIfCount, type LatencyVswitch, type StartedVswitch } from './latency-vswitch.js';

export { CNI_LATENCY_SIZES, type CustomIfCount, type LatencyVswitch };
import { percentile } from './scenarios.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/perf/harness
const CNI_MAIN = resolve(HERE, '../../src/cni/cni-main.cjs');

/** p50/p99 (nearest rank) and min/max of one command's wall times, ms. */
export interface LatencyMs { p50: number; p99: number; min: number; max: number; n: number }
export interface CniLatencyRow {
  customIfs: CustomIfCount;
  kinds: string[];
  add: LatencyMs;
  del: LatencyMs;
  /** Every ADD and DEL time, ms, in the order they were taken. */
  addMs: number[];
  delMs: number[];
  /** The agent's part of each (from the request on its socket to its answer), ms. */
  agentAdd: LatencyMs;
  agentDel: LatencyMs;
  agentAddMs: number[];
  agentDelMs: number[];
  /** VPP interfaces tagged for the pod right after each successful ADD (eth0 + custom; the first round's included): evidence the sizes differ. */
  vppIfsPerPod: number[];
  /** Of each successful ADD's veths (the first round's included), how many were carried by the agent's veth pool's members. */
  pooledPerPod: number[];
  /** Of those, how many members the ADD had to make (the pool was empty): an af_packet_create inside the ADD. */
  madePerPod: number[];
  /**
   * The pod of this size in the first round, right after the agent started (while its veth pool
   * fills, its networks are made in VPP, its code is cold), ms: not in the figures above, which
   * are a running node's. Undefined where it failed (see errors).
   */
  first: { add?: number; del?: number; agentAdd?: number; agentDel?: number };
  errors: string[];
}
export interface CniLatencyReport {
  /** "emulator", or "VPP <version>". */
  vswitch: string;
  podsPerSize: number;
  eth0: string;
  /** The agent's vethPoolSize (0: every veth made at ADD). */
  vethPool: number;
  /** The 1-minute load average before and after the run (the machine is shared). */
  load: { before: number; after: number };
  /** `node -e 0` from spawn to exit, once per timed round: what process start costs under this load. */
  nodeStart: LatencyMs;
  nodeStartMs: number[];
  rows: CniLatencyRow[];
  /**
   * af_packet_create_v3 and af_packet_delete the agent sent (each stops VPP's forwarding for every
   * pod while it runs, docs/perf.md): in the first round and the settling after it (the pool's
   * first members included), and in the timed rounds.
   */
  afPackets?: { first: AfPacketOps; timed: AfPacketOps }; // absent from reports before 2026-12-04 night
  /** Calls the shim handed to the Node tsvpp-cni (it could not use the agent's port), with why: none on a sound node. Absent before 2026-12-04 21:00. */
  handedOver?: string[];
  leftovers: Record<string, string[]>;
}
export interface AfPacketOps { created: number; deleted: number }

/** The first round's pods (right after the agent started), which the figures leave out. */
export function firstPodsLine(r: CniLatencyReport): string {
  const f = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(1) : '-');
  return `first pods after the agent started (round 0, not in the figures): ${r.rows.map((x) =>
    `${x.customIfs} custom ADD ${f(x.first.add)} (agent ${f(x.first.agentAdd)}) DEL ${f(x.first.del)} (agent ${f(x.first.agentDel)})`).join(', ')} ms`;
}

/** The calls the shim handed to the Node tsvpp-cni (a report's `handedOver`): their figures include a Node start. */
export function handedOverLine(x: readonly string[]): string | undefined {
  return x.length ? `${x.length} calls were handed to the Node tsvpp-cni (their times include a Node start): ${[...new Set(x)].slice(0, 3).join('; ')}` : undefined;
}

/** The af_packets the agent made and deleted (a report's `afPackets`), each a pause of VPP's forwarding. */
export function afPacketsLine(x: NonNullable<CniLatencyReport['afPackets']>): string {
  return `af_packets the agent made / deleted (each pauses VPP's forwarding): ${x.timed.created} / ${x.timed.deleted} in the timed rounds, ${x.first.created} / ${x.first.deleted} in round 0 and the pool's start`;
}

export function latencyMs(xs: readonly number[]): LatencyMs {
  const a = [...xs].sort((x, y) => x - y);
  return { p50: percentile(a, 50, true), p99: percentile(a, 99, true), min: a[0] ?? NaN, max: a[a.length - 1] ?? NaN, n: a.length };
}

/** null when this process may create network namespaces, else why not. */
export function cniLatencySkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'the CNI ADD/DEL latency section needs root (network namespaces, veths, taps); run as root to include it';
  return null;
}

/** The order of one round's pods: the sizes rotated by the round number. */
export function roundOrder(round: number): CustomIfCount[] {
  const s = [...CNI_LATENCY_SIZES];
  const k = round % s.length;
  return [...s.slice(k), ...s.slice(0, k)];
}

const podName = (n: CustomIfCount) => `lat-${n}if`;
function manifest(n: CustomIfCount, ifs: readonly string[]): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${podName(n)}
${ifs.length ? `  annotations:\n    contivpp.io/custom-if: ${ifs.join(', ')}\n` : ''}spec:
  containers:
    - name: c
      image: x
${ifs.some((i) => i.endsWith('/memif')) ? '      resources:\n        limits:\n          contivpp.io/memif: 1\n' : ''}`;
}

interface CniRun { code: number; ms: number; stderr: string }

class LatencyRig {
  readonly dir: string;
  readonly config: AgentConfig;
  readonly pods: (typeof POD_INTERFACES)[LatencyVswitch['kind']];
  readonly netns = new Set<string>();
  readonly containerIds = new Set<string>();
  vs?: StartedVswitch;
  agent?: Agent;
  /** Interrupted (SIGINT/SIGTERM) before close(): only synchronous removal is possible then. The
   *  pods' veths go with their namespaces. */
  private readonly unregisterExit = onExitCleanup(() => {
    this.vs?.stopSync();
    for (const ns of this.netns) { try { deleteNetnsSync(netnsPath(ns)); } catch { /* gone */ } }
    rmSync(this.dir, { recursive: true, force: true });
  });

  /** `rnd` names this run's netns, container ids and temp dir (hex; random by default). */
  /** Pool members taken per container id (the agent's log). */
  readonly pooled = new Map<string, number>();
  readonly made = new Map<string, number>();
  readonly afPackets: AfPacketOps = { created: 0, deleted: 0 };
  readonly handedOver: string[] = [];

  constructor(readonly target: LatencyVswitch, readonly rnd = randomBytes(3).toString('hex'), vethPoolSize = DEFAULT_CONFIG.vethPoolSize) {
    this.pods = POD_INTERFACES[target.kind];
    this.dir = mkdtempSync(join(tmpdir(), `tsvpp-perf-cni-${rnd}-`));
    this.config = {
      ...DEFAULT_CONFIG,
      stateDir: join(this.dir, 'state'), memifSocketDir: join(this.dir, 'memif'), cniSocket: join(this.dir, 'cni.sock'),
      vppApiSocket: join(this.dir, 'api.sock'), podManifests: join(this.dir, 'manifests'), nodeName: 'latency-node', maxCustomInterfaces: 4, eth0Kind: this.pods.eth0,
      vethPoolSize,
    };
    // The executable a node runs (`tsvpp agent shim`), with this checkout's Node behind it.
    writeFileSync(this.shim, tsvppCniShim({ cniSocket: this.config.cniSocket, node: process.execPath, cniMain: CNI_MAIN }), { mode: 0o755 });
  }

  get shim(): string { return join(this.dir, 'tsvpp-cni'); }

  get vswitchName(): string { return this.vs?.name ?? '-'; }

  async start(): Promise<void> {
    mkdirSync(this.config.podManifests!);
    writeFileSync(join(this.config.podManifests!, 'node.yaml'), nodeManifest({ name: this.config.nodeName, internalIp: '192.0.2.9', podCIDR: '10.1.9.0/24' }));
    writeFileSync(join(this.config.podManifests!, 'pods.yaml'), CNI_LATENCY_SIZES.map((n) => manifest(n, this.pods.custom[n])).join('---\n'));
    this.vs = await startLatencyVswitch(this.target, { dir: this.dir, apiSocket: this.config.vppApiSocket, clientName: 'perf-cni-latency' });
    Object.assign(this.config, { vppApiSocket: this.vs.apiSocket, ...(this.vs.apiDir ? { vppApiDir: this.vs.apiDir } : {}) });
    const vsw = this.vs.vswitch, create = vsw.createAfPacket.bind(vsw), del = vsw.deleteAfPacket.bind(vsw);
    vsw.createAfPacket = (o) => { this.afPackets.created++; return create(o); };
    vsw.deleteAfPacket = (o) => { this.afPackets.deleted++; return del(o); };
    this.agent = await startAgent(this.config, { vswitch: this.vs.vswitch, pods: new ManifestPodSource(this.config.podManifests!), log: (m) => {
      const taken = /^ADD (\S+): \S+ is carried by pool member /.exec(m);
      if (taken) this.pooled.set(taken[1]!, (this.pooled.get(taken[1]!) ?? 0) + 1);
      const made = /^ADD (\S+): the veth pool is empty: member /.exec(m);
      if (made) this.made.set(made[1]!, (this.made.get(made[1]!) ?? 0) + 1);
    }, vhostNet: this.vs.vhostNet });
    // The server calls pipeline.handle per request: timed here, the agent's part of each command.
    const p = this.agent.pipeline, handle = p.handle.bind(p);
    p.handle = async (req) => {
      const t0 = process.hrtime.bigint();
      try { return await handle(req); } finally { this.agentMs.set(`${req.command} ${req.containerId}`, Number(process.hrtime.bigint() - t0) / 1e6); }
    };
  }

  /** The agent's time for the last command of each kind per container. */
  readonly agentMs = new Map<string, number>();

  /** `node -e 0`, spawn to exit, in the environment tsvpp-cni gets (not this shell's: a
   *  NODE_EXTRA_CA_CERTS there adds ~55 ms to every Node start). */
  async nodeStart(): Promise<number> {
    const t0 = process.hrtime.bigint();
    await runProcess(process.execPath, ['-e', '0'], { env: { PATH: process.env.PATH ?? '' }, timeoutMs: 60_000 });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }

  async newNetns(): Promise<string> {
    const name = `tsvpp-perf-${this.rnd}-${this.netns.size}-${Date.now() % 100000}`;
    await addNetns(name);
    this.netns.add(name);
    return name;
  }

  async dropNetns(name: string): Promise<void> {
    await deleteNetns(name);
    this.netns.delete(name);
  }

  /**
   * Runs tsvpp-cni (the shim) as a runtime would, timed from spawn to exit. Through posix_spawn off the event
   * loop (src/sys runProcess): Node's spawn forks this process, agent and all, blocking the loop the
   * agent under test runs on for ~9 ms per call — a cost no kubelet-run plugin puts on the agent.
   */
  async cni(command: 'ADD' | 'DEL', containerId: string, netns: string, pod: string): Promise<CniRun> {
    this.containerIds.add(containerId);
    const t0 = process.hrtime.bigint();
    try {
      const r = await runProcess(this.shim, [], {
        env: {
          PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: `/var/run/netns/${netns}`, CNI_IFNAME: 'eth0',
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${containerId}`, CNI_PATH: '/usr/lib/cni',
        },
        stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: this.config.cniSocket }),
        timeoutMs: 120_000,
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const handed = r.stderr.split('\n').find((l) => l.includes(HANDOVER_MARK));
      if (handed) this.handedOver.push(`${command}: ${handed}`);
      return { code: r.code ?? -1, ms, stderr: r.timedOut ? `timed out\n${r.stderr}` : r.stderr };
    } catch (e) {
      return { code: -1, ms: Number(process.hrtime.bigint() - t0) / 1e6, stderr: String(e) };
    }
  }

  private async vppInterfaces(): Promise<VswitchInterface[]> { return this.vs ? this.vs.interfaces() : []; }

  /** VPP interfaces whose tag names this container. */
  async podIfs(containerId: string): Promise<string[]> {
    const prefix = podTag(containerId, '');
    return (await this.vppInterfaces()).filter((i) => i.tag.startsWith(prefix)).map((i) => i.tag.slice(prefix.length));
  }

  /** The host ends of every veth a pod of this run could have. */
  private async ourVeths(): Promise<string[]> {
    const names = ['eth0', ...this.pods.custom[3].map((s) => s.split('/')[0]!)];
    const ours = new Set([...this.containerIds].flatMap((id) => names.map((n) => vethHostName(id, n))));
    const links = (await listLinks()).map((l) => l.ifname);
    return [...links.filter((n) => ours.has(n)), ...await unlistedPoolLinks(this.config.stateDir, links)];
  }

  /** What pods could leave behind, as lists of names (all empty on a clean node). */
  async leftovers(): Promise<Record<string, string[]>> {
    const ls = (p: string) => { try { return readdirSync(p); } catch { return []; } };
    const ifs = await this.vppInterfaces();
    // An af_packet the veth pool is making is untagged for a moment (created, then tagged).
    const pool = await listedPoolNames(this.config.stateDir);
    const untagged = (i: VswitchInterface) => i.tag === '' && i.name !== 'local0' && !/^loop\d+$/.test(i.name) && !pool.has(i.name.slice('host-'.length));
    return {
      'VPP pod interfaces': ifs.filter((i) => i.tag.startsWith('tsvpp:')).map((i) => `${i.swIfIndex} ${i.tag}`),
      'VPP untagged interfaces': ifs.filter(untagged).map((i) => `${i.swIfIndex} ${i.name}`),
      'host veths': await this.ourVeths(),
      'pod records': ls(join(this.config.stateDir, 'pods')),
      'netns': ls('/var/run/netns').filter((n) => n.startsWith(`tsvpp-perf-${this.rnd}`)),
    };
  }

  async close(): Promise<void> {
    try { await this.agent?.close(); } catch { /* already closed */ }
    for (const v of await this.ourVeths().catch(() => [])) await deleteLinkIfExists(v).catch(() => undefined);
    for (const ns of [...this.netns]) await deleteNetns(ns).catch(() => undefined);
    await this.vs?.close();
    this.unregisterExit();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const firstLine = (s: string) => s.trim().split('\n')[0]!.slice(0, 200);
const load1 = () => Math.round(loadavg()[0]! * 100) / 100;

/**
 * Runs `podsPerSize` rounds; each round ADDs one pod per size, then DELs them. A failed ADD is
 * counted as an error (its time is not a sample) and still DELed. Leftovers are taken after the
 * last DEL, before the rig closes; close() removes everything either way.
 */
export async function runCniLatency(o: { podsPerSize: number; vswitch?: LatencyVswitch; onRound?: (round: number, of: number) => void; runId?: string; vethPool?: number; gapMs?: number }): Promise<CniLatencyReport> {
  const why = cniLatencySkipReason();
  if (why) throw new Error(why);
  const rig = new LatencyRig(o.vswitch ?? { kind: 'emulator' }, o.runId, o.vethPool);
  const per = <T>() => new Map<CustomIfCount, T[]>(CNI_LATENCY_SIZES.map((n) => [n, []]));
  const add = per<number>(), del = per<number>(), agentAdd = per<number>(), agentDel = per<number>(), errors = per<string>(), vppIfs = per<number>(), pooled = per<number>(), made = per<number>();
  const first = new Map<CustomIfCount, CniLatencyRow['first']>(CNI_LATENCY_SIZES.map((n) => [n, {}]));
  const nodeStart: number[] = [];
  let firstOps: AfPacketOps = { created: 0, deleted: 0 };
  const before = load1();
  // Round 0 is the agent's first (its pool filling, its networks made, its code cold): reported
  // apart, as what a node's first pods see; rounds 1..podsPerSize are the figures.
  const rounds = o.podsPerSize + 1;
  try {
    await rig.start();
    for (let r = 0; r < rounds; r++) {
      const pods: { n: CustomIfCount; id: string; ns: string }[] = [];
      for (const n of roundOrder(r)) {
        const id = `perf${rig.rnd}${r}x${n}`, ns = await rig.newNetns();
        pods.push({ n, id, ns });
        const x = await rig.cni('ADD', id, ns, podName(n));
        if (x.code === 0) {
          const agent = rig.agentMs.get(`ADD ${id}`)!;
          if (r === 0) Object.assign(first.get(n)!, { add: x.ms, agentAdd: agent });
          else { add.get(n)!.push(x.ms); agentAdd.get(n)!.push(agent); }
          vppIfs.get(n)!.push((await rig.podIfs(id)).length);
          pooled.get(n)!.push(rig.pooled.get(id) ?? 0);
          made.get(n)!.push(rig.made.get(id) ?? 0);
        } else errors.get(n)!.push(`ADD exited ${x.code}: ${firstLine(x.stderr)}`);
      }
      for (const p of pods) {
        const x = await rig.cni('DEL', p.id, p.ns, podName(p.n));
        if (x.code === 0) {
          const agent = rig.agentMs.get(`DEL ${p.id}`)!;
          if (r === 0) Object.assign(first.get(p.n)!, { del: x.ms, agentDel: agent });
          else { del.get(p.n)!.push(x.ms); agentDel.get(p.n)!.push(agent); }
        } else errors.get(p.n)!.push(`DEL exited ${x.code}: ${firstLine(x.stderr)}`);
        await rig.dropNetns(p.ns);
      }
      if (r > 0) nodeStart.push(await rig.nodeStart());
      // A running node's pool is stocked: once the agent has served a request it fills only after
      // no request came for REFILL_QUIET_MS (veth-pool.ts), which back-to-back rounds never leave
      // it; the members this round's pods had beyond its size stay for vethPoolIdleSeconds. Not timed.
      if (r === 0) { await rig.agent?.pool?.settled(); firstOps = { ...rig.afPackets }; }
      // Pods that come in bursts: the node is quiet between rounds (untimed).
      if (o.gapMs) await new Promise((res) => setTimeout(res, o.gapMs));
      o.onRound?.(r + 1, rounds);
    }
    const timedOps = { created: rig.afPackets.created - firstOps.created, deleted: rig.afPackets.deleted - firstOps.deleted };
    const leftovers = await rig.leftovers();
    return {
      vswitch: rig.vswitchName, podsPerSize: o.podsPerSize, eth0: rig.config.eth0Kind, vethPool: rig.config.vethPoolSize, load: { before, after: load1() },
      nodeStart: latencyMs(nodeStart), nodeStartMs: nodeStart, afPackets: { first: firstOps, timed: timedOps }, handedOver: rig.handedOver, leftovers,
      rows: CNI_LATENCY_SIZES.map((n) => ({
        customIfs: n, kinds: rig.pods.custom[n].map((s) => s.split('/')[1]!), add: latencyMs(add.get(n)!), del: latencyMs(del.get(n)!),
        addMs: add.get(n)!, delMs: del.get(n)!, agentAdd: latencyMs(agentAdd.get(n)!), agentDel: latencyMs(agentDel.get(n)!),
        agentAddMs: agentAdd.get(n)!, agentDelMs: agentDel.get(n)!, vppIfsPerPod: vppIfs.get(n)!, pooledPerPod: pooled.get(n)!, madePerPod: made.get(n)!, first: first.get(n)!, errors: [...new Set(errors.get(n)!)],
      })),
    };
  } finally {
    await rig.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--vpp');
  const prefix = at >= 0 ? args.splice(at, 2)[1] : undefined;
  if (at >= 0 && !prefix) { console.error('--vpp needs a VPP install prefix'); process.exit(2); }
  const atGap = args.indexOf('--gap');
  const gapMs = atGap >= 0 ? Number(args.splice(atGap, 2)[1]) : 0;
  if (!(Number.isInteger(gapMs) && gapMs >= 0)) { console.error('--gap needs the ms of quiet between rounds'); process.exit(2); }
  const atPool = args.indexOf('--veth-pool');
  const vethPool = atPool >= 0 ? Number(args.splice(atPool, 2)[1]) : undefined;
  if (vethPool !== undefined && !(Number.isInteger(vethPool) && vethPool >= 0)) { console.error('--veth-pool needs a member count (0: no pool)'); process.exit(2); }
  const n = Number(args[0] ?? 20);
  const why = cniLatencySkipReason();
  if (why) { console.log(`skipped: ${why}`); process.exit(0); }
  const r = await runCniLatency({ podsPerSize: n, ...(prefix ? { vswitch: { kind: 'vpp', prefix } } : {}), ...(vethPool !== undefined ? { vethPool } : {}), gapMs, onRound: (i, of) => process.stderr.write(`\rround ${i}/${of}`) });
  process.stderr.write('\n');
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  console.log(`${r.vswitch}, eth0 ${r.eth0}, veth pool ${r.vethPool}, ${r.podsPerSize} pods per size${gapMs ? `, ${gapMs} ms between rounds` : ''}, load average ${r.load.before} -> ${r.load.after}; ` +
    `node -e 0 p50 ${f(r.nodeStart.p50)} p99 ${f(r.nodeStart.p99)} ms; ${describeRcu()}`);
  for (const row of r.rows) {
    console.log(`${row.customIfs} custom (${row.kinds.join(',') || 'eth0 only'}): ADD p50 ${f(row.add.p50)} p99 ${f(row.add.p99)} (agent ${f(row.agentAdd.p50)}/${f(row.agentAdd.p99)}) ms  ` +
      `DEL p50 ${f(row.del.p50)} p99 ${f(row.del.p99)} (agent ${f(row.agentDel.p50)}/${f(row.agentDel.p99)}) ms  (${row.add.n}/${row.del.n} ok, ${row.pooledPerPod.reduce((a, b) => a + b, 0)} veths on pool members, ${row.madePerPod.reduce((a, b) => a + b, 0)} of them made at ADD)${row.errors.length ? `  errors: ${row.errors.join('; ')}` : ''}`);
  }
  console.log(firstPodsLine(r));
  console.log(afPacketsLine(r.afPackets!));
  const handed = handedOverLine(r.handedOver ?? []);
  if (handed) console.log(handed);
  const left = Object.entries(r.leftovers).filter(([, v]) => v.length);
  console.log(left.length ? `LEFT BEHIND: ${JSON.stringify(Object.fromEntries(left))}` : 'nothing left behind');
  if (process.env.CNI_LATENCY_JSON) writeFileSync(process.env.CNI_LATENCY_JSON, JSON.stringify(r, null, 1));
}
