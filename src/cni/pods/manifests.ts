// PodSource over a directory of YAML/JSON manifests, as `kubectl apply -f DIR` takes them:
// multi-document files, `kind: List` wrappers, Pod, CustomNetwork and Node kinds (others are
// ignored; Nodes are read by src/cni/nodes/manifest-nodes.ts, Services and EndpointSlices by
// src/cni/services/manifests.ts).
// The directory is looked at on every lookup so that dropping in a manifest takes effect at once
// (a file is parsed again when its stat says it may have changed).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { customNetworkFromObject, podFromObject } from './objects.js';
import { PodSourceError, type CustomNetwork, type PodInfo, type PodSource } from './types.js';
import { nodeFromObject, type NodeObject } from '../nodes/node-object.js';

interface Loaded { pods: Map<string, PodInfo>; networks: Map<string, CustomNetwork>; nodes: Map<string, NodeObject> }

/** One object of a manifests dir, with where it was found (for error messages). */
export interface ManifestObject { obj: unknown; kind: unknown; where: string }

/**
 * Every object in the `*.yaml`, `*.yml` and `*.json` files of `dir` (file name order, then document
 * order; `kind: List` unwrapped). A file that does not parse is an error naming it.
 */
export async function readManifests(dir: string, error: (msg: string) => Error = (m) => new PodSourceError(m)): Promise<ManifestObject[]> {
  let names: string[];
  try { names = (await readdir(dir)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort(); } catch (e) {
    throw error(`manifests dir ${dir}: ${(e as Error).message}`);
  }
  const out: ManifestObject[] = [];
  for (const n of names) {
    const file = join(dir, n);
    let objects: readonly ManifestObject[] | undefined;
    try { objects = await readManifestFile(file, error); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed since the listing
      throw e;
    }
    out.push(...objects);
  }
  return out;
}

/**
 * A file's objects, parsed again only when it may have changed: the same inode, size, mtime and
 * ctime as when it was parsed, and a change time over a second old (a rewrite within the
 * filesystem's timestamp granularity keeps all four). Parsing is most of a lookup (ADD asks for
 * the pod first thing); a stat per file keeps a dropped-in or edited manifest effective at once.
 */
const parsedFiles = new Map<string, { key: string; objects: readonly ManifestObject[] }>();
const SETTLED_MS = 1000;

async function readManifestFile(file: string, error: (msg: string) => Error): Promise<readonly ManifestObject[]> {
  let key: string | undefined;
  try {
    const st = await stat(file);
    if (Date.now() - st.ctimeMs > SETTLED_MS) key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    throw error(`${file}: ${(e as Error).message}`);
  }
  const cached = parsedFiles.get(file);
  if (key && cached?.key === key) return cached.objects;
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    throw error(`${file}: ${(e as Error).message}`);
  }
  const objects: ManifestObject[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `${file} document ${i + 1}`;
    if (doc.errors.length) throw error(`${where}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as unknown;
    if (o === null || o === undefined) return;
    const objs = typeof o === 'object' && (o as { kind?: unknown }).kind === 'List' ? (((o as { items?: unknown[] }).items) ?? []) : [o];
    for (const obj of objs) objects.push({ obj, kind: (obj as { kind?: unknown })?.kind, where });
  });
  if (key) parsedFiles.set(file, { key, objects }); else parsedFiles.delete(file);
  return objects;
}

export class ManifestPodSource implements PodSource {
  readonly kind = 'manifests';
  constructor(readonly dir: string) {}

  async load(): Promise<Loaded> {
    const pods = new Map<string, PodInfo>(), networks = new Map<string, CustomNetwork>(), nodes = new Map<string, NodeObject>();
    for (const { obj, kind, where } of await readManifests(this.dir)) {
      if (kind === 'Pod') {
        const p = podFromObject(obj, where);
        pods.set(`${p.namespace}/${p.name}`, p);
      } else if (kind === 'CustomNetwork') {
        const c = customNetworkFromObject(obj, where);
        networks.set(c.name, c);
      } else if (kind === 'Node') {
        const n = nodeFromObject(obj, where);
        nodes.set(n.name, n);
      }
    }
    return { pods, networks, nodes };
  }

  async getPod(namespace: string, name: string): Promise<PodInfo> {
    const p = (await this.load()).pods.get(`${namespace}/${name}`);
    if (!p) throw new PodSourceError(`pod ${namespace}/${name} not found in manifests dir ${this.dir}`, true);
    return p;
  }

  async getCustomNetwork(name: string): Promise<CustomNetwork | undefined> {
    return (await this.load()).networks.get(name);
  }
}
