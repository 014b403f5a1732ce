// VPP (emulator) restart under the agent (perf/soak/vpp-restart.ts): the vppapi client reconnects
// and re-reads the message table; the agent re-wires its pod in the new VPP (CHECK passes); DEL
// of the pod converges and leaves nothing; ADD works afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runVppRestart } from '../../perf/soak/vpp-restart.js';

test('VPP restart x2: client reconnects, the agent re-wires the pod (CHECK passes), DEL/ADD work after it, nothing left', async () => {
  const r = await runVppRestart({ restarts: 2 });
  assert.equal(r.problems, []);
  assert.is(r.figures['client reconnects'], 2);
  assert.is(r.figures['pods restored in VPP'], '2/2');
});

test.run();
