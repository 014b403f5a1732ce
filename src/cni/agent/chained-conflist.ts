// Chained mode's network configuration. Another CNI (Calico, Cilium, flannel, bridge: whatever
// makes the pod's eth0) is the primary and writes its own conflist, often with node-specific
// content, so tsvpp cannot ship a fixed one. The agent derives it on each node instead: the
// primary's network (the file the container runtime would take, libcni's order) with tsvpp-cni
// appended, written as CHAINED_CONFLIST, whose name sorts first, so the runtime takes it instead.
// Rewritten whenever the primary's file changes; removed when the primary's file is gone (a
// chained config must not outlive the network it extends). The primary's file is never touched.
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SUPPORTED_VERSIONS } from '../spec.cjs';
import type { AgentConfig } from './config.js';
import { POD_ANNOTATIONS_CAPABILITY } from './pod-metadata.js';

export const CHAINED_CONFLIST = '00-tsvpp-chained.conflist';
/** The extensions libcni reads in a CNI config dir (ConfFiles(dir, [".conf", ".conflist", ".json"])). */
const CONF_EXTENSIONS = ['.conf', '.conflist', '.json'];
export const CHAINED_POLL_MS = 2000;

export class ChainedConfError extends Error {
  constructor(message: string) { super(message); this.name = 'ChainedConfError'; }
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** tsvpp-cni's entry in a conflist (deploy/10-tsvpp.conflist holds the same for the default config). */
export interface TsvppPluginConf {
  type: 'tsvpp-cni';
  agentSocket: string;
  agentStateDir: string;
  timeoutSeconds: number;
  capabilities: { [POD_ANNOTATIONS_CAPABILITY]: true };
}

export function tsvppPluginConf(c: Pick<AgentConfig, 'cniSocket' | 'stateDir'>): TsvppPluginConf {
  return { type: 'tsvpp-cni', agentSocket: c.cniSocket, agentStateDir: c.stateDir, timeoutSeconds: 120, capabilities: { [POD_ANNOTATIONS_CAPABILITY]: true } };
}

/** A conf file as a conflist: a .conf (one plugin) becomes a list of one. */
function asConflist(text: string, file: string): Json {
  let o: unknown;
  try { o = JSON.parse(text); } catch (e) { throw new ChainedConfError(`${file}: ${(e as Error).message}`); }
  if (!isObj(o)) throw new ChainedConfError(`${file}: not a JSON object`);
  if (o.plugins === undefined) {
    if (typeof o.type !== 'string') throw new ChainedConfError(`${file}: neither a conflist (plugins) nor a plugin config (type)`);
    const { cniVersion, name, ...plugin } = o;
    return { cniVersion, name, plugins: [plugin] };
  }
  if (!Array.isArray(o.plugins) || o.plugins.some((p) => !isObj(p) || typeof p.type !== 'string')) {
    throw new ChainedConfError(`${file}: plugins must be a list of plugin configs, each with a type`);
  }
  return o;
}

const hasTsvpp = (c: Json) => (c.plugins as Json[]).some((p) => p.type === 'tsvpp-cni');

/**
 * The primary's network with tsvpp-cni appended. Name, cniVersion and every other field stay the
 * primary's (the runtime files results under the network name), but cniVersions keeps only the
 * versions tsvpp-cni speaks. Throws when tsvpp-cni cannot
 * join it (a cniVersion it does not speak, no name, or tsvpp-cni is in it already).
 */
export function chainConflist(primaryText: string, primaryFile: string, plugin: TsvppPluginConf): Json {
  const c = asConflist(primaryText, primaryFile);
  if (typeof c.name !== 'string' || c.name === '') throw new ChainedConfError(`${primaryFile}: no network name`);
  if (typeof c.cniVersion !== 'string' || !(SUPPORTED_VERSIONS as readonly string[]).includes(c.cniVersion)) {
    throw new ChainedConfError(`${primaryFile}: cniVersion ${JSON.stringify(c.cniVersion)} is not one tsvpp-cni speaks (${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (hasTsvpp(c)) throw new ChainedConfError(`${primaryFile}: tsvpp-cni is in it already`);
  // A runtime on libcni 1.2+ calls every plugin with the highest of cniVersion and cniVersions it
  // knows: of the primary's cniVersions, only those tsvpp-cni speaks too stay.
  const versions = Array.isArray(c.cniVersions) ? { cniVersions: c.cniVersions.filter((v) => (SUPPORTED_VERSIONS as readonly unknown[]).includes(v)) } : {};
  return { ...c, ...versions, plugins: [...(c.plugins as Json[]), { ...plugin }] };
}

/**
 * The primary's conf file in a listing of the CNI config dir: the first in libcni's order (sorted
 * names, .conf/.conflist/.json) that is not tsvpp's own (our chained file, or a conflist that runs
 * tsvpp-cni already, such as tsvpp's own primary-mode 10-tsvpp.conflist).
 */
export async function findPrimary(dir: string): Promise<{ primary?: { file: string; text: string }; tsvppFiles: string[] }> {
  let names: string[];
  const tsvppFiles: string[] = [];
  try { names = await readdir(dir); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { tsvppFiles };
    throw new ChainedConfError(`CNI config dir ${dir}: ${(e as Error).message}`);
  }
  for (const n of names.filter((x) => CONF_EXTENSIONS.some((e) => x.endsWith(e))).sort()) {
    if (n === CHAINED_CONFLIST) continue;
    const file = join(dir, n);
    let text: string;
    try { text = await readFile(file, 'utf8'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR') continue;
      throw new ChainedConfError(`${file}: ${(e as Error).message}`);
    }
    let conf: Json | undefined;
    try { conf = asConflist(text, file); } catch { conf = undefined; }
    // Unreadable: the runtime would fail on it too; it is still the file it takes first.
    if (conf && hasTsvpp(conf)) { tsvppFiles.push(file); continue; }
    return { primary: { file, text }, tsvppFiles };
  }
  return { tsvppFiles };
}

/**
 * Keeps <dir>/CHAINED_CONFLIST equal to the primary's conflist plus tsvpp-cni: at start and on
 * every poll. A primary that cannot be chained is logged and the chained file removed, so pods get
 * the primary's network alone rather than a broken one. Each finding is logged when it first
 * appears, not on every poll.
 */
export class ChainedConflistWriter {
  private seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  readonly file: string;

  constructor(readonly dir: string, private readonly plugin: TsvppPluginConf, private readonly log: (m: string) => void, private readonly pollMs = CHAINED_POLL_MS) {
    this.file = join(dir, CHAINED_CONFLIST);
  }

  /** Writes (or removes) the chained conflist once and keeps it current until stop(). */
  async start(): Promise<void> {
    await this.pass();
    this.timer = setInterval(() => { this.running ??= this.pass().finally(() => { this.running = undefined; }); }, this.pollMs);
    this.timer.unref();
  }

  /** Stops following the primary; the chained file stays (pods keep being wired while the agent restarts). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sync; what it found is logged when new. */
  private async pass(): Promise<void> {
    const found: string[] = [];
    try { await this.sync(found); } catch (e) { found.push(`chained mode: ${(e as Error).message}`); }
    for (const m of found) if (!this.seen.has(m)) this.log(m);
    this.seen = new Set(found);
  }

  /** Makes the file what it should be (written only when it differs); `found` gets what to report. */
  async sync(found: string[] = []): Promise<void> {
    const { primary, tsvppFiles } = await findPrimary(this.dir);
    for (const f of tsvppFiles) {
      found.push(`chained mode: ${f} runs tsvpp-cni as a primary network; remove it (the runtime takes it whenever ${CHAINED_CONFLIST} is absent)`);
    }
    let want: string | undefined;
    if (!primary) {
      found.push(`chained mode: no primary CNI conflist in ${this.dir} (waiting for one; ${CHAINED_CONFLIST} not written)`);
    } else {
      try {
        want = JSON.stringify(chainConflist(primary.text, primary.file, this.plugin), null, 2) + '\n';
        found.push(`chained mode: ${this.file} = ${primary.file} + tsvpp-cni`);
      } catch (e) {
        found.push(`chained mode: ${(e as Error).message}; ${CHAINED_CONFLIST} removed, pods get the primary network alone`);
      }
    }
    const have = await readFile(this.file, 'utf8').catch(() => undefined);
    if (want === have) return;
    if (want === undefined) { await rm(this.file, { force: true }); return; }
    // Written whole under another name, then renamed: the runtime never reads half a file.
    const tmp = join(this.dir, `.${CHAINED_CONFLIST}.${process.pid}.tmp`);
    await writeFile(tmp, want, { mode: 0o644 });
    await rename(tmp, this.file);
  }
}
