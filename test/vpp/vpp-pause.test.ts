// perf/vpp-pause.ts against a real VPP of its own: the pinger's round trips through a VPP memif
// while af_packet and memif interfaces are made and deleted and a veth pool member is lent and
// handed back. Checked: every operation was timed and got a pause figure, the pinger lost nothing,
// and the VPP instance, its veths, the pod netns, the pool and the pinger are gone afterwards; with
// a worker, that the worker forwards. No thresholds on the pauses themselves (docs/vpp.md has what
// they were).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { listLinks } from '../../src/cni/linux/ip.js';
import { liveProcs } from '../../perf/peers/procs.js';
import { measurePauses, PAUSED_OPS } from '../../perf/vpp-pause.js';
import { vppPrefix } from './support/vpp.js';

const RUN_DIR = process.env.TSVPP_VPP_RUN_DIR || '/run/tsvpp-vpp';
const pauseInstances = () => { try { return readdirSync(RUN_DIR).filter((d) => d.startsWith('pause')); } catch { return []; } };

async function check(workers: number) {
  const before = pauseInstances();
  const linksBefore = new Set((await listLinks()).map((l) => l.ifname));
  const r = await measurePauses(vppPrefix(), 2, workers);
  assert.match(r.vpp, /^\d\d\.\d\d/);
  assert.is(r.workers, workers);
  assert.is(r.forwardingThread, workers > 0 ? 1 : 0, 'the thread polling the memif');
  assert.is(r.lost, 0);
  assert.ok(r.roundTrips > 100, `${r.roundTrips} round trips`);
  assert.ok(r.gapMs > 0 && r.gapMs < 20, `one round trip every ${r.gapMs} ms`);
  assert.equal(r.figures.map((f) => f.op), [...PAUSED_OPS, 'idle']);
  for (const f of r.figures.filter((x) => x.op !== 'idle')) {
    assert.is(f.n, 2, f.op);
    assert.is(f.opMs.length, 2, f.op);
    assert.ok(f.opMs.every((ms) => ms > 0) && f.pauseMs.every((ms) => ms >= 0), JSON.stringify(f));
  }
  const idle = r.figures.find((f) => f.op === 'idle')!;
  assert.ok(idle.n > 0 && idle.pauseMs.length === 1, JSON.stringify(idle));
  assert.equal(pauseInstances(), before, 'VPP instances left');
  assert.equal((await listLinks()).map((l) => l.ifname).filter((n) => n.startsWith('tsv') && !linksBefore.has(n)), [], 'veths left (the pool\'s too)');
  assert.equal(readdirSync('/var/run/netns').filter((n) => n.startsWith('tsvpp-pause-')), [], 'pod netns left');
  assert.equal(readdirSync(tmpdir()).filter((n) => n.startsWith('tsvpp-pause-pool-')), [], 'pool state dirs left');
  assert.equal(liveProcs().map((p) => p.name), [], 'processes left');
}

test('2 of each operation: all timed, a pause figure each, nothing lost, nothing left', () => check(0));

test('with a worker thread: the worker forwards; the same figures, nothing left', () => check(1));

test.run();
