// The text report: the machine, then one table per section, each figure as median [min..max]
// over the repeats, memif rows with their ratio to the reference pair.
import { describeMachine } from '../harness/machine.js';
import { GOALS, REFERENCE_PAIR, farLimit, noisePct, probesUs, ranNear, type Summary } from '../harness/scenarios.js';
import type { ClientRow, MemifRow, PerfReport } from './model.js';
import { overheadVerdict } from '../cni-start.js';
import { BRIDGE_LABEL, CRI_RUN_GOAL_RATIO, ratioToBridge } from '../harness/cri-latency.js';
import { afPacketsLine, firstPodsLine, handedOverLine } from '../harness/cni-latency.js';
import { DUMP_GOAL_MS, PIPELINED_GOAL_PER_SEC, GOALS_JUDGED } from '../vppapi-client.js';

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const range = (s: Summary, d = 2) => (s.n ? `${f(s.min, d)}..${f(s.max, d)}` : '-');
const big = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

export function renderTable(headers: string[], rows: string[][], right: boolean[] = []): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (right[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function formatReport(r: PerfReport): string {
  const out: string[] = [];
  out.push(`tsvpp perf --all  ${r.startedAt}  (${Math.round(r.seconds)} s)`);
  if (r.interrupted) out.push(`INTERRUPTED (Ctrl-C) after ${r.interrupted.stepsDone} of ${r.interrupted.steps} steps: partial figures`);
  out.push(`machine: ${describeMachine(r.machine)}`);
  out.push(`matrix: ${r.options.goals ? 'the goal scenarios (--goals)' : r.options.full ? 'full (--full)' : 'default subset (use --full for every size x burst x mode x queues)'}; ` +
    `${r.options.repeats} repeats of ${r.options.durationMs} ms${r.options.warmupMs ? ` (tsvpp timed after ${r.options.warmupMs} ms of warm-up traffic)` : ''}; figures are median [min..max]; ` +
    `tsvpp processes ${r.options.pinned ? 'pinned to separate cores' : 'not pinned (taskset or a second core missing)'}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  if (r.memif.length) {
    out.push('', `memif throughput (ratio = median Mpps / ${REFERENCE_PAIR} one-way with the same size, burst and queues)`);
    const rows = r.memif.map((m) => [
      m.kind, m.pair, String(m.size), String(m.burst), m.mode, String(m.queues),
      f(m.mpps.median, 3), range(m.mpps, 3), `±${f(noisePct(m.mpps), 0)}%`, f(m.gbps.median, 2),
      m.ratio === null ? '-' : `${f(m.ratio, 3)}x`,
      m.lost || m.corrupted ? `${m.lost}/${m.corrupted}` : '0', m.errors[0] ?? '',
    ]);
    out.push(renderTable(
      ['kind', 'pair', 'size', 'burst', 'mode', 'q', 'Mpps', 'min..max', 'noise', 'Gbit/s', 'vs ref', 'lost/bad', 'error'],
      rows, [false, false, true, true, false, true, true, true, true, true, true, true, false]));
  }
  if (r.goals?.length) {
    const probed = r.goals.some((g) => g.near);
    out.push('', 'memif goals (ratio of medians in this run; rounds = the same ratio round by round, min..max' +
      `${probed ? '; both near = the ratio over the rounds where both sides ran with the CPUs near' : ''})`);
    out.push(renderTable(['size', 'ratio', 'value', 'rounds', ...(probed ? ['both near'] : []), 'goal', ''], r.goals.map((g) => [
      String(g.size), g.what, `${f(g.ratio, 2)}x`, `${f(g.rounds.min, 2)}..${f(g.rounds.max, 2)}`,
      ...(probed ? [g.near ? (g.near.rounds ? `${f(g.near.ratio, 2)}x (${g.near.rounds} round${g.near.rounds === 1 ? '' : 's'})` : 'no round') : '-'] : []),
      `>= ${g.goal}x`, g.met ? 'met' : 'NOT met',
    ]), [true, false, true, true, ...(probed ? [true] : []), true, false]));
  }
  out.push(...placementLines(r.memif));
  if (r.latency.length) {
    out.push('', 'memif latency: ping-pong round trip, µs (median of runs [min..max])');
    out.push(renderTable(['pair', 'size', 'p50', 'p99', 'p99.9', 'samples'], r.latency.map((l) => [
      l.pair, String(l.size), `${f(l.p50.median, 1)} [${range(l.p50, 1)}]`, `${f(l.p99.median, 1)} [${range(l.p99, 1)}]`,
      `${f(l.p999.median, 1)} [${range(l.p999, 1)}]`, String(l.runs.reduce((a, x) => a + x.count, 0)),
    ]), [false, true, true, true, true, true]));
  }
  if (r.vppapi) {
    out.push('', r.vppapi.clients ? 'vppapi codec (messages/s)' : 'vppapi codec (messages/s) and client (control_ping round trips/s against the emulator)');
    const rows = r.vppapi.codec.map((c) => [`${c.name} ${c.op}`, big(c.perSec.median), `${big(c.perSec.min)}..${big(c.perSec.max)}`]);
    const cl = r.vppapi.client;
    if (!r.vppapi.clients) {
      rows.push(['client sequential', big(cl.sequentialPerSec.median), `${big(cl.sequentialPerSec.min)}..${big(cl.sequentialPerSec.max)}`]);
      rows.push([`client pipelined (${cl.window} in flight)`, big(cl.pipelinedPerSec.median), `${big(cl.pipelinedPerSec.min)}..${big(cl.pipelinedPerSec.max)}`]);
    }
    out.push(renderTable(['what', 'per s', 'min..max'], rows, [false, true, true]));
    for (const c of r.vppapi.clients ?? []) out.push(...clientTable(c));
  }
  if (r.cni) {
    out.push('', `CNI: tsvpp-cni process start (the Node part: CNI_COMMAND=VERSION${r.cni.shimMs ? '; the shim: a DEL to an agent that answers at once' : ''}), ${r.cni.runs} runs, ms; the Node part's median ${overheadVerdict(r.cni.startMs.median, r.cni.nodeBaselineMs.median)}`);
    out.push(renderTable(['what', 'median', 'min..max'], [
      ['tsvpp-cni (Node: VERSION, hand-overs)', f(r.cni.startMs.median, 1), range(r.cni.startMs, 1)],
      ['node -e 0 (baseline)', f(r.cni.nodeBaselineMs.median, 1), range(r.cni.nodeBaselineMs, 1)],
      ...(r.cni.shimMs ? [['tsvpp-cni shim: DEL, agent answers at once', f(r.cni.shimMs.median, 1), range(r.cni.shimMs, 1)]] : []),
    ], [false, true, true]));
  }
  for (const c of r.cniLatency ?? []) {
    out.push('', `CNI: ADD and DEL latency, ms, for pods with 0, 1, 3 custom interfaces (${c.vswitch}; real tsvpp-cni, agent, netns; ` +
      `eth0 ${c.eth0}; ${c.vethPool !== undefined ? `veth pool ${c.vethPool}; ` : ''}${c.podsPerSize} pods each; load average ${c.load.before} -> ${c.load.after}); agent: its part of each; ` +
      `node -e 0 under the same load: p50 ${f(c.nodeStart.p50, 1)}, p99 ${f(c.nodeStart.p99, 1)}`);
    out.push(renderTable(['custom interfaces', 'ADD p50', 'ADD p99', 'agent p50/p99', 'DEL p50', 'DEL p99', 'agent p50/p99', 'ok ADD/DEL', 'error'], c.rows.map((x) => [
      `${x.customIfs}${x.kinds.length ? ` (${x.kinds.join(', ')})` : ''}`, f(x.add.p50, 1), f(x.add.p99, 1), `${f(x.agentAdd.p50, 1)}/${f(x.agentAdd.p99, 1)}`,
      f(x.del.p50, 1), f(x.del.p99, 1), `${f(x.agentDel.p50, 1)}/${f(x.agentDel.p99, 1)}`, `${x.add.n}/${x.del.n}`, x.errors[0] ?? '',
    ]), [false, true, true, true, true, true, true, true, false]));
    out.push(firstPodsLine(c));
    if (c.afPackets) out.push(afPacketsLine(c.afPackets));
    const handed = handedOverLine(c.handedOver ?? []);
    if (handed) out.push(handed);
  }
  for (const c of r.criLatency ?? []) {
    const x = (label: string, op: 'run' | 'stop') => (label === BRIDGE_LABEL ? '1.00x' : `${f(ratioToBridge(c, label, op))}x`);
    out.push('', `CRI: pod sandbox latency through ${c.runtime} + runc, ms, tsvpp (${c.vswitch}, eth0 ${c.eth0}) vs Debian's bridge plugin, ` +
      `${c.pods} pods each, same run; ratio = median / bridge's median`);
    out.push(renderTable(['network', 'Run p50', 'Run p99', 'x bridge', 'Stop p50', 'Stop p99', 'x bridge', 'Remove p50', 'ok Run/Stop/Remove', 'error'], c.rows.map((row) => [
      row.label, f(row.run.p50, 0), f(row.run.p99, 0), x(row.label, 'run'), f(row.stop.p50, 0), f(row.stop.p99, 0), x(row.label, 'stop'),
      f(row.remove.p50, 0), `${row.run.n}/${row.stop.n}/${row.remove.n}`, row.errors[0] ?? '',
    ]), [false, true, true, true, true, true, true, true, true, false]));
    const ratio = ratioToBridge(c, c.rows[1]?.label ?? '', 'run');
    out.push(`goal: RunPodSandbox with tsvpp (eth0) within ${CRI_RUN_GOAL_RATIO}x of bridge: ${f(ratio)}x, ${Number.isFinite(ratio) ? (ratio <= CRI_RUN_GOAL_RATIO ? 'met' : 'MISSED') : 'not measured'}`);
  }
  return out.join('\n');
}

/** The client against one peer: round trips per window with its CPU cost, the dump, the breakdown. */
function clientTable(c: ClientRow): string[] {
  const pct = (x: Summary | null): string => (x === null ? '-' : `${Math.round(x.median * 100)}%`);
  const out = ['', `vppapi client against ${c.peer}: control_ping round trips/s (median [min..max]); client CPU per round trip; CPU time over wall time`];
  out.push(renderTable(['in flight', 'round trips/s', 'min..max', 'client CPU/op', 'client busy', 'peer CPU/op', 'peer busy'], c.windows.map((w) => [
    String(w.window), big(w.perSec.median), `${big(w.perSec.min)}..${big(w.perSec.max)}`, `${f(w.clientUsPerOp.median, 2)} µs`, pct(w.clientBusy),
    w.peerUsPerOp ? `${f(w.peerUsPerOp.median, 2)} µs` : '-', pct(w.peerBusy),
  ]), [true, true, true, true, true, true, true]));
  const judged = GOALS_JUDGED[c.peerKind];
  if (!judged.pipelined && !judged.dump) out.push('no goal against the emulator: it is CI\'s test double; the goals are judged against the API reflector (the client\'s ceiling) and real VPP');
  const best = c.windows.reduce<ClientRow['windows'][number] | undefined>((b, w) => (b && b.perSec.median >= w.perSec.median ? b : w), undefined);
  if (best && judged.pipelined) {
    const met = best.perSec.median >= PIPELINED_GOAL_PER_SEC;
    out.push(`goal: ≥ ${big(PIPELINED_GOAL_PER_SEC)} round trips/s pipelined: ${big(best.perSec.median)} with ${best.window} in flight, ${met ? 'met' : 'MISSED'}` +
      (met ? '' : ` (client busy ${pct(best.clientBusy)}: ${best.clientBusy.median < 0.9 ? 'the peer was the limit' : 'the client was the limit'})`));
  }
  if (c.dump) {
    out.push(`sw_interface_dump of ${c.dump.interfaces} interfaces: ${f(c.dump.ms.median, 2)} ms [${range(c.dump.ms, 2)}], client CPU ${f(c.dump.clientMsCpu.median, 2)} ms` +
      (judged.dump ? `; goal under ${DUMP_GOAL_MS} ms: ${c.dump.ms.median < DUMP_GOAL_MS ? 'met' : 'MISSED'}` : ''));
  }
  if (c.breakdown) {
    out.push(`where the client's time went at ${c.windows[c.windows.length - 1]?.window} in flight (CPU profile, self time):`);
    for (const s of c.breakdown) out.push(`  ${(s.share * 100).toFixed(1).padStart(5)}%  ${s.stage}`);
  }
  return out;
}

/**
 * The goal pairs round by round, each round marked when the CPUs were far apart before or after
 * it, and the placement probes' two levels (nothing when no round was probed).
 */
function placementLines(rows: readonly MemifRow[]): string[] {
  const runs = rows.flatMap((m) => m.runs);
  const limit = farLimit(runs);
  if (!Number.isFinite(limit)) return [];
  const us = probesUs(runs);
  const near = us.filter((x) => x <= limit);
  const far = us.filter((x) => x > limit);
  const span = (xs: number[]) => (xs.length ? `${xs.length} probes, ${f(Math.min(...xs), 3)}..${f(Math.max(...xs), 3)} µs` : 'none');
  const failed = runs.filter((x) => x.placement && (x.placement.before === null || x.placement.after === null)).length;
  const out = ['', `CPU placement: a cache line's round trip between CPU 0 and CPU 1, probed before and after each memif round; ` +
    `near (≤ ${f(limit, 3)} µs, twice the fastest): ${span(near)}; far: ${span(far)}${failed ? `; ${failed} rounds with a failed probe` : ''}`];
  const goalRows = rows.filter((m) => GOALS.pairs.includes(m.pair) && GOALS.sizes.includes(m.size) && m.burst === 32 && m.mode === 'polling' && m.queues === 1);
  if (goalRows.length) {
    const n = Math.max(...goalRows.map((m) => m.runs.length));
    out.push('memif goal pairs round by round, Mpps (* = the CPUs were far apart before or after the round, ? = not probed)');
    out.push(renderTable(['size', 'pair', ...Array.from({ length: n }, (_, i) => `#${i + 1}`)], goalRows.map((m) => [
      String(m.size), m.pair, ...Array.from({ length: n }, (_, i) => {
        const x = m.runs[i];
        if (!x) return '';
        const mark = !x.placement || x.placement.before === null || x.placement.after === null ? '?' : ranNear(x, limit) ? ' ' : '*';
        return `${x.error && !x.mpps ? 'failed' : f(x.mpps, 2)}${mark}`;
      }),
    ]), [true, false, ...Array.from({ length: n }, () => true)]));
  }
  return out;
}
