// A libcni stand-in: runs a conflist the way libcni (containerd, CRI-O, cnitool) does, with real
// plugin executables found on CNI_PATH. ADD goes through the plugins in order, each one's result
// passed to the next as prevResult; CHECK in order and DEL in reverse, both with the cached final
// result as prevResult (DEL only from 0.4.0 on; CHECK refused below 0.4.0, as libcni does). Each
// plugin gets its entry plus the conflist's name and cniVersion, and runtimeConfig with the
// capability arguments its `capabilities` asks for. Not modelled: the result cache on disk,
// disableCheck, GC and STATUS.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CniResult } from '../cni/spec.cjs';

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Array<{ type: string; capabilities?: Record<string, boolean>; [k: string]: unknown }>;
}

/** One plugin run: exit code, parsed stdout (result or CNI error), stderr. */
export interface PluginRun { type: string; code: number; out: any; stderr: string }

export interface LibcniCall {
  containerId: string;
  /** CNI_NETNS: a netns path. */
  netns: string;
  ifName?: string;
  /** CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME, ...). */
  args?: Record<string, string>;
  /** Capability arguments the runtime offers (e.g. io.kubernetes.cri.pod-annotations). */
  capabilityArgs?: Record<string, unknown>;
}

const atLeast040 = (v: string) => !/^0\.[0-3]\./.test(v);

export class LibcniStandin {
  constructor(readonly conflist: Conflist, readonly cniPath: string[]) {}

  /** ADD through every plugin; stops at the first failure (the runtime then calls DEL). */
  async add(c: LibcniCall): Promise<{ result?: CniResult; failed?: PluginRun }> {
    let prev: CniResult | undefined;
    for (const p of this.conflist.plugins) {
      const run = await this.exec(p, 'ADD', c, prev);
      if (run.code !== 0) return { failed: run };
      prev = run.out as CniResult;
    }
    return { result: prev! };
  }

  /** CHECK through every plugin with the cached result; every plugin's answer. */
  async check(c: LibcniCall, cached: CniResult): Promise<PluginRun[]> {
    if (!atLeast040(this.conflist.cniVersion)) throw new Error(`configuration version "${this.conflist.cniVersion}" does not support the CHECK command`);
    const out: PluginRun[] = [];
    for (const p of this.conflist.plugins) out.push(await this.exec(p, 'CHECK', c, cached));
    return out;
  }

  /** DEL through every plugin in reverse; every plugin's answer. */
  async del(c: LibcniCall, cached?: CniResult): Promise<PluginRun[]> {
    const prev = cached && atLeast040(this.conflist.cniVersion) ? cached : undefined;
    const out: PluginRun[] = [];
    for (const p of [...this.conflist.plugins].reverse()) out.push(await this.exec(p, 'DEL', c, prev));
    return out;
  }

  private exec(plugin: Conflist['plugins'][number], command: string, c: LibcniCall, prevResult?: CniResult): Promise<PluginRun> {
    const dir = this.cniPath.find((d) => existsSync(join(d, plugin.type)));
    if (!dir) throw new Error(`failed to find plugin "${plugin.type}" in path [${this.cniPath.join(' ')}]`);
    const runtimeConfig = Object.fromEntries(Object.entries(c.capabilityArgs ?? {}).filter(([k]) => plugin.capabilities?.[k] === true));
    const netconf = {
      ...plugin, cniVersion: this.conflist.cniVersion, name: this.conflist.name,
      ...(Object.keys(runtimeConfig).length ? { runtimeConfig } : {}), ...(prevResult ? { prevResult } : {}),
    };
    return new Promise((res, rej) => {
      const child = spawn(join(dir, plugin.type), [], {
        env: {
          PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: c.containerId, CNI_NETNS: c.netns, CNI_IFNAME: c.ifName ?? 'eth0',
          CNI_ARGS: Object.entries({ IgnoreUnknown: '1', ...c.args }).map(([k, v]) => `${k}=${v}`).join(';'), CNI_PATH: this.cniPath.join(':'),
        },
      });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('error', rej);
      child.on('close', (code) => {
        let out: unknown;
        try { out = stdout.trim() ? JSON.parse(stdout) : undefined; } catch { out = stdout; }
        res({ type: plugin.type, code: code ?? -1, out, stderr });
      });
      child.stdin.end(JSON.stringify(netconf));
    });
  }
}
