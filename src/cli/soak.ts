// tsvpp soak SCENARIO: long-running reliability scenarios (perf/soak/) — memif connect/disconnect
// cycles, kill -9 of the memif peer, long sequence-checked traffic, VPP (emulator) restart under the
// CNI agent, the agent killed mid-ADD, etcd down, kubelet restart, an unusable memif socket dir, pod
// ADD/DEL cycles — each with a short version (--short) that CI runs. Every run prints
// its figures and appends them to a results file that `tsvpp soak summary` reads.
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, UsageError } from '../flags.js';

const help = `usage: tsvpp soak SCENARIO [--short] [flags]

scenarios:
  memif-cycles      connect/disconnect cycles in 6 variants (in-process and against a second
                    process; both roles; either end initiating); fds, memfd mappings and RSS
                    must return to their starting values (--cycles N, default 1000; --short 200)
  memif-kill-peer   kill -9 of the echoing memif peer mid-traffic, both roles; the master frees
                    the connection and listens on, the slave reconnects; sequence-checked runs
                    after each reconnect (--peer self|dpdk, --rounds N default 5; --short 2)
  memif-traffic     --packets N (default 10^8; --short 2*10^6) sequence-checked packets to
                    an echoing peer (--peer self|dpdk, --size B, --role master|slave)
  vpp-restart       the CNI agent with pods; the VPP emulator restarts; the client reconnects
                    and the agent re-applies its pods (needs root: netns)
  agent-kill        the CNI agent (a child process) SIGKILLed inside VPP's create of each pod
                    interface and route and at random moments of an ADD; after the restart DEL
                    converges and a retried ADD works, nothing left (root; --rounds N, default 24;
                    --short 12)
  etcd-down         etcd frozen under an agent with --etcd, between ADD and DEL and at ADD of a
                    labelled memif pod: bounded clear errors, DEL converges once etcd is back (root)
  kubelet-restart   kubelet (a stand-in) restarts under the agent's device plugin: re-registration,
                    ADD finds allocations made before and after it; kubelet down: ADD fails
                    saying PodResources cannot be read; ADD works once it is back (root)
  memif-dir         the agent's memif socket dir a file / on a read-only mount / missing: ADD of a
                    memif pod fails naming the dir, nothing left, ADD works once fixed (root)
  pod-cycles        pod ADD/DEL cycles with tap, veth and memif through tsvpp-cni, the agent and
                    the VPP emulator; nothing left behind (--cycles N, default 200; --short 20)
  all               every scenario above in its --short form (dpdk peers when testpmd is there)
  summary           reliability summary: fuzz corpus per target, recorded soak results

flags:
  --short           the CI-sized version
  --json            print the report as JSON
  --results FILE    append the report (one JSON line) here (default: $TSVPP_SOAK_RESULTS, else
                    none); 'summary' reads it
Exit 0 when the scenario passed, 1 when it found a problem, 2 on usage errors.`;

export interface SoakReportLike {
  scenario: string;
  ok: boolean;
  figures: Record<string, number | string>;
  problems: string[];
  seconds: number;
}

const SCENARIOS = ['memif-cycles', 'memif-kill-peer', 'memif-traffic', 'vpp-restart', 'agent-kill', 'etcd-down', 'kubelet-restart', 'memif-dir', 'pod-cycles', 'all', 'summary'] as const;

export async function main(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    short: { type: 'bool' },
    json: { type: 'bool' },
    results: { type: 'string' },
    cycles: { type: 'int' },
    rounds: { type: 'int' },
    packets: { type: 'number' },
    peer: { type: 'string', choices: ['self', 'dpdk'], default: 'self' },
    size: { type: 'int', default: 64 },
    role: { type: 'string', choices: ['master', 'slave'], default: 'slave' },
    help: { type: 'bool' },
  });
  if (flags.help) { console.log(help); return 0; }
  const [scenario, ...extra] = rest;
  if (!scenario) throw new UsageError(`soak needs a scenario: ${SCENARIOS.join(', ')}`);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!(SCENARIOS as readonly string[]).includes(scenario)) throw new UsageError(`unknown soak scenario '${scenario}' (expected ${SCENARIOS.join(', ')})`);
  const resultsFile = flags.results ?? process.env.TSVPP_SOAK_RESULTS;
  if (scenario === 'summary') { console.log(summary(resultsFile)); return 0; }
  if (flags.packets !== undefined && (!Number.isSafeInteger(flags.packets) || flags.packets < 1 || flags.packets >= 2 ** 32)) {
    throw new UsageError(`--packets must be an integer from 1 to 2^32-1 (sequence numbers are u32); got ${flags.packets}`);
  }
  if (flags.cycles !== undefined && flags.cycles < 1) throw new UsageError(`--cycles must be >= 1; got ${flags.cycles}`);
  if (flags.rounds !== undefined && flags.rounds < 1) throw new UsageError(`--rounds must be >= 1; got ${flags.rounds}`);
  const log = (s: string) => { if (!flags.json) console.error(`soak: ${s}`); };
  const peer = flags.peer as 'self' | 'dpdk';
  const run = async (name: string, short: boolean): Promise<SoakReportLike> => {
    switch (name) {
      case 'memif-cycles': {
        const { runCycles } = await import('../../perf/soak/cycles.js');
        return runCycles({ cycles: flags.cycles ?? (short ? 200 : 1000), log });
      }
      case 'memif-kill-peer': {
        const { runKillPeer } = await import('../../perf/soak/kill-peer.js');
        return runKillPeer({ peer, rounds: flags.rounds ?? (short ? 2 : 5), packets: short ? 20_000 : 200_000, log });
      }
      case 'memif-traffic': {
        const { runLongTraffic } = await import('../../perf/soak/traffic.js');
        return runLongTraffic({ peer, packets: flags.packets ?? (short ? 2_000_000 : 100_000_000), size: flags.size, role: flags.role as 'slave', log });
      }
      case 'vpp-restart': {
        const { runVppRestart } = await import('../../perf/soak/vpp-restart.js');
        return runVppRestart({ restarts: flags.rounds ?? (short ? 2 : 10), log });
      }
      case 'agent-kill': {
        const { runAgentKill } = await import('../../perf/soak/agent-kill.js');
        return runAgentKill({ rounds: flags.rounds ?? (short ? 12 : 24), log });
      }
      case 'etcd-down': {
        const { runEtcdDown } = await import('../../perf/soak/etcd-down.js');
        return runEtcdDown({ log });
      }
      case 'kubelet-restart': {
        const { runKubeletRestart } = await import('../../perf/soak/kubelet-restart.js');
        return runKubeletRestart({ log });
      }
      case 'memif-dir': {
        const { runMemifDir } = await import('../../perf/soak/memif-dir.js');
        return runMemifDir({ log });
      }
      case 'pod-cycles': {
        const { runPodCycles } = await import('../../perf/soak/pod-cycles.js');
        return runPodCycles({ cycles: flags.cycles ?? (short ? 20 : 200), log });
      }
      default: throw new UsageError(`unknown soak scenario '${name}'`);
    }
  };
  const names = scenario === 'all' ? ['memif-cycles', 'memif-kill-peer', 'memif-traffic', 'vpp-restart', 'agent-kill', 'etcd-down', 'kubelet-restart', 'memif-dir', 'pod-cycles'] : [scenario];
  let ok = true;
  for (const name of names) {
    let r: SoakReportLike;
    try { r = await run(name, flags.short || scenario === 'all'); }
    catch (e) {
      if (e instanceof UsageError) throw e;
      r = { scenario: name, ok: false, figures: {}, problems: [(e as Error).message], seconds: 0 };
    }
    ok &&= r.ok;
    if (resultsFile) appendFileSync(resultsFile, JSON.stringify({ ...r, at: new Date().toISOString(), short: flags.short || scenario === 'all' }) + '\n');
    console.log(flags.json ? JSON.stringify(r) : format(r));
  }
  return ok ? 0 : 1;
}

export function format(r: SoakReportLike): string {
  const lines = [`${r.scenario}: ${r.ok ? 'PASSED' : 'FAILED'} in ${r.seconds.toFixed(1)} s`];
  const w = Math.max(0, ...Object.keys(r.figures).map((k) => k.length));
  for (const [k, v] of Object.entries(r.figures)) lines.push(`  ${k.padEnd(w)}  ${v}`);
  for (const p of r.problems) lines.push(`  PROBLEM: ${p}`);
  return lines.join('\n');
}

/** Fuzz corpus entries per target (fuzz/corpus/<target>/*.json) and the last result per scenario. */
export function summary(resultsFile: string | undefined, fuzzDir = findFuzzCorpus()): string {
  const out: string[] = ['tsvpp reliability summary', ''];
  out.push('fuzz corpus (saved counterexamples and seeds, replayed by the tests):');
  if (fuzzDir && existsSync(fuzzDir)) {
    for (const t of readdirSync(fuzzDir).sort()) {
      const n = readdirSync(join(fuzzDir, t)).filter((f) => f.endsWith('.json')).length;
      out.push(`  ${t.padEnd(16)} ${n} entries`);
    }
  } else out.push('  (no fuzz/corpus found)');
  out.push('', 'soak and fault scenarios (last recorded run of each):');
  const last = new Map<string, SoakReportLike & { at?: string; short?: boolean }>();
  if (resultsFile && existsSync(resultsFile)) {
    for (const line of readFileSync(resultsFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try { const r = JSON.parse(line); last.set(r.scenario, r); } catch { out.push(`  (unreadable line in ${resultsFile})`); }
    }
  }
  if (last.size === 0) out.push(`  none recorded${resultsFile ? ` in ${resultsFile}` : ' (set --results FILE or TSVPP_SOAK_RESULTS)'}`);
  for (const r of last.values()) {
    out.push(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.scenario}${r.short ? ' (short)' : ''}  ${r.at ?? ''}  ${r.seconds.toFixed(1)} s`);
    for (const [k, v] of Object.entries(r.figures)) out.push(`          ${k}: ${v}`);
  }
  const passed = [...last.values()].filter((r) => r.ok).length;
  out.push('', `${passed} of ${last.size} recorded scenarios passed; details and what is not covered: docs/reliability.md`);
  return out.join('\n');
}

function findFuzzCorpus(): string | undefined {
  // dist/src/cli → repo root is three up; when run from the repo, cwd works too.
  const here = new URL('.', import.meta.url).pathname;
  return [join(here, '..', '..', '..', 'fuzz', 'corpus'), join(process.cwd(), 'fuzz', 'corpus')].find((p) => existsSync(p));
}
