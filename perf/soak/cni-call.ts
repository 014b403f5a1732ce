// One call of the real tsvpp-cni executable, as a container runtime makes it: CNI_* environment
// for a Kubernetes pod in the default namespace, the network configuration on stdin; resolves
// with the exit code, the parsed stdout (the result or the CNI error) and stderr.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
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

export function runCni(c: CniCall): Promise<CniResult> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CNI_MAIN], {
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
