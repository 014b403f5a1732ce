// Fault: the agent's memif socket dir (--memif-socket-dir) is unusable (VPP itself once crashed on
// a missing socket dir). Three states of the path, each followed by ADD of the memif pod (eth0,
// tap1, veth1, memif1):
//   - a regular file where the directory should be (ENOTDIR),
//   - a directory on a read-only mount (EROFS; a read-only tmpfs — root ignores permission bits),
//   - missing: the agent creates it, ADD succeeds.
// An unusable dir must fail ADD with a CNI error naming the directory, leave nothing behind, and
// the agent keeps serving: once the dir is fixed, ADD of the same pod works and DEL cleans up.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { CniRig, cniError } from './cni-rig.js';
import { soakReport, type Log, type SoakReport } from './common.js';
import { listLinks } from '../../src/cni/linux/ip.js';

export interface MemifDirOptions {
  log?: Log;
}

type Breakage = 'a file' | 'read-only' | 'missing';

export async function runMemifDir(o: MemifDirOptions = {}): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const problems: string[] = [];
  const figures: Record<string, number | string> = {};
  let rig: CniRig | null = null;
  let mounted = false;
  try {
    rig = await CniRig.start();
    const dir = rig.config.memifSocketDir;
    const cases: Breakage[] = ['a file', 'read-only', 'missing'];
    for (const [k, what] of cases.entries()) {
      rmSync(dir, { recursive: true, force: true });
      if (what === 'a file') writeFileSync(dir, 'not a directory\n');
      if (what === 'read-only') {
        mkdirSync(dir);
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tsvpp-soak-ro', dir]);
        mounted = true;
      }
      const id = `mdir${rig.rnd}c${k}`;
      const ns = await rig.newNetns();
      const add = await rig.cni('ADD', id, ns);
      const err = cniError;
      if (what === 'missing') {
        if (add.code !== 0) problems.push(`socket dir missing: ADD failed (the agent should create it): ${err(add)}`);
      } else {
        figures[`ADD with ${what}`] = add.code === 0 ? 'succeeded' : err(add);
        if (add.code === 0) problems.push(`socket dir is ${what}: ADD succeeded`);
        else if (!String(add.out?.msg ?? '').includes('memif') || !`${add.out?.msg} ${add.out?.details}`.includes(dir)) {
          problems.push(`socket dir is ${what}: the CNI error does not name the memif socket directory ${dir}: ${err(add)}`);
        }
        // Nothing of the failed ADD may remain, before any DEL.
        const podLinks = (await listLinks(ns)).map((l) => l.ifname).join(',');
        if (podLinks !== 'lo') problems.push(`socket dir is ${what}: pod netns has ${podLinks} after the failed ADD`);
        for (const [w, items] of Object.entries(await rig.leftovers())) {
          if (w !== 'netns' && items.length) problems.push(`socket dir is ${what}: after the failed ADD, ${w}: ${items.join(', ')}`);
        }
        // The runtime DELs the failed sandbox; then the dir is fixed and the pod retried.
        const del = await rig.cni('DEL', id, ns);
        if (del.code !== 0) problems.push(`socket dir is ${what}: DEL after the failed ADD failed: ${err(del)}`);
        if (mounted) { execFileSync('umount', [dir]); mounted = false; }
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        const retry = await rig.cni('ADD', id, ns);
        if (retry.code !== 0) problems.push(`socket dir was ${what}, fixed: ADD failed: ${err(retry)}`);
      }
      const final = what === 'missing' ? add : null;
      const del = await rig.cni('DEL', id, ns, final ? { prevResult: final.out } : {});
      if (del.code !== 0) problems.push(`${what}: DEL failed: ${err(del)}`);
      await rig.dropNetns(ns);
      for (const [w, items] of Object.entries(await rig.leftovers())) if (items.length) problems.push(`${what}: after DEL, ${w}: ${items.join(', ')}`);
      log(`memif-dir: socket dir ${what} done`);
    }
  } catch (e) {
    problems.push((e as Error).message);
  } finally {
    if (mounted && rig) { try { execFileSync('umount', [rig.config.memifSocketDir]); } catch { /* reported by rmSync in close */ } }
    await rig?.close();
  }
  return soakReport('memif-dir', t0, figures, problems);
}
