// Fault: etcd stops answering under an agent configured with --etcd (the wiring startAgent builds
// from config.etcdEndpoints), for a pod with contivpp.io/microservice-label and a memif from the
// device plugin. etcd is frozen with SIGSTOP (a hung etcd: connections open, no answers — the case
// that could make a call hang; an etcd that refuses connections at ADD is in
// test/system/cni-memif.test.ts), then resumed with SIGCONT.
//
//  1. ADD with etcd up → the label owner record and the config key exist.  etcd frozen.
//  2. DEL must not hang: it answers within a bound (one etcd deadline), as designed with code 103
//     "retry DEL" naming etcd; everything but etcd's part is gone (VPP, socket dir, leases) and the
//     record keeps only the label claim and the key. Meanwhile the agent serves: ADD/DEL of a pod
//     without a label works.
//  3. etcd resumed: DEL again succeeds, the key and the label record are deleted, nothing left.
//  4. etcd frozen: ADD of the labelled pod fails within a bound with "etcd auto-configuration failed"
//     (its label claim gets no answer); etcd resumed: it applies the claim it had queued, and the
//     runtime's DEL releases it (the record kept it), nothing left.  5. ADD works, DEL leaves nothing.
import { CniRig, cniError, ANSWER_WITHIN_MS, VNF_PODS, type CniResult } from './cni-rig.js';
import { soakReport, type Log, type SoakReport } from './common.js';

export interface EtcdDownOptions {
  log?: Log;
}


export async function runEtcdDown(o: EtcdDownOptions = {}): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const figures: Record<string, number | string> = {};
  let rig: CniRig | null = null;
  const err = cniError;
  const timed = async (f: () => Promise<CniResult>) => { const t = Date.now(); const r = await f(); return { r, ms: Date.now() - t }; };
  try {
    rig = await CniRig.start({ memifNode: { etcd: true } });
    const r = rig;
    const etcdPid = r.etcd!.proc.pid!;
    const freeze = () => process.kill(etcdPid, 'SIGSTOP');
    const thaw = () => process.kill(etcdPid, 'SIGCONT');
    const left = async (when: string, skip: string[] = []) => {
      for (const [what, items] of Object.entries(await r.leftovers({ etcd: !skip.includes('etcd keys') }))) if (!skip.includes(what) && items.length) problems.push(`${when}: ${what}: ${items.join(', ')}`);
    };
    await r.kubelet!.waitFor(() => (r.kubelet!.plugins.get('contivpp.io/memif')?.devices.length ?? 0) === 4, 10_000, 'the device plugin to register 4 devices');
    const pod = VNF_PODS[0];
    await r.kubelet!.admit('default', pod, [{ name: 'vnf', count: 1 }]);

    // 1. ADD with etcd up.
    const id = `etcd${r.rnd}a`;
    const ns = await r.newNetns();
    const add = await r.cni('ADD', id, ns, {}, pod);
    if (add.code !== 0) throw new Error(`ADD with etcd up failed: ${err(add)}`);
    // The label owner, and the pod side's memif1: interface, the gateway's ARP entry, the route.
    const podSide = (ks: string[]) => ks.length === 4 && ks[0] === '/tsvpp/microservice-label/vnf1'
      && /^\/vnf-agent\/vnf1\/config\/vpp\/v2\/arp\/memif1\/[\d.]+$/.test(ks[1]!) && ks[2] === '/vnf-agent/vnf1/config/vpp/v2/interfaces/memif1'
      && /^\/vnf-agent\/vnf1\/config\/vpp\/v2\/route\/if\/memif1\/vrf\/0\/dst\//.test(ks[3]!);
    const keys = await r.etcdKeys();
    if (!podSide(keys)) problems.push(`after ADD, etcd keys are [${keys.join(', ')}]`);

    // 2. etcd frozen: DEL answers within the bound.
    freeze();
    const del = await timed(() => r.cni('DEL', id, ns, {}, pod));
    figures['DEL with etcd frozen'] = `${del.r.code === 0 ? 'succeeded' : err(del.r)} (${del.ms} ms)`;
    if (del.ms > ANSWER_WITHIN_MS) problems.push(`DEL with etcd frozen took ${del.ms} ms`);
    if (del.r.code === 0) problems.push('DEL with etcd frozen succeeded although the etcd key could not be deleted');
    else if (!/etcd/.test(`${del.r.out?.msg} ${del.r.out?.details}`)) problems.push(`DEL with etcd frozen: the error does not name etcd: ${err(del.r)}`);
    // Everything but etcd's part is gone already; the record holds only the label claim and the keys
    // (DEL retries them); after the first key's deadline the others were not waited for again.
    await left('after the DEL with etcd frozen', ['pod records', 'etcd keys', 'netns']);
    const rec = (await r.agent.store.loadPod(id))?.resources.map((x) => x.kind).join(',');
    if (del.r.code !== 0 && rec !== 'label-claim,etcd-key,etcd-key,etcd-key') problems.push(`after the DEL with etcd frozen the pod record holds [${rec}], expected only the label claim and the etcd keys`);
    // The agent serves meanwhile: a pod without a label.
    await r.kubelet!.admit('default', 'soak-pod', [{ name: 'c', count: 1 }]);
    const ns2 = await r.newNetns();
    const plain = await timed(() => r.cni('ADD', `${id}p`, ns2));
    if (plain.r.code !== 0) problems.push(`with etcd frozen, ADD of a pod without a label failed: ${err(plain.r)}`);
    const plainDel = await r.cni('DEL', `${id}p`, ns2);
    if (plainDel.code !== 0) problems.push(`with etcd frozen, DEL of a pod without a label failed: ${err(plainDel)}`);
    figures['ADD without a label, etcd frozen, ms'] = plain.ms;
    await r.dropNetns(ns2);

    // 3. etcd back: DEL again converges.
    thaw();
    const del2 = await timed(() => r.cni('DEL', id, ns, {}, pod));
    figures['DEL retried, etcd back'] = `${del2.r.code === 0 ? 'succeeded' : err(del2.r)} (${del2.ms} ms)`;
    if (del2.r.code !== 0) problems.push(`DEL retried with etcd back failed: ${err(del2.r)}`);
    await r.dropNetns(ns);
    await left('after the retried DEL');
    log('etcd-down: DEL with etcd frozen and after it came back done');

    // 4. etcd frozen at ADD.
    freeze();
    const id3 = `etcd${r.rnd}b`;
    const ns3 = await r.newNetns();
    const add3 = await timed(() => r.cni('ADD', id3, ns3, {}, pod));
    figures['ADD with etcd frozen'] = `${add3.r.code === 0 ? 'succeeded' : err(add3.r)} (${add3.ms} ms)`;
    if (add3.ms > ANSWER_WITHIN_MS) problems.push(`ADD with etcd frozen took ${add3.ms} ms`);
    if (add3.r.code === 0) problems.push('ADD with etcd frozen succeeded');
    else if (!/etcd auto-configuration failed/.test(String(add3.r.out?.msg))) problems.push(`ADD with etcd frozen: unexpected error ${err(add3.r)}`);
    // etcd applies the claim it had queued once it runs again: the rollback did not wait on etcd a
    // second time, so the record keeps the claim and the runtime's DEL releases it.
    thaw();
    await left('after the ADD with etcd frozen', ['netns', 'pod records', 'etcd keys']);
    const del3 = await r.cni('DEL', id3, ns3, {}, pod);
    if (del3.code !== 0) problems.push(`DEL after the failed ADD failed: ${err(del3)}`);
    await left('after the DEL of the failed ADD', ['netns']);

    // 5. etcd back: ADD works.
    const add4 = await timed(() => r.cni('ADD', id3, ns3, {}, pod));
    figures['ADD, etcd back, ms'] = add4.ms;
    if (add4.r.code !== 0) problems.push(`ADD with etcd back failed: ${err(add4.r)}`);
    else if (!podSide(await r.etcdKeys())) problems.push(`ADD with etcd back: etcd keys are [${(await r.etcdKeys()).join(', ')}] (expected the label owner and the memif1 config)`);
    const del4 = await r.cni('DEL', id3, ns3, {}, pod);
    if (del4.code !== 0) problems.push(`DEL with etcd back failed: ${err(del4)}`);
    await r.dropNetns(ns3);
    r.kubelet!.forget('default', pod);
    await left('at the end');
    log('etcd-down: ADD with etcd frozen and after it came back done');
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    await rig?.close();
  }
  return soakReport('etcd-down', t0, figures, problems);
}
