// A libcni stand-in: runs a conflist the way libcni (containerd, CRI-O, cnitool) does, with real
// plugin executables found on CNI_PATH. ADD goes through the plugins in order, each one's result
// passed to the next as prevResult; CHECK in order and DEL in reverse, both with the cached final
// result as prevResult (DEL only from 0.4.0 on; CHECK refused below 0.4.0, as libcni does). Each
// plugin gets its entry plus the conflist's name and cniVersion, and runtimeConfig with the
// capability arguments its `capabilities` asks for. As libcni 1.2 and later: the version is the
// highest of cniVersion and cniVersions that this libcni knows (up to 1.1.0); STATUS goes to every
// plugin in order and stops at the first error, GC to every plugin with the still valid
// attachments (under both names libcni sends them), all of them whatever one answers; both only
// from 1.1.0 on, and with no attachment variables (empty, as libcni sets them). Not modelled: the
// result cache on disk (and the DELs libcni's GC makes from it), disableCheck, disableGC.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CniResult } from '../cni/spec.cjs';

export interface Conflist {
  cniVersion: string;
  cniVersions?: string[];
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
const atLeast110 = (v: string) => !/^0\.|^1\.0\./.test(v);
/** The spec versions this stand-in knows, oldest first (libcni 1.2's). */
const KNOWN_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

/** An attachment the runtime still has, as GC lists it. */
export interface GcAttachment { containerID: string; ifname: string }

export class LibcniStandin {
  /** The version every plugin is called with: the highest of cniVersion and cniVersions known here. */
  readonly version: string;
  constructor(readonly conflist: Conflist, readonly cniPath: string[]) {
    const offered = [conflist.cniVersion, ...(conflist.cniVersions ?? [])].filter((v) => KNOWN_VERSIONS.includes(v));
    this.version = offered.sort((a, b) => KNOWN_VERSIONS.indexOf(b) - KNOWN_VERSIONS.indexOf(a))[0] ?? conflist.cniVersion;
  }

  /** STATUS through every plugin until one fails (libcni's GetStatusNetworkList): that one's answer, or undefined. */
  async status(): Promise<PluginRun | undefined> {
    if (!atLeast110(this.version)) return undefined; // libcni asks nothing below 1.1.0
    for (const p of this.conflist.plugins) {
      const run = await this.exec(p, 'STATUS', NO_ATTACHMENT);
      if (run.code !== 0) return run;
    }
    return undefined;
  }

  /**
   * GC through every plugin (libcni's GCNetworkList without its cache); every plugin's answer. An
   * empty list goes as null, as from CRI-O (a nil Go slice for a network without pods).
   */
  async gc(valid: GcAttachment[]): Promise<PluginRun[]> {
    if (!atLeast110(this.version)) return [];
    const list = valid.length ? valid : null;
    const out: PluginRun[] = [];
    for (const p of this.conflist.plugins) out.push(await this.exec(p, 'GC', NO_ATTACHMENT, undefined, { 'cni.dev/valid-attachments': list, 'cni.dev/attachments': list }));
    return out;
  }

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
    if (!atLeast040(this.version)) throw new Error(`configuration version "${this.version}" does not support the CHECK command`);
    const out: PluginRun[] = [];
    for (const p of this.conflist.plugins) out.push(await this.exec(p, 'CHECK', c, cached));
    return out;
  }

  /** DEL through every plugin in reverse; every plugin's answer. */
  async del(c: LibcniCall, cached?: CniResult): Promise<PluginRun[]> {
    const prev = cached && atLeast040(this.version) ? cached : undefined;
    const out: PluginRun[] = [];
    for (const p of [...this.conflist.plugins].reverse()) out.push(await this.exec(p, 'DEL', c, prev));
    return out;
  }

  private exec(plugin: Conflist['plugins'][number], command: string, c: LibcniCall, prevResult?: CniResult, inject: Record<string, unknown> = {}): Promise<PluginRun> {
    const dir = this.cniPath.find((d) => existsSync(join(d, plugin.type)));
    if (!dir) throw new Error(`failed to find plugin "${plugin.type}" in path [${this.cniPath.join(' ')}]`);
    const runtimeConfig = Object.fromEntries(Object.entries(c.capabilityArgs ?? {}).filter(([k]) => plugin.capabilities?.[k] === true));
    const netconf = {
      ...plugin, cniVersion: this.version, name: this.conflist.name,
      ...(Object.keys(runtimeConfig).length ? { runtimeConfig } : {}), ...(prevResult ? { prevResult } : {}), ...inject,
    };
    return new Promise((res, rej) => {
      const child = spawn(join(dir, plugin.type), [], {
        env: {
          PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: c.containerId, CNI_NETNS: c.netns, CNI_IFNAME: c === NO_ATTACHMENT ? '' : c.ifName ?? 'eth0',
          CNI_ARGS: c === NO_ATTACHMENT ? '' : Object.entries({ IgnoreUnknown: '1', ...c.args }).map(([k, v]) => `${k}=${v}`).join(';'), CNI_PATH: this.cniPath.join(':'),
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

/** STATUS and GC name no attachment: libcni sets the attachment's variables empty. */
const NO_ATTACHMENT: LibcniCall = { containerId: '', netns: '', ifName: '' };
