// kubelet restart under the agent (perf/soak/kubelet-restart.ts): the device plugin registers
// again; ADD of a pod admitted before the restart finds its allocation through PodResources, as
// does one admitted after; with kubelet down ADD fails quickly saying PodResources cannot be read,
// nothing is left; right after kubelet is back ADD works.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runKubeletRestart } from '../../perf/soak/kubelet-restart.js';

test('kubelet restart: re-registration, allocations found after it, PodResources socket missing is a clear error, ADD works once back', async () => {
  const r = await runKubeletRestart();
  assert.equal(r.problems, []);
  assert.match(String(r.figures['ADD with kubelet down']), /^101 cannot read pod resources from kubelet: PodResources Get default\/soak-vnf at \S+pod-resources\.sock: 14 UNAVAILABLE/);
});

test.run();
