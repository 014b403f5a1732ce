// A hand-written SVG chart of the memif throughput: two panels (Mpps, Gbit/s) against packet
// size, one line per pair (burst 32, polling, 1 queue), min..max whiskers over the repeats. Log
// y axes: tsvpp and DPDK differ by more than an order of magnitude.
import type { MemifRow, PerfReport } from './model.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#111111', '#9467bd', '#ff7f0e', '#17becf', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const label = (r: Pick<MemifRow, 'kind' | 'pair'>) => `${r.pair.replace('<->', ' ⇄ ').replace('->', ' → ')} ${r.kind === 'echo' ? '(echo)' : '(one-way)'}`;

export interface ChartSeries { name: string; points: { size: number; median: number; min: number; max: number }[] }

/** The series the chart shows: the base configuration of every pair, per metric. */
export function chartSeries(rows: MemifRow[], metric: 'mpps' | 'gbps'): ChartSeries[] {
  const base = rows.filter((r) => r.burst === 32 && r.mode === 'polling' && r.queues === 1 && r[metric].n > 0);
  const names = [...new Set(base.map(label))];
  return names.map((name) => ({
    name,
    points: base.filter((r) => label(r) === name).sort((a, b) => a.size - b.size)
      .map((r) => ({ size: r.size, median: r[metric].median, min: r[metric].min, max: r[metric].max })),
  }));
}

function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function panel(x0: number, y0: number, w: number, h: number, title: string, unit: string, series: ChartSeries[], sizes: number[]): string {
  const vals = series.flatMap((s) => s.points.flatMap((p) => [p.min, p.max, p.median])).filter((v) => v > 0 && Number.isFinite(v));
  const ticks = decades(vals.length ? Math.min(...vals) : 0.1, vals.length ? Math.max(...vals) : 10);
  // (The top decade may be 10^0 = 1, whose log is 0: only an axis of one decade needs widening.)
  const lo = Math.log10(ticks[0]!);
  const top = Math.log10(ticks[ticks.length - 1]!);
  const hi = top > lo ? top : lo + 1;
  const y = (v: number) => y0 + h - ((Math.log10(Math.max(v, ticks[0]!)) - lo) / (hi - lo || 1)) * h;
  const x = (size: number) => x0 + ((sizes.indexOf(size) + 0.5) / sizes.length) * w;
  const o: string[] = [];
  o.push(`<text x="${x0 + w / 2}" y="${y0 - 12}" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  o.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="#fafafa" stroke="#999"/>`);
  for (const t of ticks) {
    const yy = y(t).toFixed(1);
    o.push(`<line x1="${x0}" x2="${x0 + w}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    o.push(`<text x="${x0 - 6}" y="${yy}" dy="4" text-anchor="end" font-size="11">${t >= 1 ? t : t.toPrecision(1)}</text>`);
  }
  for (const s of sizes) o.push(`<text x="${x(s)}" y="${y0 + h + 16}" text-anchor="middle" font-size="11">${s} B</text>`);
  o.push(`<text x="${x0 + w / 2}" y="${y0 + h + 34}" text-anchor="middle" font-size="12">packet size</text>`);
  o.push(`<text transform="translate(${x0 - 42},${y0 + h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(unit)} (log scale)</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const dash = s.name.includes('(echo)') ? ' stroke-dasharray="6 4"' : '';
    const pts = s.points.map((p) => `${x(p.size).toFixed(1)},${y(p.median).toFixed(1)}`);
    if (pts.length > 1) o.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="2"${dash}/>`);
    for (const p of s.points) {
      const xx = x(p.size).toFixed(1);
      o.push(`<line x1="${xx}" x2="${xx}" y1="${y(p.min).toFixed(1)}" y2="${y(p.max).toFixed(1)}" stroke="${c}" stroke-width="1.5"/>`);
      o.push(`<circle cx="${xx}" cy="${y(p.median).toFixed(1)}" r="3.5" fill="${c}"><title>${esc(s.name)} ${p.size} B: ${p.median.toPrecision(3)} ${esc(unit)} [${p.min.toPrecision(3)}..${p.max.toPrecision(3)}]</title></circle>`);
    }
  });
  return o.join('\n');
}

export function renderSvg(r: Pick<PerfReport, 'memif' | 'machine' | 'startedAt' | 'options'>): string {
  const mpps = chartSeries(r.memif, 'mpps');
  const gbps = chartSeries(r.memif, 'gbps');
  const sizes = [...new Set(r.memif.map((m) => m.size))].sort((a, b) => a - b);
  const W = 1000, pw = 400, ph = 300, top = 70;
  const legendRows = Math.ceil(mpps.length / 2);
  const H = top + ph + 60 + legendRows * 20 + 30;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`);
  o.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  o.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">memif throughput: tsvpp and DPDK testpmd (burst 32, polling, 1 queue)</text>`);
  o.push(`<text x="${W / 2}" y="42" text-anchor="middle" font-size="11" fill="#555">${esc(`${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; median of ${r.options.repeats}, whiskers min..max; ${r.startedAt.slice(0, 10)}`)}</text>`);
  o.push(panel(80, top, pw, ph, 'packets per second', 'Mpps', mpps, sizes));
  o.push(panel(80 + pw + 100, top, pw, ph, 'bit rate (frame bytes)', 'Gbit/s', gbps, sizes));
  mpps.forEach((s, i) => {
    const lx = 80 + (i % 2) * 460, ly = top + ph + 60 + Math.floor(i / 2) * 20;
    const c = COLORS[i % COLORS.length]!;
    const dash = s.name.includes('(echo)') ? ' stroke-dasharray="6 4"' : '';
    o.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${dash}/><circle cx="${lx + 14}" cy="${ly}" r="3.5" fill="${c}"/>`);
    o.push(`<text x="${lx + 36}" y="${ly + 4}" font-size="12">${esc(s.name)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
