// Linux interface-name rules (IFNAMSIZ = 16 incl. NUL, dev_valid_name() in the kernel), shared by the
// annotation parser and the CNI_IFNAME check. Kept dependency-free: tsvpp-cni imports it.

/** Why `name` is not a valid Linux interface name, or undefined when it is. */
export function ifNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name === '.' || name === '..') return `must not be "${name}"`;
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > 15) return `is ${bytes} bytes long (at most 15)`;
  if (name.includes('/')) return 'contains "/"';
  if (name.includes(':')) return 'contains ":"';
  if (/\s/u.test(name)) return 'contains whitespace';
  if (name.includes('\0')) return 'contains NUL';
  return undefined;
}
