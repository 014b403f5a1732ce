// Starts Debian's etcd (etcd-server, /usr/bin/etcd; scripts/system-deps.sh installs it) on loopback
// ports with a temporary data dir, for tests; stop() kills it and removes the dir. Fails loudly
// when etcd is missing: tests that need etcd must not silently pass without it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdServer { url: string; dataDir: string; proc: ChildProcess; stop(): Promise<void> }

const ETCD_BINS = [process.env['ETCD_BIN'], '/usr/bin/etcd', '/usr/local/bin/etcd'].filter(Boolean) as string[];

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

export async function startEtcd(): Promise<EtcdServer> {
  const bin = ETCD_BINS.find((b) => existsSync(b));
  if (!bin) throw new Error(`etcd not found (looked at ${ETCD_BINS.join(', ')}); install Debian's etcd-server (scripts/system-deps.sh)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'tsvpp-etcd-'));
  const [cport, pport] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${cport}`, peer = `http://127.0.0.1:${pport}`;
  const proc = spawn(bin, [
    '--name', 'tsvpp-test', '--data-dir', dataDir,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `tsvpp-test=${peer}`, '--initial-cluster-state', 'new',
    '--log-level', 'error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  let exited = false;
  proc.once('exit', () => { exited = true; });
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const end = Date.now() + 15000;
  for (;;) {
    if (exited) { await stop(); throw new Error(`etcd exited at start-up: ${stderr}`); }
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok && (await r.json() as { health?: string }).health === 'true') break;
    } catch { /* not listening yet */ }
    if (Date.now() > end) { await stop(); throw new Error(`etcd not healthy within 15 s: ${stderr}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, dataDir, proc, stop };
}
