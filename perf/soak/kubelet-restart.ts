// Fault: kubelet restarts under the agent (device plugin + PodResources, as startAgent builds them
// from config.memifDevices and podResourcesSocket). The kubelet stand-in restarts the way kubelet
// does: both its servers stop, every socket in the device-plugins dir is deleted, it serves again
// with the allocations it had checkpointed.
//
//  1. a pod admitted (device allocated) before the restart; kubelet restarts;
//  2. the device plugin registers again (its socket re-created) and ADD of that pod still finds its
//     allocation through PodResources: VPP's memif socket is the allocation's, in its dir;
//  3. a pod admitted after the restart (Allocate through the re-registered plugin) ADDs too;
//  4. kubelet down, PodResources socket gone: ADD of a memif pod fails with a CNI error saying
//     PodResources cannot be read, answered within a bound, nothing left; kubelet back: ADD works.
import { existsSync } from 'node:fs';
import { CniRig, cniError, ANSWER_WITHIN_MS, VNF_PODS } from './cni-rig.js';
import { soakReport, type Log, type SoakReport } from './common.js';

export interface KubeletRestartOptions {
  log?: Log;
}


export async function runKubeletRestart(o: KubeletRestartOptions = {}): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const figures: Record<string, number | string> = {};
  let rig: CniRig | null = null;
  const err = cniError;
  try {
    rig = await CniRig.start({ memifNode: {} });
    const r = rig;
    const kubelet = r.kubelet!;
    const devices = () => kubelet.plugins.get('contivpp.io/memif')?.devices.length ?? 0;
    const left = async (when: string, skip: string[] = []) => {
      for (const [what, items] of Object.entries(await r.leftovers())) if (!skip.includes(what) && items.length) problems.push(`${when}: ${what}: ${items.join(', ')}`);
    };
    /** ADD; VPP's memif socket must be the allocation's (MEMIF_SOCKET's host path). */
    const addWithAllocation = async (pod: string, id: string, ns: string, hostSocket: string, when: string) => {
      const add = await r.cni('ADD', id, ns, {}, pod);
      if (add.code !== 0) { problems.push(`${when}: ADD of ${pod} failed: ${err(add)}`); return; }
      const socks = [...r.emu.state.memifSockets.values()].filter((s) => s.socketId !== 0).map((s) => s.filename);
      if (!socks.includes(hostSocket)) problems.push(`${when}: VPP's memif sockets are [${socks.join(', ')}], not the allocation's ${hostSocket}`);
    };
    await kubelet.waitFor(() => devices() === 4, 10_000, 'the device plugin to register 4 devices');

    // 1. admitted before the restart.
    const [pod1, pod2] = VNF_PODS;
    const alloc1 = await kubelet.admit('default', pod1, [{ name: 'vnf', count: 1 }]);
    const host1 = alloc1[0]!.mounts[0]!.host_path + '/memif.sock';
    const regs = kubelet.registrations.length;
    const tr = Date.now();
    await kubelet.stop(true);
    await kubelet.restart();
    // 2. the plugin registers again.
    await kubelet.waitFor(() => kubelet.registrations.length > regs && devices() === 4, 10_000, 'the device plugin to register again after the kubelet restart');
    figures['re-registered after restart, ms'] = Date.now() - tr;
    const ns1 = await r.newNetns();
    const id1 = `kubr${r.rnd}a`;
    await addWithAllocation(pod1, id1, ns1, host1, 'pod admitted before the kubelet restart');
    // 3. admitted after the restart.
    const alloc2 = await kubelet.admit('default', pod2, [{ name: 'vnf', count: 1 }]);
    const host2 = alloc2[0]!.mounts[0]!.host_path + '/memif.sock';
    const ns2 = await r.newNetns();
    const id2 = `kubr${r.rnd}b`;
    await addWithAllocation(pod2, id2, ns2, host2, 'pod admitted after the kubelet restart');
    for (const [id, ns, pod] of [[id1, ns1, pod1], [id2, ns2, pod2]] as const) {
      const del = await r.cni('DEL', id, ns, {}, pod);
      if (del.code !== 0) problems.push(`DEL of ${pod} failed: ${err(del)}`);
      await r.dropNetns(ns);
      kubelet.forget('default', pod);
    }
    await left('after both DELs');
    log('kubelet-restart: ADD after the restart done');

    // 4. kubelet down: its PodResources socket is gone.
    await kubelet.admit('default', pod1, [{ name: 'vnf', count: 1 }]);
    await kubelet.stop(true);
    if (existsSync(kubelet.podResourcesSocket)) problems.push(`the PodResources socket ${kubelet.podResourcesSocket} still exists with kubelet stopped`);
    const ns3 = await r.newNetns();
    const id3 = `kubr${r.rnd}c`;
    let t = Date.now();
    const add3 = await r.cni('ADD', id3, ns3, {}, pod1);
    const ms = Date.now() - t;
    figures['ADD with kubelet down'] = `${add3.code === 0 ? 'succeeded' : err(add3)} (${ms} ms)`;
    if (ms > ANSWER_WITHIN_MS) problems.push(`ADD with kubelet down took ${ms} ms`);
    if (add3.code === 0) problems.push('ADD with kubelet down succeeded');
    else if (!/cannot read pod resources from kubelet/.test(String(add3.out?.msg)) || !String(add3.out?.details).includes(kubelet.podResourcesSocket)) {
      problems.push(`ADD with kubelet down: the error does not say PodResources at ${kubelet.podResourcesSocket} cannot be read: ${err(add3)}`);
    }
    await left('after the ADD with kubelet down', ['netns', 'memif socket dir']);
    const del3 = await r.cni('DEL', id3, ns3, {}, pod1);
    if (del3.code !== 0) problems.push(`DEL after the ADD with kubelet down failed: ${err(del3)}`);
    // kubelet back (it re-creates its sockets; the plugin registers again): ADD works.
    await kubelet.restart();
    await kubelet.waitFor(() => devices() === 4, 10_000, 'the device plugin to register after kubelet came back');
    t = Date.now();
    const add4 = await r.cni('ADD', id3, ns3, {}, pod1);
    figures['ADD right after kubelet came back, ms'] = Date.now() - t;
    if (add4.code !== 0) problems.push(`ADD after kubelet came back failed: ${err(add4)}`);
    const del4 = await r.cni('DEL', id3, ns3, {}, pod1);
    if (del4.code !== 0) problems.push(`DEL after kubelet came back failed: ${err(del4)}`);
    await r.dropNetns(ns3);
    kubelet.forget('default', pod1);
    await left('at the end');
    log('kubelet-restart: kubelet down and back done');
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    await rig?.close();
  }
  return soakReport('kubelet-restart', t0, figures, problems);
}
