// PodSource over a directory of YAML/JSON manifests, as `kubectl apply -f DIR` takes them:
// multi-document files, `kind: List` wrappers, Pod, CustomNetwork and Node kinds (others are
// ignored; Nodes are read by src/cni/nodes/manifest-nodes.ts).
// The directory is re-read on every lookup so that dropping in a manifest takes effect at once.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { customNetworkFromObject, podFromObject } from './objects.js';
import { PodSourceError, type CustomNetwork, type PodInfo, type PodSource } from './types.js';
import { nodeFromObject, type NodeObject } from '../nodes/node-object.js';

interface Loaded { pods: Map<string, PodInfo>; networks: Map<string, CustomNetwork>; nodes: Map<string, NodeObject> }

export class ManifestPodSource implements PodSource {
  readonly kind = 'manifests';
  constructor(readonly dir: string) {}

  async load(): Promise<Loaded> {
    let names: string[];
    try { names = (await readdir(this.dir)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort(); } catch (e) {
      throw new PodSourceError(`pod manifests dir ${this.dir}: ${(e as Error).message}`);
    }
    const pods = new Map<string, PodInfo>(), networks = new Map<string, CustomNetwork>(), nodes = new Map<string, NodeObject>();
    for (const n of names) {
      const file = join(this.dir, n);
      const text = await readFile(file, 'utf8');
      const docs = parseAllDocuments(text);
      const list = Array.isArray(docs) ? docs : [docs];
      list.forEach((doc, i) => {
        const where = `${file} document ${i + 1}`;
        if (doc.errors.length) throw new PodSourceError(`${where}: ${doc.errors[0]!.message}`);
        const objs: unknown[] = [];
        const o = doc.toJS() as unknown;
        if (o === null || o === undefined) return;
        if (typeof o === 'object' && (o as { kind?: unknown }).kind === 'List') objs.push(...(((o as { items?: unknown[] }).items) ?? []));
        else objs.push(o);
        for (const obj of objs) {
          const kind = (obj as { kind?: unknown })?.kind;
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
      });
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
