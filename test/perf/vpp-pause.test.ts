// perf/vpp-pause.ts's attribution of round trips to operations (no VPP needed): an operation's
// pause is the longest round trip that overlapped its window; the round trips no operation
// overlapped make "no operation"; an operation no round trip overlapped counts 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attribute } from '../../perf/vpp-pause.js';

const rtt = (end: number, ms: number) => ({ end, ms });

test('each operation gets the longest round trip that overlapped it, the rest go to "no operation"', () => {
  const windows = [
    { op: 'af_packet_create_v3' as const, t0: 100, t1: 150 },
    { op: 'memif_create_v2' as const, t0: 200, t1: 201 },
    { op: 'af_packet_create_v3' as const, t0: 300, t1: 340 },
  ];
  const rtts = [
    rtt(99, 0.01), // before: idle
    rtt(148, 47), // sent at 101, echoed at 148: the first create's pause
    rtt(150.5, 0.6), // sent at 149.9, before the first create ended: overlaps it too
    rtt(200.5, 0.01), // inside the memif create
    rtt(260, 3), // between operations: idle
    rtt(301, 2), rtt(345, 30), // the second create: 2 and 30 overlap (345 - 30 = 315 < 340)
  ];
  const f = attribute(windows, rtts);
  assert.equal(f.map((x) => x.op), ['af_packet_create_v3', 'memif_create_v2', 'idle']);
  assert.equal(f[0]!.pauseMs, [47, 30]);
  assert.equal(f[0]!.opMs, [50, 40]);
  assert.is(f[0]!.n, 2);
  assert.equal(f[1]!.pauseMs, [0.01]);
  assert.is(f[2]!.n, 2, 'two round trips overlapped no operation');
  assert.equal(f[2]!.pauseMs, [3]);
});

test('an operation between two round trips counts 0; no round trips at all: every pause 0, idle empty', () => {
  const f = attribute([{ op: 'memif_delete', t0: 10, t1: 10.5 }], [rtt(9, 0.01), rtt(12, 0.01)]);
  assert.equal(f[0]!.pauseMs, [0]);
  assert.is(f[1]!.op, 'idle');
  assert.is(f[1]!.n, 2);
  const none = attribute([{ op: 'af_packet_delete', t0: 0, t1: 40 }], []);
  assert.equal(none.map((x) => [x.op, x.n, x.pauseMs]), [['af_packet_delete', 1, [0]], ['idle', 0, []]]);
});

test.run();
