// What the figures were measured on: CPU model, cores, kernel, Node version.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, type as osType } from 'node:os';

export interface Machine { cpu: string; cores: number; kernel: string; node: string; arch: string }

export function machineInfo(): Machine {
  let cpu = cpus()[0]?.model?.trim() || 'unknown';
  if (cpu === 'unknown') {
    try { cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu; } catch { /* not Linux */ }
  }
  return { cpu, cores: availableParallelism(), kernel: `${osType()} ${release()}`, node: process.version, arch: process.arch };
}

export const describeMachine = (m: Machine): string => `${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node} (${m.arch})`;

const tasksetPath = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
/** Processes can be put on different CPUs (taskset is there and there are two CPUs or more). */
export const canPin = availableParallelism() >= 2 && tasksetPath !== undefined;

/** [cmd, args] running node `script` pinned to `cpu` when possible. */
export function pinnedNode(cpu: number, script: string, args: string[]): { cmd: string; args: string[] } {
  if (canPin) return { cmd: tasksetPath!, args: ['-c', String(cpu % availableParallelism()), process.execPath, script, ...args] };
  return { cmd: process.execPath, args: [script, ...args] };
}
