// One call of the real tsvpp-cni executable (the shim, with the Node tsvpp-cni behind it), as a
// container runtime makes it: CNI_* environment
// for a Kubernetes pod in the default namespace, the network configuration on stdin; resolves
// with the exit code, the parsed stdout (the result or the CNI error) and stderr.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { tsvppCniShim } from '../../src/cni/invocation.js';
import { fileURLToPath } from 'node:url';

const CNI_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cni/cni-main.cjs'); // from dist/perf/soak

export interface CniResult { code: number; out: any; stderr: string }

export interface CniCall {
  command: 'ADD' | 'DEL' | 'CHECK';
  containerId: string;
  /** Name of a netns under /var/run/netns, or a netns path, or '' (a runtime's DEL after the netns is gone). */
  netns: string;
  pod: string;
  agentSocket: string;
  extraConf?: Record<string, unknown>;
}

/** The shim (`tsvpp agent shim`) for the agent on `agentSocket`, written once beside its socket. */
function shimFor(agentSocket: string): string {
  const f = join(dirname(agentSocket), `tsvpp-cni-${basename(agentSocket)}`);
  if (!existsSync(f)) writeFileSync(f, tsvppCniShim({ cniSocket: agentSocket, node: process.execPath, cniMain: CNI_MAIN }), { mode: 0o755 });
  return f;
}

export function runCni(c: CniCall): Promise<CniResult> {
  return new Promise((res) => {
    const child = spawn(shimFor(c.agentSocket), [], {
      env: {
        PATH: process.env.PATH ?? '', CNI_COMMAND: c.command, CNI_CONTAINERID: c.containerId, CNI_NETNS: c.netns === '' || c.netns.startsWith('/') ? c.netns : `/var/run/netns/${c.netns}`, CNI_IFNAME: 'eth0',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${c.pod};K8S_POD_INFRA_CONTAINER_ID=${c.containerId}`, CNI_PATH: '/usr/lib/cni',
      },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => {
      let out: unknown;
      try { out = stdout.trim() ? JSON.parse(stdout) : undefined; } catch { out = stdout; }
      res({ code: code ?? -1, out, stderr });
    });
    child.stdin.end(JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: c.agentSocket, ...c.extraConf }));
  });
}
