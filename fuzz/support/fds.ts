// What the process has open, for leak reports: "fd -> target" for every fd (Linux /proc).
import { readdirSync, readlinkSync } from 'node:fs';

export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const f of readdirSync('/proc/self/fd')) {
    try { out.set(Number(f), readlinkSync(`/proc/self/fd/${f}`)); } catch { /* the fd readdir used, gone */ }
  }
  return out;
}

/** The fds open now that were not open (with the same target) in `before`. */
export function newFds(before: Map<number, string>): string[] {
  return [...openFds()].filter(([fd, t]) => before.get(fd) !== t).map(([fd, t]) => `${fd} -> ${t}`);
}
