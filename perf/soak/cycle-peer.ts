// The far end for connect/disconnect cycles across two processes: one memif endpoint (either role)
// that echoes packets and is driven by signals (so perf/peers/procs.ts, which reaps every child it
// started, can run it):
//   SIGUSR1   drop the connection (this end initiates; a slave reconnects after --reconnect-ms)
//   SIGUSR2   print "SAMPLE {fds, rss, heapUsed}"
//   SIGINT    close and exit 0
// It prints "CONNECTED <n>" and "DISCONNECTED <n> <reason>" lines as they happen, "READY" at start.
//
//   node dist/perf/soak/cycle-peer.js --socket PATH --role master|slave [--reconnect-ms N]
import { MemifInterface } from '../../src/memif/index.js';
import { MemifEcho } from '../../src/memif/echo.js';
import { sample } from './measure.js';

function flag(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : dflt;
  if (v === undefined) { console.error(`cycle-peer: --${name} is required`); process.exit(2); }
  return v;
}

const socket = flag('socket');
const role = flag('role') as 'master' | 'slave';
const iface = new MemifInterface({ socket, role, id: 0, reconnectMs: Number(flag('reconnect-ms', '5')), ifName: `cycle-peer-${role}` });
const echo = new MemifEcho(iface, { mode: 'interrupt', swapMac: true });
let connects = 0, disconnects = 0;
iface.on('connected', () => console.log(`CONNECTED ${++connects}`));
iface.on('disconnected', (d: { reason: string }) => console.log(`DISCONNECTED ${++disconnects} ${d.reason}`));
iface.on('connect-failed', () => { /* the master is not there yet; retried */ });
console.log('READY');

process.on('SIGUSR1', () => iface.disconnect('cycle-peer disconnects'));
process.on('SIGUSR2', () => { void sample().then((s) => console.log(`SAMPLE ${JSON.stringify(s)}`)); });
process.once('SIGINT', () => { echo.close(); iface.close('cycle-peer quits'); setTimeout(() => process.exit(0), 20); });
setInterval(() => { /* keep the event loop alive while idle */ }, 1 << 30);
