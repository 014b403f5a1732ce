// Fault: VPP (the emulator) restarts under a running agent with pods.
//
// Checked: the vppapi client notices, reconnects and re-reads the message table ('reconnected'
// with a table report); the agent answers CNI requests afterwards — DEL of a pod added before the
// restart succeeds and leaves nothing, a new ADD works; and whether VPP's state is back in line with
// the agent's pods: every pod interface is back in VPP (the agent re-wires its pods on the client's
// 'reconnected') and CNI CHECK of the pod passes (addresses, routes, links in the pod).
import { CniRig } from './cni-rig.js';
import { once, sleep, type Log, type SoakReport, soakReport } from './common.js';
import { listLinks } from '../../src/cni/linux/ip.js';

export interface VppRestartOptions {
  restarts: number;
  /** Require that VPP's state is re-applied (default true). */
  requireReapply?: boolean;
  log?: Log;
}

export async function runVppRestart(o: VppRestartOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const figures: Record<string, number | string> = { restarts: o.restarts };
  let rig: CniRig | null = null;
  let restored = 0, reconnects = 0;
  const reconnectMs: number[] = [];
  try {
    rig = await CniRig.start({ reconnect: true });
    for (let k = 0; k < o.restarts; k++) {
      const id = `vpprst${rig.rnd}r${k}`;
      const ns = await rig.newNetns();
      const add = await rig.cni('ADD', id, ns);
      if (add.code !== 0) { problems.push(`restart ${k}: ADD before the restart failed: ${JSON.stringify(add.out)}`); await rig.dropNetns(ns); continue; }
      const reconnected = once<{ report: unknown }>(rig.client, 'reconnected', 15_000, 'the vppapi client to reconnect');
      const tr = Date.now();
      // Real VPP's taps die with it (their fds close): so do the emulator's kernel taps.
      await rig.emu.restart({ downMs: 200 });
      const ev = await reconnected;
      reconnects++;
      reconnectMs.push(Date.now() - tr);
      if (!ev || typeof ev !== 'object' || !('report' in ev)) problems.push(`restart ${k}: 'reconnected' carried no table report`);
      // The agent re-wires the pod in the background: wait for it (bounded), then CHECK the pod.
      const podIfs = () => [...rig!.emu.state.interfaces.values()].filter((i) => i.tag.startsWith(`tsvpp:${id}`) && i.adminUp).length;
      for (const until = Date.now() + 10_000; podIfs() < 4 && Date.now() < until;) await sleep(50);
      const inVpp = podIfs();
      const check = inVpp === 4 ? await rig.cni('CHECK', id, ns, { prevResult: add.out }) : null;
      if (inVpp === 4 && check!.code === 0) restored++;
      else if (o.requireReapply !== false) {
        problems.push(`restart ${k}: ${inVpp}/4 of the pod's VPP interfaces are back up after the restart${check ? `; CHECK: ${JSON.stringify(check.out)}` : ''}`);
      }
      const del = await rig.cni('DEL', id, ns);
      if (del.code !== 0) problems.push(`restart ${k}: DEL after the restart failed: ${JSON.stringify(del.out)} ${del.stderr.trim()}`);
      const podLinks = (await listLinks(ns)).map((l) => l.ifname).join(',');
      if (podLinks !== 'lo') problems.push(`restart ${k}: pod netns has ${podLinks} after DEL`);
      await rig.dropNetns(ns);
      // A new pod after the restart.
      const id2 = `${id}n`;
      const ns2 = await rig.newNetns();
      const add2 = await rig.cni('ADD', id2, ns2);
      if (add2.code !== 0) problems.push(`restart ${k}: ADD after the restart failed: ${JSON.stringify(add2.out)} ${add2.stderr.trim()}`);
      const del2 = await rig.cni('DEL', id2, ns2);
      if (del2.code !== 0) problems.push(`restart ${k}: DEL of the new pod failed: ${JSON.stringify(del2.out)}`);
      await rig.dropNetns(ns2);
      const left = await rig.leftovers();
      for (const [what, items] of Object.entries(left)) if (items.length) problems.push(`restart ${k}: after DEL, ${what}: ${items.join(', ')}`);
      log(`vpp-restart: ${k + 1}/${o.restarts}`);
    }
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    await rig?.close();
  }
  figures['client reconnects'] = reconnects;
  figures['reconnect ms, max'] = reconnectMs.length ? Math.max(...reconnectMs) : 'n/a';
  figures['pods restored in VPP'] = `${restored}/${o.restarts}`;
  return soakReport('vpp-restart', t0, figures, problems);
}
