// What the figures were measured on: CPU model, cores, kernel, Node version.
import { readFileSync } from 'node:fs';
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
