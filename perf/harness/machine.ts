// What the figures were measured on: CPU model, cores, kernel, Node version, and whether the kernel
// expedites RCU grace periods (/sys/kernel/rcu_expedited): every af_packet socket VPP opens or
// closes and every link moved between namespaces waits for grace periods, so the CNI figures on
// real VPP depend on it (docs/perf.md, "Where CNI ADD and DEL wait").
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, type as osType } from 'node:os';

export interface Machine { cpu: string; cores: number; kernel: string; node: string; arch: string; rcuExpedited?: boolean }

export function machineInfo(): Machine {
  let cpu = cpus()[0]?.model?.trim() || 'unknown';
  if (cpu === 'unknown') {
    try { cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu; } catch { /* not Linux */ }
  }
  const rcuExpedited = rcuExpeditedNow();
  return { cpu, cores: availableParallelism(), kernel: `${osType()} ${release()}`, node: process.version, arch: process.arch, ...(rcuExpedited !== undefined ? { rcuExpedited } : {}) };
}

/** /sys/kernel/rcu_expedited; undefined where there is none. */
export function rcuExpeditedNow(): boolean | undefined {
  try { return readFileSync('/sys/kernel/rcu_expedited', 'utf8').trim() !== '0'; } catch { return undefined; }
}

export const describeRcu = (on = rcuExpeditedNow()): string => (on === undefined ? 'RCU: unknown' : on ? 'RCU expedited' : 'normal RCU grace periods');

export const describeMachine = (m: Machine): string =>
  `${m.cpu}, ${m.cores} cores, ${m.kernel}${m.rcuExpedited === undefined ? '' : ` (${describeRcu(m.rcuExpedited)})`}, Node ${m.node} (${m.arch})`;

const tasksetPath = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
/** Processes can be put on different CPUs (taskset is there and there are two CPUs or more). */
export const canPin = availableParallelism() >= 2 && tasksetPath !== undefined;

/** [cmd, args] running node `script` pinned to `cpu` when possible. */
export function pinnedNode(cpu: number, script: string, args: string[]): { cmd: string; args: string[] } {
  if (canPin) return { cmd: tasksetPath!, args: ['-c', String(cpu % availableParallelism()), process.execPath, script, ...args] };
  return { cmd: process.execPath, args: [script, ...args] };
}
