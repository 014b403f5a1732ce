// Turns Kubernetes objects (as parsed from YAML or returned by the API) into PodInfo / CustomNetwork,
// naming the object and field when something is malformed.
import { parsePrefix4, type Prefix4 } from '../ipv4.js';
import { PodSourceError, type CustomNetwork, type PodInfo } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function podFromObject(o: unknown, where: string): PodInfo {
  if (!isObj(o)) throw new PodSourceError(`${where}: Pod is not an object`);
  const meta = isObj(o.metadata) ? o.metadata : {};
  const name = meta.name;
  if (typeof name !== 'string' || name === '') throw new PodSourceError(`${where}: Pod without metadata.name`);
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  const annotations: Record<string, string> = {};
  if (meta.annotations !== undefined && meta.annotations !== null) {
    if (!isObj(meta.annotations)) throw new PodSourceError(`${where}: Pod ${namespace}/${name}: metadata.annotations is not a map`);
    for (const [k, v] of Object.entries(meta.annotations)) {
      if (typeof v !== 'string') throw new PodSourceError(`${where}: Pod ${namespace}/${name}: annotation ${k} is not a string (quote it in YAML)`);
      annotations[k] = v;
    }
  }
  const spec = isObj(o.spec) ? o.spec : {};
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  const containerLimits = containers.map((c) => {
    const res = isObj(c) && isObj(c.resources) ? c.resources : undefined;
    return res && isObj(res.limits) ? res.limits : undefined;
  });
  return { namespace, name, annotations, containerLimits, ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}) };
}

export function customNetworkFromObject(o: unknown, where: string): CustomNetwork {
  if (!isObj(o)) throw new PodSourceError(`${where}: CustomNetwork is not an object`);
  const meta = isObj(o.metadata) ? o.metadata : {};
  const name = meta.name;
  if (typeof name !== 'string' || name === '') throw new PodSourceError(`${where}: CustomNetwork without metadata.name`);
  const w = `${where}: CustomNetwork ${name}`;
  if (o.apiVersion !== undefined && o.apiVersion !== 'contivpp.io/v1') throw new PodSourceError(`${w}: apiVersion ${JSON.stringify(o.apiVersion)} (expected contivpp.io/v1)`);
  const spec = isObj(o.spec) ? o.spec : undefined;
  if (!spec) throw new PodSourceError(`${w}: missing spec`);
  if (spec.type !== 'L2' && spec.type !== 'L3') throw new PodSourceError(`${w}: spec.type ${JSON.stringify(spec.type)} (expected L2 or L3)`);
  if (spec.type === 'L2') return { name, type: 'L2' };
  if (typeof spec.subnetCIDR !== 'string') throw new PodSourceError(`${w}: L3 network needs spec.subnetCIDR`);
  let cidr: Prefix4;
  try { cidr = parsePrefix4(spec.subnetCIDR); } catch (e) { throw new PodSourceError(`${w}: spec.subnetCIDR ${(e as Error).message}`); }
  const len = spec.subnetOneNodePrefixLen;
  if (typeof len !== 'number' || !Number.isInteger(len) || len < cidr.len || len > 30) {
    throw new PodSourceError(`${w}: spec.subnetOneNodePrefixLen ${JSON.stringify(len)} must be an integer between ${cidr.len} (the subnet's) and 30`);
  }
  return { name, type: 'L3', subnetCIDR: spec.subnetCIDR, subnetOneNodePrefixLen: len };
}
