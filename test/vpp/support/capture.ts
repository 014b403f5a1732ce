// tcpdump on one interface of a network namespace around an action: what it printed (-n, one line
// a packet). Resolves after tcpdump said it listens, the action ran and a moment for the last packets.
import { spawn } from 'node:child_process';

export async function capture(ns: string, dev: string, filter: string, action: () => Promise<unknown>): Promise<string> {
  const c = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-l', '-n', '-i', dev, '-c', '50', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  c.stdout!.on('data', (d) => { out += d; });
  await new Promise<void>((resolve, reject) => {
    c.stderr!.on('data', (d) => { err += d; if (/listening on/.test(String(d))) resolve(); });
    c.once('exit', (code) => reject(new Error(`tcpdump -i ${dev} in ${ns} exited ${code}: ${err}`)));
  });
  const exited = new Promise((r) => c.once('exit', r));
  try { await action(); } finally {
    await new Promise((r) => setTimeout(r, 500));
    c.kill('SIGTERM');
    await exited;
  }
  return out;
}

/** A regexp source matching `ip` literally. */
export const reIp = (ip: string): string => ip.replace(/\./g, '\\.');
