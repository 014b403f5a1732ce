// Addresses as rtnetlink carries them: IPv4 in 4 bytes and IPv6 in 16 (network order), Ethernet
// MACs in 6. Requests take IPv4 only (the CNI is IPv4); replies may hold either family.
import { NetlinkDecodeError } from './wire.js';

/** "a.b.c.d" → 4 bytes. Refuses anything else with the text it was given. */
export function ipv4Bytes(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new RangeError(`${JSON.stringify(s)} is not an IPv4 address (a.b.c.d)`);
  }
  return Uint8Array.from(parts, Number);
}

/** "a.b.c.d/len" (or "default" = 0.0.0.0/0, or a bare address = /32) → bytes and prefix length. */
export function ipv4Prefix(s: string): { addr: Uint8Array; len: number } {
  if (s === 'default') return { addr: new Uint8Array(4), len: 0 };
  const [a, l, extra] = s.split('/');
  if (extra !== undefined || (l !== undefined && !/^(0|[1-9][0-9]?)$/.test(l)) || Number(l ?? 32) > 32) {
    throw new RangeError(`${JSON.stringify(s)} is not an IPv4 prefix (a.b.c.d/len, 0 ≤ len ≤ 32)`);
  }
  return { addr: ipv4Bytes(a!), len: Number(l ?? 32) };
}

/**
 * 4 or 16 address bytes as text, as inet_ntop writes them (and so `ip`): IPv6 in RFC 5952 form
 * (lower case, the first longest run of two or more zero groups as ::), with the IPv4-mapped
 * (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms dotted.
 */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  if (b.length !== 16) throw new NetlinkDecodeError(`an IP address is 4 or 16 bytes, got ${b.length}`);
  const g = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || (g[5] === 0 && g[6] !== 0))) {
    return `::${g[5] ? 'ffff:' : ''}${b.subarray(12).join('.')}`;
  }
  let best = -1, bestLen = 1; // a single zero group is not shortened
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** "02:fe:00:00:00:01" → 6 bytes. */
export function macBytes(s: string): Uint8Array {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) throw new RangeError(`${JSON.stringify(s)} is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  return Uint8Array.from(s.split(':'), (h) => parseInt(h, 16));
}

/** Link-layer address bytes as "xx:xx:...", lower case (any length, as `ip` prints them). */
export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}
