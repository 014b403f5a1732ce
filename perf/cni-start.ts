// Start-up time of the tsvpp-cni executable: the Node tsvpp-cni's `CNI_COMMAND=VERSION` (answered
// locally, so this is process start + module loading; the shim hands it VERSION and the calls the
// agent cannot take) N times, next to a bare `node -e 0` baseline, and the shim's DEL to an agent
// listener that answers at once (what a runtime pays per call besides the agent's work); prints
// min/median/p90 wall time in ms. Usage: node dist/perf/cni-start.js [N]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startInvocationServer } from '../src/cni/agent/server.js';
import { HANDOVER_MARK, tsvppCniShim } from '../src/cni/invocation.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = join(here, '../src/cni/cni-main.cjs');

/** The goal for tsvpp-cni's own start-up cost: its median over a bare `node -e 0`, in ms. The
 *  kubelet runs it for every pod ADD/DEL/CHECK, so it must stay a thin forwarder. */
export const CNI_START_OVERHEAD_GOAL_MS = 250;

/** "overhead 21.4 ms (goal < 250 ms: met)" from the two medians. */
export function overheadVerdict(cniMedian: number, baseMedian: number): string {
  const o = cniMedian - baseMedian;
  return `overhead ${o.toFixed(1)} ms (goal < ${CNI_START_OVERHEAD_GOAL_MS} ms: ${o < CNI_START_OVERHEAD_GOAL_MS ? 'met' : 'MISSED'})`;
}

export function measure(args: string[], env: NodeJS.ProcessEnv, input: string, n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { env, input });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    times.push(ms);
  }
  return times.sort((a, b) => a - b);
}

export function stats(t: number[]): { min: number; median: number; p90: number } {
  return { min: t[0]!, median: t[Math.floor(t.length / 2)]!, p90: t[Math.floor(t.length * 0.9)]! };
}

/**
 * The tsvpp-cni shim's cost, as a runtime pays it on every ADD and DEL: a DEL through the shim to
 * the agent's loopback listener, whose handler answers at once (no pod work), spawn to exit, ms.
 */
export async function measureShim(n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-cni-start-'));
  const sock = join(dir, 'cni.sock');
  const server = await startInvocationServer({ cniSocket: sock, handler: async () => undefined });
  try {
    const shim = join(dir, 'tsvpp-cni');
    writeFileSync(shim, tsvppCniShim({ cniSocket: sock, node: process.execPath, cniMain: CNI_MAIN }), { mode: 0o755 });
    const env = { PATH: process.env.PATH ?? '', CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'cnistart', CNI_IFNAME: 'eth0', CNI_ARGS: '', CNI_PATH: '/opt/cni/bin' };
    const input = JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: sock, agentStateDir: dir });
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(shim, [], { env, stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d) => { err += d; });
        child.on('close', (code) => resolve({ code, err }));
        child.stdin.end(input);
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.code !== 0 || r.err.includes(HANDOVER_MARK)) throw new Error(`the shim's DEL ${r.code !== 0 ? `exited ${r.code}` : 'went through the Node tsvpp-cni'}: ${r.err}`);
      times.push(ms);
    }
    return times.sort((a, b) => a - b);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = Number(process.argv[2] ?? 20);
  const base = stats(measure(['-e', '0'], {}, '', n));
  const cni = stats(measure([CNI_MAIN], { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}', n));
  const f = (s: { min: number; median: number; p90: number }) => `min ${s.min.toFixed(1)}  median ${s.median.toFixed(1)}  p90 ${s.p90.toFixed(1)} ms`;
  console.log(`node -e 0      : ${f(base)}`);
  console.log(`tsvpp-cni      : ${f(cni)}  (the Node part: VERSION and hand-overs)`);
  console.log(`shim DEL       : ${f(stats(await measureShim(n)))}  (the shim to an agent that answers at once)`);
  console.log(`median ${overheadVerdict(cni.median, base.median)}`);
}
