// TimedWindow: the warm-up is left out of the timed figures, the end follows the opening, and
// progress is timed by the last clock read that saw it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TimedWindow } from '../../perf/memif/window.js';

test('opens warmupMs after the first traffic; counts and time before it are left out', () => {
  const w = new TimedWindow(500, 2000);
  assert.is(w.begun, false);
  w.begin(1000, 0, 0);
  assert.is(w.begun, true);
  w.begin(1200, 99, 99); // a second begin changes nothing
  w.tick(1200, 300, 19200);
  assert.is(w.opened, false, 'still warming up');
  assert.is(w.end, Infinity);
  w.tick(1500, 700, 44800);
  assert.equal([w.t0, w.end, w.count0, w.bytes0], [1500, 3500, 700, 44800]);
  w.tick(2500, 1700, 108800);
  w.tick(2600, 1700, 108800); // no progress: the last packet stays timed at 2500
  assert.equal(w.result(1700, 108800), { count: 1000, bytes: 64000, seconds: 1 });
});

test('no warm-up: the first traffic opens it at once, with what was counted before', () => {
  const w = new TimedWindow(0, 100);
  w.begin(10, 32, 2048);
  assert.equal([w.t0, w.end, w.count0], [10, 110, 32]);
});

test('finish times progress made since the last tick; a window that never opened times nothing', () => {
  const w = new TimedWindow(0, 100);
  w.begin(0);
  w.tick(50, 10);
  w.finish(() => 60, 20);
  assert.equal(w.result(20), { count: 20, bytes: 0, seconds: 0.06 });
  const never = new TimedWindow(500, 100);
  never.begin(0);
  never.tick(100, 5);
  never.finish(() => 200, 6);
  assert.equal(never.result(6), { count: 0, bytes: 0, seconds: 1e-9 });
});

test.run();
