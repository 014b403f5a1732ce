// tsvpp memif echo: a standalone memif endpoint that sends every packet back with the Ethernet
// addresses swapped, until interrupted. It prints connects, disconnects with their reasons, and
// counters — a quick way to check one's own memif application.
import { MemifInterface, type MemifConnection, type DisconnectInfo } from '../memif/index.js';
import { MemifEcho } from '../memif/echo.js';
import { parseFlags, UsageError } from '../flags.js';

const help = `usage: tsvpp memif echo --socket PATH --role master|slave [flags]

  --socket PATH        control socket (a leading @ names an abstract socket)
  --role ROLE          master (listens) or slave (connects)
  --id N               interface id on the socket (default 0)
  --secret S           shared secret, at most 24 bytes
  --mode MODE          ethernet | ip | punt-inject (default ethernet)
  --queues Q           queues each way (default 1)
  --ring-size N        log2 of the ring size (default 10)
  --buffer-size N      buffer size in bytes (default 2048)
  --rx-mode MODE       polling | interrupt (default polling)
  --no-swap            send packets back unchanged
  --stats-interval S   print counters every S seconds (default 1; 0: only at exit)
  --quiet              print only connects and disconnects
  --allow-unsealed-regions
                       master: accept a slave whose memory cannot be sealed against shrinking
                       (DPDK zero-copy clients); a slave that then truncates it crashes us`;

export async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, {
    socket: { type: 'string' },
    role: { type: 'string', choices: ['master', 'slave'] },
    id: { type: 'int', default: 0 },
    secret: { type: 'string' },
    mode: { type: 'string', choices: ['ethernet', 'ip', 'punt-inject'], default: 'ethernet' },
    queues: { type: 'int', default: 1 },
    'ring-size': { type: 'int', default: 10 },
    'buffer-size': { type: 'int', default: 2048 },
    'rx-mode': { type: 'string', choices: ['polling', 'interrupt'], default: 'polling' },
    'no-swap': { type: 'bool' },
    'stats-interval': { type: 'number', default: 1 },
    quiet: { type: 'bool' },
    'allow-unsealed-regions': { type: 'bool' },
    help: { type: 'bool' },
  });
  if (flags.help) { console.log(help); return 0; }
  if (!flags.socket) throw new UsageError('--socket is required');
  if (!flags.role) throw new UsageError('--role is required (master or slave)');
  const iface = new MemifInterface({
    socket: flags.socket,
    role: flags.role as 'master' | 'slave',
    id: flags.id,
    secret: flags.secret,
    mode: flags.mode as 'ethernet',
    queues: flags.queues,
    log2RingSize: flags['ring-size'],
    bufferSize: flags['buffer-size'],
    ifName: `tsvpp-echo${flags.id}`,
    allowUnsealedRegions: flags['allow-unsealed-regions'],
  });
  const echo = new MemifEcho(iface, { mode: flags['rx-mode'] as 'polling', swapMac: !flags['no-swap'] });
  const log = (s: string) => console.log(`${new Date().toISOString()} ${s}`);
  const where = `${flags.role} id ${flags.id} on ${flags.socket}`;
  if (flags.role === 'master') log(`listening: ${where}`);
  else log(`connecting: ${where}`);
  iface.on('connected', (c: MemifConnection) => log(`connected: peer '${c.peerName}' interface '${c.peerIfName}', ${c.rx.length} rx / ${c.tx.length} tx queues, ring ${c.rx[0]?.queue.size}`));
  iface.on('disconnected', (d: DisconnectInfo) => log(`disconnected: ${d.reason} (${d.byPeer ? 'by peer' : 'by us'})`));
  iface.on('connect-failed', (d: { reason: string }) => log(`waiting for master: ${d.reason}`));
  iface.on('rejected', (d: { reason: string }) => log(`refused a slave: ${d.reason}`));
  const counters = () => `rx ${echo.counters.rx} tx ${echo.counters.tx} dropped ${echo.counters.dropped}`;
  let last = -1;
  const timer = flags['stats-interval']! > 0 && !flags.quiet
    ? setInterval(() => { if (echo.counters.rx !== last) { last = echo.counters.rx; log(counters()); } }, flags['stats-interval']! * 1000)
    : null;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  if (timer) clearInterval(timer);
  echo.close();
  iface.close('echo stopped');
  log(`stopped: ${counters()}`);
  return 0;
}
