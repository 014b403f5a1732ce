// 20 pod ADD/DEL cycles (perf/soak/pod-cycles.ts; `tsvpp soak pod-cycles` runs 200) with tap, veth
// and memif custom interfaces through tsvpp-cni → agent → VPP emulator, real netns: nothing left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runPodCycles } from '../../perf/soak/pod-cycles.js';

test('20 pod ADD/DEL cycles: no VPP interface, memif socket, veth, netns, lease, record or fd left', async () => {
  const r = await runPodCycles({ cycles: 20 });
  assert.equal(r.problems, []);
  assert.is(r.figures['fd delta'], 0);
  assert.is(r.figures['VPP interfaces left (all tags)'], 0);
});

test.run();
