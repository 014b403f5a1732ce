// tsvpp memif-agent --microservice-label L --etcd URL[,URL] [--socket-root DIR]
// Runs until SIGINT/SIGTERM; prints one line per interface event.
import { Etcd3 } from 'etcd3';
import { MemifAgent } from '../cni/memif-agent/agent.js';

const USAGE = `usage: tsvpp memif-agent --microservice-label LABEL --etcd URL[,URL] [--socket-root DIR]

Pod side of the microservice-label auto-configuration, for pods without VPP: watches
/vnf-agent/LABEL/config/vpp/v2/interfaces/ in etcd and keeps one tsvpp memif slave per MEMIF key.

  --microservice-label LABEL  the pod's contivpp.io/microservice-label
  --etcd URL[,URL]            etcd endpoints
  --socket-root DIR           the pod's filesystem as mounted here: socket_filename is looked up
                              below DIR; a value whose .. leaves DIR is refused`;

export async function main(argv: string[]): Promise<number> {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') { process.stdout.write(USAGE + '\n'); return 0; }
    if (!['--microservice-label', '--etcd', '--socket-root'].includes(a)) { process.stderr.write(`memif-agent: unknown argument ${a}\n${USAGE}\n`); return 2; }
    const v = argv[++i];
    if (v === undefined) { process.stderr.write(`memif-agent: ${a} needs a value\n`); return 2; }
    opts[a] = v;
  }
  const label = opts['--microservice-label'], hosts = opts['--etcd'];
  if (!label || !hosts) { process.stderr.write(`memif-agent: --microservice-label and --etcd are required\n${USAGE}\n`); return 2; }
  const root = opts['--socket-root'];
  const etcd = new Etcd3({ hosts: hosts.split(','), dialTimeout: 3000 });
  const out = (m: string) => process.stdout.write(m + '\n');
  const agent = new MemifAgent({ etcd, label, log: (m) => process.stderr.write(`memif-agent: ${m}\n`), ...(root ? { socketRoot: root } : {}) });
  agent.on('added', (i) => out(`added ${i.config.name} id ${i.config.memif.id} ${i.config.memif.socket_filename}`));
  agent.on('up', (i) => out(`up ${i.config.name}`));
  agent.on('down', (i) => out(`down ${i.config.name}`));
  agent.on('removed', (i) => out(`removed ${i.config.name}`));
  try { await agent.start(); } catch (e) {
    process.stderr.write(`memif-agent: etcd ${hosts}: ${(e as Error).message}\n`);
    etcd.close();
    return 1;
  }
  await new Promise<void>((res) => { process.once('SIGINT', res); process.once('SIGTERM', res); });
  await agent.close();
  etcd.close();
  return 0;
}
