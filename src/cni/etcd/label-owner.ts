// Who may use a microservice label. Every pod with contivpp.io/microservice-label L publishes its
// pod-side config under /vnf-agent/L/, which the vpp-agent (or tsvpp memif-agent) started with L
// applies, so a label must not be shared across trust boundaries: it belongs to the namespace of
// the first pod that used it, for as long as any pod of that namespace holds it. Kept cluster-wide
// in etcd, one key per label, holding the owner namespace and the pods (container ids) that hold
// it; the last holder to leave deletes the key.
import type { KeyValueStore } from './store.js';

export const LABEL_OWNER_PREFIX = '/tsvpp/microservice-label/';

export function labelOwnerKey(label: string): string {
  if (!label || /[/\s]/.test(label)) throw new Error(`microservice label ${JSON.stringify(label)}: must be non-empty without '/' or whitespace`);
  return LABEL_OWNER_PREFIX + label;
}

/** The owner key's value. */
export interface LabelOwner { namespace: string; holders: string[] }

/** The label is held by pods of another namespace. */
export class LabelOwnedError extends Error {
  constructor(readonly label: string, readonly owner: string) {
    super(`microservice label ${label} belongs to namespace ${owner} (the namespace of the first pod that used it, while any pod there holds it)`);
    this.name = 'LabelOwnedError';
  }
}

function parse(key: string, raw: string): LabelOwner {
  const v = JSON.parse(raw) as LabelOwner;
  if (typeof v?.namespace !== 'string' || !Array.isArray(v.holders) || !v.holders.every((h) => typeof h === 'string')) {
    throw new Error(`etcd key ${key}: not a label owner record: ${raw}`);
  }
  return v;
}

/** Makes `holder` (a pod's container id) a holder of `label` for `namespace`; LabelOwnedError if another namespace owns it. */
export async function claimLabel(kv: KeyValueStore, label: string, namespace: string, holder: string): Promise<void> {
  const key = labelOwnerKey(label);
  await kv.update(key, (raw) => {
    const o: LabelOwner = raw === undefined ? { namespace, holders: [] } : parse(key, raw);
    if (o.namespace !== namespace) throw new LabelOwnedError(label, o.namespace);
    if (o.holders.includes(holder)) return raw;
    return JSON.stringify({ namespace, holders: [...o.holders, holder] });
  });
}

/** Drops `holder` from `label`; the label is free (its key deleted) once nobody holds it. Idempotent. */
export async function releaseLabel(kv: KeyValueStore, label: string, holder: string): Promise<void> {
  const key = labelOwnerKey(label);
  await kv.update(key, (raw) => {
    if (raw === undefined) return undefined;
    const o = parse(key, raw);
    if (!o.holders.includes(holder)) return raw;
    const holders = o.holders.filter((h) => h !== holder);
    return holders.length ? JSON.stringify({ namespace: o.namespace, holders }) : undefined;
  });
}
