// Fault: the agent is SIGKILLed in the middle of a pod ADD (eth0 veth, tap1, veth1, memif1).
//
// The agent runs as `tsvpp agent` in a child process against the VPP emulator in this process.
// Two kinds of kill point: inside VPP's creation of the pod's n-th interface or route (the
// emulator's hook kills the agent, then VPP completes the create the agent will never hear of; the
// 8 points in turn, two rounds in three), and at a random moment into the ADD (every third round). Then, as a runtime would: tsvpp-cni's ADD must fail (not hang);
// the agent is restarted (its start-up reconcile rolls back the half-added pod); DEL of the pod
// must succeed and leave nothing (VPP interfaces, routes and memif sockets, links in the pod netns,
// host veths, memif socket dir, leases, pod records); ADD again and DEL must work and leave nothing.
import { randomInt } from 'node:crypto';
import { CniRig } from './cni-rig.js';
import { sleep, type Log, type SoakReport, soakReport } from './common.js';
import { listLinks } from '../../src/cni/linux/ip.js';

export interface AgentKillOptions {
  rounds: number;
  log?: Log;
}

export async function runAgentKill(o: AgentKillOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const figures: Record<string, number | string> = { rounds: o.rounds };
  let rig: CniRig | null = null;
  let inVppRounds = 0;
  let killedInVpp = 0, killedByTimer = 0, addCompletedFirst = 0, rolledBackAtStart = 0, orphansDeleted = 0;
  const restartMs: number[] = [];
  let addError = '';
  try {
    // The kill points are the ADD's own VPP creates: no veth pool, which would move eth0's and
    // veth1's af_packet into the background refill (its crash handling: test/system/cni-veth-pool.test.ts).
    rig = await CniRig.start({ agentProcess: true, config: { vethPoolSize: 0 } });
    // A reference ADD/DEL for the timer's range (and the node's networks exist from then on).
    const refNs = await rig.newNetns();
    let t = Date.now();
    const ref = await rig.cni('ADD', `akill${rig.rnd}ref`, refNs);
    const addMs = Date.now() - t;
    if (ref.code !== 0) throw new Error(`reference ADD failed: ${JSON.stringify(ref.out)} ${ref.stderr.trim()}`);
    const refDel = await rig.cni('DEL', `akill${rig.rnd}ref`, refNs);
    if (refDel.code !== 0) throw new Error(`reference DEL failed: ${JSON.stringify(refDel.out)}`);
    await rig.dropNetns(refNs);
    figures['reference ADD ms'] = addMs;

    for (let k = 0; k < o.rounds && problems.length < 8; k++) {
      const r = rig;
      const id = `akill${r.rnd}k${k}`;
      const ns = await r.newNetns();
      const inVpp = k % 3 !== 2;
      let where = '';
      // The kill inside VPP's create: tsvpp-cni can have the ADD's answer (the agent's socket closed)
      // before this process has seen the agent exit, so the check below waits for the kill itself.
      let killed: Promise<void> = Promise.resolve();
      if (inVpp) {
        // VPP creates per interface (eth0's and veth1's af_packet, tap1, memif1) the interface
        // and its /32 route: 8 kill points, taken in turn.
        const nth = 1 + (inVppRounds++ % 8);
        let seen = 0;
        r.beforeVppCreate = async (kind) => {
          if (++seen !== nth) return;
          where = `while VPP created ${kind} #${nth}`;
          killed = r.killAgentProcess();
          await killed;
        };
      }
      const add = r.cni('ADD', id, ns);
      if (!inVpp) {
        const ms = randomInt(Math.max(2, addMs));
        where = `${ms} ms into the ADD`;
        await sleep(ms);
        await r.killAgentProcess();
      }
      const res = await add;
      await killed;
      r.beforeVppCreate = null;
      if (inVpp && !where) problems.push(`round ${k}: the kill hook never ran`);
      if (res.code === 0) {
        addCompletedFirst++;
        if (inVpp) problems.push(`round ${k}: ADD succeeded although the agent was killed ${where}`);
      } else {
        if (inVpp) killedInVpp++; else killedByTimer++;
        addError ||= `${res.out?.code} ${res.out?.msg}: ${res.out?.details ?? ''}`.trim();
      }
      if (r.agentProc?.running) problems.push(`round ${k}: the agent is still running after SIGKILL`);
      const tr = Date.now();
      await r.startAgentProcess();
      restartMs.push(Date.now() - tr);
      const startLog = r.agentProc!.output();
      const rec = /reconcile \(agent start\): (\{.*\})/.exec(startLog);
      if (rec) {
        const j = JSON.parse(rec[1]!) as { rolledBack: string[]; orphansDeleted: number[] };
        rolledBackAtStart += j.rolledBack.length;
        orphansDeleted += j.orphansDeleted.length;
      }
      // The runtime DELs a sandbox whose ADD failed (or that it tears down).
      const del = await r.cni('DEL', id, ns);
      if (del.code !== 0) problems.push(`round ${k} (killed ${where}): DEL after the agent restart failed: ${JSON.stringify(del.out)} ${del.stderr.trim()}`);
      const podLinks = (await listLinks(ns)).map((l) => l.ifname).join(',');
      if (podLinks !== 'lo') problems.push(`round ${k} (killed ${where}): pod netns has ${podLinks} after DEL`);
      let left = await r.leftovers();
      for (const [what, items] of Object.entries(left)) {
        if (what !== 'netns' && items.length) problems.push(`round ${k} (killed ${where}): after DEL, ${what}: ${items.join(', ')}`);
      }
      // The same pod again, as a retried sandbox: ADD and DEL work and leave nothing.
      const add2 = await r.cni('ADD', id, ns);
      if (add2.code !== 0) problems.push(`round ${k}: ADD after the restart failed: ${JSON.stringify(add2.out)} ${add2.stderr.trim()}`);
      else {
        const vppIfs = [...r.emu.state.interfaces.values()].filter((x) => x.tag.startsWith(`tsvpp:${id}`)).map((x) => x.kind).sort().join(',');
        if (vppIfs !== 'af_packet,af_packet,memif,tap') problems.push(`round ${k}: VPP interfaces after the retried ADD are ${vppIfs}`);
      }
      const del2 = await r.cni('DEL', id, ns);
      if (del2.code !== 0) problems.push(`round ${k}: DEL of the retried ADD failed: ${JSON.stringify(del2.out)}`);
      await r.dropNetns(ns);
      left = await r.leftovers();
      for (const [what, items] of Object.entries(left)) if (items.length) problems.push(`round ${k}: after the retried ADD's DEL, ${what}: ${items.join(', ')}`);
      log(`agent-kill: ${k + 1}/${o.rounds} (killed ${where}; ADD ${res.code === 0 ? 'completed first' : 'failed'})`);
    }
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    await rig?.close();
  }
  figures['killed inside a VPP create'] = killedInVpp;
  figures['killed at a random time'] = killedByTimer;
  figures['ADD completed before the kill'] = addCompletedFirst;
  figures['half-added pods rolled back at agent start'] = rolledBackAtStart;
  figures['orphan VPP interfaces deleted at agent start'] = orphansDeleted;
  figures['agent restart ms, max'] = restartMs.length ? Math.max(...restartMs) : 'n/a';
  figures['tsvpp-cni error when the agent died'] = addError || 'n/a';
  return soakReport('agent-kill', t0, figures, problems);
}
