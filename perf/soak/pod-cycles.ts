// Pod ADD/DEL cycles with three custom interfaces each (tap, veth, memif; eth0 is a tap too)
// through tsvpp-cni → agent → VPP emulator, with a fresh netns per pod as a container runtime
// makes: after every DEL nothing of the pod may remain (VPP interfaces and memif sockets, the
// pod's links, host veths, memif socket dir, IPAM leases, pod records, netns), and at the end the
// agent process's fds and memfd mappings are back where they were and RSS within tolerance.
import { CniRig } from './cni-rig.js';
import { soakReport, type Log, type SoakReport } from './common.js';
import { compare, primeChildProcess, sample, type Sample } from './measure.js';
import { listLinks } from '../../src/cni/linux/ip.js';
import { closeIdleSockets } from '../../src/cni/linux/ip.js';

/**
 * sample() once the agent's veth pool is done refilling (a member half made holds a socket or a
 * file of its own), without the agent's idle rtnetlink sockets of its own namespace: a bounded
 * cache (one per request that was in flight at once, at most 4, src/cni/linux/ip.ts) whose size
 * follows how many requests overlapped, not a leak; the next request opens one again.
 */
async function settledSample(rig: CniRig): Promise<Sample> {
  await rig.agent.pool?.settled();
  closeIdleSockets();
  return sample();
}

const SPAWN_RSS_ALLOWANCE = 64 * 2 ** 20;
const HEAP_TOLERANCE_MIB = 8;

export interface PodCycleOptions {
  cycles: number;
  log?: Log;
}

export async function runPodCycles(o: PodCycleOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const figures: Record<string, number | string> = { cycles: o.cycles, 'interfaces per pod': 'eth0 (tap), tap1, veth1, memif1' };
  await primeChildProcess();
  let rig: CniRig | null = null;
  let base: Sample | null = null;
  const addMs: number[] = [], delMs: number[] = [];
  try {
    rig = await CniRig.start();
    const warm = 2;
    for (let i = 0; i < o.cycles + warm && problems.length < 5; i++) {
      const id = `soak${rig.rnd}c${i}`;
      const ns = await rig.newNetns();
      let t = Date.now();
      const add = await rig.cni('ADD', id, ns);
      addMs.push(Date.now() - t);
      if (add.code !== 0) { problems.push(`cycle ${i}: ADD failed: ${JSON.stringify(add.out)} ${add.stderr.trim()}`); await rig.cni('DEL', id, ns); await rig.dropNetns(ns); continue; }
      const links = (await listLinks(ns)).map((l) => l.ifname).sort().join(',');
      if (links !== 'eth0,lo,tap1,veth1') problems.push(`cycle ${i}: pod links after ADD are ${links}`);
      const vppIfs = [...rig.emu.state.interfaces.values()].filter((x) => x.tag.startsWith(`tsvpp:${id}`)).map((x) => x.kind).sort().join(',');
      if (vppIfs !== 'af_packet,memif,tap,tap') problems.push(`cycle ${i}: VPP interfaces after ADD are ${vppIfs}`);
      t = Date.now();
      const del = await rig.cni('DEL', id, ns, { prevResult: add.out });
      delMs.push(Date.now() - t);
      if (del.code !== 0) problems.push(`cycle ${i}: DEL failed: ${JSON.stringify(del.out)} ${del.stderr.trim()}`);
      const podLinks = (await listLinks(ns)).map((l) => l.ifname);
      if (podLinks.join(',') !== 'lo') problems.push(`cycle ${i}: pod netns still has ${podLinks.join(', ')} after DEL`);
      await rig.dropNetns(ns);
      const left = await rig.leftovers();
      for (const [what, items] of Object.entries(left)) if (items.length) problems.push(`cycle ${i}: after DEL, ${what}: ${items.join(', ')}`);
      if (i === warm - 1) base = await settledSample(rig);
      if (i % 10 === 0) log(`pod-cycles: ${i + 1}/${o.cycles + warm}`);
    }
    const after = await settledSample(rig);
    if (base) {
      // This process spawns ~40 children per cycle (tsvpp-cni, ip, host-local). Node 20's RSS
      // grows with spawns until it levels off at ~34 MiB (4000 x execFile('true'), JS heap flat,
      // malloc_trim returns nothing), so RSS gets that allowance; the JS heap after GC, fds and
      // memfd mappings are held tight.
      const c = compare(base, after, SPAWN_RSS_ALLOWANCE, 'agent process');
      problems.push(...c.problems);
      const heapDelta = (after.heapUsed - base.heapUsed) / 2 ** 20;
      if (heapDelta > HEAP_TOLERANCE_MIB) problems.push(`agent process: JS heap grew ${heapDelta.toFixed(1)} MiB after GC, more than ${HEAP_TOLERANCE_MIB} MiB`);
      figures['fd delta'] = c.fdDelta;
      figures['RSS delta MiB'] = Number(c.rssDeltaMiB.toFixed(2));
      figures['JS heap delta MiB'] = Number(heapDelta.toFixed(2));
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? 0;
    figures['ADD ms (median)'] = med(addMs);
    figures['DEL ms (median)'] = med(delMs);
    figures['VPP interfaces left (all tags)'] = [...rig.emu.state.interfaces.values()].filter((x) => x.tag.startsWith('tsvpp:')).length;
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    await rig?.close();
  }
  return soakReport('pod-cycles', t0, figures, problems);
}
