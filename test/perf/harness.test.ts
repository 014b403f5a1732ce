import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  memifMatrix, latencyScenarios, runOrder, percentile, summarize, noisePct, usesTestpmd, REFERENCE_PAIR, farLimit, ranNear,
  type RunFigure,
} from '../../perf/harness/scenarios.js';
import { testpmdRate } from '../../perf/harness/memif-run.js';
import { goalRows, memifRows, latencyRow, type PerfReport } from '../../perf/report/model.js';
import { formatReport } from '../../perf/report/table.js';
import { measureShim, overheadVerdict } from '../../perf/cni-start.js';
import { renderSvg, chartSeries } from '../../perf/report/svg.js';
import { main } from '../../src/cli/perf.js';
import { UsageError } from '../../src/flags.js';

test('percentile and summarize', () => {
  assert.is(percentile([3, 1, 2], 50), 2);
  assert.is(percentile([4, 1, 3, 2], 50), 2.5);
  const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.is(percentile(xs, 99), 990);
  assert.is(percentile(xs, 99.9), 999);
  assert.ok(Number.isNaN(percentile([], 50)));
  const s = summarize([2, 4, 3]);
  assert.equal(s, { median: 3, min: 2, max: 4, n: 3 });
  assert.is(noisePct(s), (1 / 3) * 100);
});

test('default matrix is a subset of --full; without testpmd only tsvpp pairs; interrupt only for tsvpp pairs', () => {
  const quick = memifMatrix({ full: false, noTestpmd: false }).flat();
  const full = memifMatrix({ full: true, noTestpmd: false }).flat();
  assert.ok(quick.length < full.length / 4, `${quick.length} vs ${full.length}`);
  const key = (s: (typeof quick)[0]) => JSON.stringify(s);
  const fullKeys = new Set(full.map(key));
  for (const s of quick) assert.ok(fullKeys.has(key(s)), `${key(s)} not in the full matrix`);
  assert.equal([...new Set(full.map((s) => s.size))].sort((a, b) => a - b), [64, 256, 1500, 9000]);
  for (const s of full) if (s.mode === 'interrupt') assert.not.ok(usesTestpmd(s.pair), `${s.pair} in interrupt mode`);
  assert.ok(full.some((s) => s.pair === REFERENCE_PAIR));
  const noPmd = memifMatrix({ full: false, noTestpmd: true }).flat();
  assert.ok(noPmd.length > 0);
  for (const s of noPmd) assert.not.ok(usesTestpmd(s.pair), s.pair);
  assert.ok(latencyScenarios({ full: false, noTestpmd: true }).every((s) => !usesTestpmd(s.pair)));
});

test('runOrder alternates the pairs of a configuration and goes round the matrix per repeat', () => {
  const order = runOrder([['a', 'b', 'c'], ['x', 'y']], 2);
  assert.equal(order.map((o) => o.item).join(''), 'abcxybcayx');
  assert.equal(order.map((o) => o.repeat), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
});

test('testpmdRate drops the partial first interval and the idle ones', () => {
  const r = testpmdRate([0, 500, 1_000_000, 3_000_000, 2_000_000, 0], 64);
  assert.is(r.samples, 3);
  assert.is(r.mpps, 2);
  assert.is(r.gbps, (2e6 * 64 * 8) / 1e9);
  assert.is(testpmdRate([0, 0], 64).mpps, 0);
});

const base = { size: 64, burst: 32, mode: 'polling' as const, queues: 1 };
const fig = (mpps: number) => ({ mpps, gbps: (mpps * 64 * 8) / 1000, lost: 0, corrupted: 0 });

function sampleReport(): PerfReport {
  const results = [
    ...[10, 8, 12].map((m) => ({ s: { ...base, kind: 'oneway' as const, pair: 'testpmd->testpmd' as const }, fig: fig(m) })),
    ...[1, 2, 3].map((m) => ({ s: { ...base, kind: 'oneway' as const, pair: 'tsvpp->tsvpp' as const }, fig: fig(m) })),
    ...[0.5].map((m) => ({ s: { ...base, size: 1500, kind: 'oneway' as const, pair: 'tsvpp->tsvpp' as const }, fig: fig(m) })),
    { s: { ...base, kind: 'echo' as const, pair: 'tsvpp<->tsvpp' as const }, fig: { ...fig(0), error: 'nothing arrived' } },
  ];
  return {
    tool: 'tsvpp perf --all', startedAt: '2026-01-01T00:00:00.000Z', seconds: 12,
    machine: { cpu: 'Test CPU <x&y>', cores: 2, kernel: 'Linux 6', node: 'v20', arch: 'x64' },
    options: { full: false, repeats: 3, durationMs: 1000, pinned: true, testpmd: true }, notes: ['a note'],
    memif: memifRows(results),
    latency: [latencyRow('tsvpp<->tsvpp', 64, [{ p50: 2, p99: 5, p999: 9, count: 100, lost: 0 }])],
  };
}

test('memifRows: medians, min/max and the ratio to testpmd->testpmd of the same configuration', () => {
  const rows = sampleReport().memif;
  const ts = rows.find((r) => r.pair === 'tsvpp->tsvpp' && r.size === 64)!;
  assert.equal([ts.mpps.median, ts.mpps.min, ts.mpps.max], [2, 1, 3]);
  assert.is(ts.ratio, 0.2);
  assert.is(rows.find((r) => r.pair === 'testpmd->testpmd')!.ratio, 1);
  assert.is(rows.find((r) => r.size === 1500)!.ratio, null, 'no reference at 1500 B');
  const failed = rows.find((r) => r.kind === 'echo')!;
  assert.is(failed.mpps.n, 0, 'a failed run is not a figure');
  assert.is(failed.ratio, null);
  assert.equal(failed.errors, ['nothing arrived']);
});

test('placement: far is above twice the fastest probe; a round is near only when probed near before and after', () => {
  const at = (mpps: number, before: number | null, after: number | null): RunFigure => ({ ...fig(mpps), placement: { before, after } });
  const runs = [at(40, 0.1, 0.12), at(15, 0.35, 0.1), at(45, 0.11, null), fig(44)];
  assert.is(farLimit(runs), 0.2);
  assert.is(farLimit([fig(1), fig(2)]), Infinity, 'nothing probed');
  assert.equal(runs.map((r) => ranNear(r, 0.2)), [true, false, false, false]);
});

test('goalRows: beside the ratio of medians, the ratio over the rounds where both sides ran near', () => {
  const at = (mpps: number, before: number, after: number): RunFigure => ({ ...fig(mpps), placement: { before, after } });
  const results = [
    // Rounds 1 and 3 near for both; round 2 far for tsvpp; round 4 far for testpmd.
    ...[at(40, 0.1, 0.1), at(15, 0.1, 0.36), at(44, 0.12, 0.11), at(42, 0.1, 0.1)].map((f) => ({ s: { ...base, kind: 'oneway' as const, pair: 'tsvpp->tsvpp' as const }, fig: f })),
    ...[at(50, 0.1, 0.1), at(52, 0.1, 0.1), at(55, 0.1, 0.1), at(16, 0.37, 0.35)].map((f) => ({ s: { ...base, kind: 'oneway' as const, pair: 'testpmd->testpmd' as const }, fig: f })),
  ];
  const rows = memifRows(results);
  const g = goalRows(rows).find((x) => x.size === 64 && x.what.startsWith('tsvpp->tsvpp'))!;
  assert.is(g.ratio, 41 / 51);
  assert.is(g.near!.rounds, 2);
  assert.is(g.near!.ratio, 42 / 52.5);
  const unprobed = goalRows(memifRows(results.map((r) => ({ s: r.s, fig: fig(r.fig.mpps) })))).find((x) => x.size === 64)!;
  assert.is(unprobed.near, null);
  const t = formatReport({ ...sampleReport(), memif: rows, goals: goalRows(rows) });
  assert.match(t, /0\.80x \(2 rounds\)/);
  assert.match(t, /near \(≤ 0\.200 µs, twice the fastest\): 13 probes, 0\.100\.\.0\.120 µs; far: 3 probes, 0\.350\.\.0\.370 µs/);
  assert.match(t, /64  tsvpp->tsvpp\s+40\.00\s+15\.00\*\s+44\.00\s+42\.00$/m);
  assert.match(t, /64  testpmd->testpmd\s+50\.00\s+52\.00\s+55\.00\s+16\.00\*/);
  assert.not.match(formatReport(sampleReport()), 'CPU placement', 'nothing probed, nothing said');
});

test('tsvpp-cni start-up is a perf figure with its goal, reported as met or missed', () => {
  assert.is(overheadVerdict(61.2, 39.0), 'overhead 22.2 ms (goal < 250 ms: met)');
  assert.is(overheadVerdict(330, 40), 'overhead 290.0 ms (goal < 250 ms: MISSED)');
});

test('the shim\'s DEL to a listener that answers at once is measured (through the agent\'s port, not the Node part) and reported beside the Node start', async () => {
  const shim = await measureShim(3);
  assert.is(shim.length, 3);
  assert.ok(shim.every((ms) => ms > 0 && Number.isFinite(ms)));
  const s = (median: number) => ({ median, min: median, max: median, n: 3 });
  const t = formatReport({ ...sampleReport(), cni: { startMs: s(25.4), nodeBaselineMs: s(21.1), shimMs: s(3.6), runs: 3 } });
  assert.match(t, /tsvpp-cni \(Node: VERSION, hand-overs\)\s+25\.4/);
  assert.match(t, /tsvpp-cni shim: DEL, agent answers at once\s+3\.6/);
  assert.match(t, 'the Node part\'s median overhead 4.3 ms');
});

test('formatReport shows the machine, the matrix note, ratios and ranges', () => {
  const t = formatReport(sampleReport());
  assert.match(t, 'machine: Test CPU <x&y>, 2 cores, Linux 6, Node v20');
  assert.match(t, 'use --full');
  assert.match(t, 'note: a note');
  assert.match(t, /tsvpp->tsvpp\s+64\s+32\s+polling\s+1\s+2\.000\s+1\.000\.\.3\.000\s+±50%\s+[\d.]+\s+0\.200x/);
  assert.match(t, /p50/);
});

test('renderSvg: one series per pair, escaped text, log axes, balanced tags', () => {
  const r = sampleReport();
  const svg = renderSvg(r);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.match(svg, 'Test CPU &lt;x&amp;y&gt;');
  assert.not.match(svg, '<x&y>');
  const series = chartSeries(r.memif, 'mpps');
  // The echo row has no successful run, so no series.
  assert.equal(series.map((s) => s.name).sort(), ['testpmd → testpmd (one-way)', 'tsvpp → tsvpp (one-way)'].sort());
  assert.equal(series.find((s) => s.name.startsWith('tsvpp → tsvpp'))!.points.map((p) => p.size), [64, 1500]);
  assert.is((svg.match(/<polyline /g) ?? []).length, 2, 'tsvpp one-way with two sizes, in each panel'); // 1 per panel
  assert.match(svg, 'Mpps (log scale)');
  assert.match(svg, 'Gbit/s (log scale)');
  for (const tag of ['svg', 'text', 'circle']) {
    const open = (svg.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length - (svg.match(new RegExp(`<${tag} [^>]*/>`, 'g')) ?? []).length;
    const close = (svg.match(new RegExp(`</${tag}>`, 'g')) ?? []).length;
    assert.is(open, close, `<${tag}> balanced`);
  }
});

test('tsvpp perf --all rejects bad flags with the flag named', async () => {
  for (const [argv, re] of [
    [['--all', '--sizes', '64,10'], /--sizes/], [['--all', '--skip', 'gpu'], /--skip: unknown section 'gpu'/],
    [['--all', '--repeats', '0'], /--repeats/], [['--all', '--bogus'], /--bogus/],
    [['--all', '--ping-count', '0'], /--ping-count must be at least 1/],
    [['--all', '--json', '/nonexistent-dir/r.json'], /--json \/nonexistent-dir\/r.json: cannot write there \(directory \/nonexistent-dir does not exist\)/],
    [['--all', '--svg', '/tmp'], /--svg \/tmp: cannot write there \(is a directory\)/],
  ] as [string[], RegExp][]) {
    try { await main(argv); assert.unreachable(`${argv.join(' ')} was accepted`); } catch (e) {
      assert.instance(e, UsageError);
      assert.match((e as Error).message, re);
    }
  }
});

test.run();
