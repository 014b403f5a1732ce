// A Service backend and client for the real-VPP service tests, run in a pod's netns with
// `ip netns exec NS node svc-peer.js ...`:
//   serve PORT NAME          TCP and UDP on 0.0.0.0:PORT; each connection (datagram) is answered with
//                            one line "NAME <client address>:<client port> <local address>"; prints
//                            "ready" once both listen
//   connect HOST PORT N [udp] N connections (datagrams) one after another, each from a new source port;
//                            prints one JSON line: [{reply} | {error}] per attempt. A UDP attempt
//                            sends its datagram again every UDP_RESEND_MS until an answer or an
//                            error, as TCP resends its SYN (see udpOnce)
// The answer carries what the backend saw, so a test checks both directions: the request reached a
// backend with the client's own address, and the reply came back to the socket that was connected to
// the Service's address (TCP would not complete otherwise).
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';

const TIMEOUT_MS = 3000;
/**
 * VPP answers a packet that hits a null route (a ClusterIP's reject route) with an ICMP error at most
 * once per 100 ms for one (source, destination) pair — ip4-null's own rate limit, ahead of
 * ip4-icmp-error's — and drops the rest silently. A datagram sent within 100 ms of the previous
 * probe of the same ClusterIP (the TCP probe just before) is dropped unanswered: resend, as a real
 * UDP client (a resolver) does, and as TCP resends its SYN. Three sends in TIMEOUT_MS, so a
 * ClusterIP that never refuses still ends in 'timeout'.
 */
const UDP_RESEND_MS = 1000;

function serve(port: number, name: string): void {
  let up = 0;
  const ready = () => { if (++up === 2) process.stdout.write('ready\n'); };
  createServer((s) => {
    s.on('error', () => {});
    s.end(`${name} ${s.remoteAddress}:${s.remotePort} ${s.localAddress}\n`);
  }).listen(port, '0.0.0.0', ready);
  const u = createSocket('udp4');
  u.on('message', (_m, r) => {
    // The local address of a datagram is not known to dgram: answer with the port only.
    u.send(`${name} ${r.address}:${r.port} -\n`, r.port, r.address);
  });
  u.bind(port, '0.0.0.0', ready);
}

type Attempt = { reply: string } | { error: string };

function tcpOnce(host: string, port: number): Promise<Attempt> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect({ host, port });
    const t = setTimeout(() => { s.destroy(); resolve({ error: 'timeout' }); }, TIMEOUT_MS);
    s.on('data', (d) => { data += d.toString(); });
    s.on('end', () => { clearTimeout(t); resolve({ reply: data.trim() }); });
    s.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(t); resolve({ error: e.code ?? e.message }); });
  });
}

function udpOnce(host: string, port: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const u = createSocket('udp4');
    let resend: NodeJS.Timeout | undefined, over = false;
    const done = (a: Attempt) => { over = true; clearTimeout(t); clearInterval(resend); u.close(); resolve(a); };
    const t = setTimeout(() => done({ error: 'timeout' }), TIMEOUT_MS);
    u.on('message', (m) => done({ reply: m.toString().trim() }));
    u.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    u.connect(port, host, () => {
      if (over) return;
      u.send('?');
      resend = setInterval(() => u.send('?'), UDP_RESEND_MS);
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...a] = argv;
  if (cmd === 'serve') return serve(Number(a[0]), a[1]!);
  if (cmd === 'connect') {
    const out: Attempt[] = [];
    for (let i = 0; i < Number(a[2]); i++) out.push(await (a[3] === 'udp' ? udpOnce : tcpOnce)(a[0]!, Number(a[1])));
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  throw new Error(`usage: svc-peer serve PORT NAME | connect HOST PORT N [udp] (got ${argv.join(' ')})`);
}

main(process.argv.slice(2)).catch((e) => { process.stderr.write(`${(e as Error).message}\n`); process.exit(2); });
