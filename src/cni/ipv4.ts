// IPv4 prefix arithmetic for node slices of pod and custom-network subnets.

export interface Prefix4 { addr: number; len: number }

export function parseIp4(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`${JSON.stringify(s)} is not an IPv4 address`);
  return m.slice(1).reduce((a, x) => a * 256 + Number(x), 0);
}

export function formatIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const mask = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);

export function parsePrefix4(s: string): Prefix4 {
  const [a, l, extra] = s.split('/');
  const len = Number(l);
  if (a === undefined || l === undefined || extra !== undefined || !/^\d{1,2}$/.test(l) || len > 32) throw new Error(`${JSON.stringify(s)} is not an IPv4 CIDR`);
  const addr = parseIp4(a);
  if (((addr & ~mask(len)) >>> 0) !== 0) throw new Error(`${s} has host bits set (network is ${formatIp4((addr & mask(len)) >>> 0)}/${len})`);
  return { addr, len };
}

export function formatPrefix4(p: Prefix4): string { return `${formatIp4(p.addr)}/${p.len}`; }

/** Slice number `index` of length `sliceLen` inside `p` (node N's share of a cluster subnet). */
export function slice4(p: Prefix4, sliceLen: number, index: number): Prefix4 {
  if (sliceLen < p.len || sliceLen > 32) throw new Error(`slice length /${sliceLen} does not fit in ${formatPrefix4(p)}`);
  const count = 2 ** (sliceLen - p.len);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new Error(`slice ${index} is outside ${formatPrefix4(p)} split into /${sliceLen} (0..${count - 1})`);
  return { addr: (p.addr + index * 2 ** (32 - sliceLen)) >>> 0, len: sliceLen };
}

/** Gateway (.1), first and last host address of a prefix (len <= 30). */
export function hostRange4(p: Prefix4): { gateway: string; rangeStart: string; rangeEnd: string } {
  if (p.len > 30) throw new Error(`${formatPrefix4(p)} is too small for a gateway and pods`);
  const size = 2 ** (32 - p.len);
  return { gateway: formatIp4(p.addr + 1), rangeStart: formatIp4(p.addr + 2), rangeEnd: formatIp4(p.addr + size - 2) };
}

export function contains4(p: Prefix4, ip: string): boolean {
  return ((parseIp4(ip) & mask(p.len)) >>> 0) === p.addr;
}

/** Whether two prefixes share any address. */
export function overlaps4(a: Prefix4, b: Prefix4): boolean {
  const len = Math.min(a.len, b.len);
  return ((a.addr & mask(len)) >>> 0) === ((b.addr & mask(len)) >>> 0);
}
