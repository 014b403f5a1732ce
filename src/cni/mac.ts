// MAC addresses the agent chooses itself (a memif's, a veth's pod end).
import { randomBytes } from 'node:crypto';

/** A random locally administered unicast MAC, lower-case with colons (as rtnetlink reports one). */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
