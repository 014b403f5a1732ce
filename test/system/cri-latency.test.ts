// A tiny run of the perf --all CRI section (root, containerd): 2 pods per network through
// containerd with tsvpp and with Debian's bridge. Checks every call succeeded, the figures are
// sane (no timing thresholds beyond "finite and under a minute") and nothing is left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { criVariants, runCriLatency } from '../../perf/harness/cri-latency.js';

test('2 pods per network: every RunPodSandbox, StopPodSandbox and RemovePodSandbox succeeds, sane p50/p99, nothing left', async () => {
  const rounds: number[] = [];
  const r = await runCriLatency({ pods: 2, onRound: (i) => rounds.push(i) });
  assert.equal(rounds, [1, 2]);
  assert.match(r.runtime, /^containerd 1\./);
  assert.equal(r.vswitch, 'emulator');
  assert.equal(r.rows.map((x) => x.label), criVariants('emulator').map((v) => v.label));
  for (const x of r.rows) {
    assert.equal(x.errors, [], `${x.label}: ${x.errors.join('; ')}`);
    for (const [what, l] of [['Run', x.run], ['Stop', x.stop], ['Remove', x.remove]] as const) {
      assert.is(l.n, 2, `${x.label} ${what} samples`);
      assert.ok(l.p50 > 0 && l.p50 < 60_000, `${x.label} ${what} p50 ${l.p50}`);
      assert.ok(l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max, `${x.label} ${what} ${JSON.stringify(l)}`);
    }
  }
  for (const [k, v] of Object.entries(r.leftovers)) assert.equal(v, [], `left behind: ${k}`);
  // Only this run's dirs: other runs on the host (parallel test files) make their own.
  assert.is(r.tempDirs.length, 2, `the run's own dir and containerd's: ${r.tempDirs.join(', ')}`);
  assert.equal(r.tempDirs.filter((d) => existsSync(d)), [], 'temp dirs left after the run');
});

test.run();
