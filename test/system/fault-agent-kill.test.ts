// SIGKILL of the agent process in the middle of a pod ADD (perf/soak/agent-kill.ts): inside VPP's
// creation of each of the pod's interfaces and routes, and at random moments; the ADD fails, the restarted agent
// rolls the half-added pod back, DEL converges, a retried ADD/DEL works, nothing is left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runAgentKill } from '../../perf/soak/agent-kill.js';

test('agent SIGKILLed mid-ADD x12: ADD fails, DEL after the restart converges, retried ADD works, nothing left', async () => {
  const r = await runAgentKill({ rounds: 12 });
  assert.equal(r.problems, []);
  assert.is(r.figures['killed inside a VPP create'], 8);
  assert.ok(Number(r.figures['half-added pods rolled back at agent start']) + Number(r.figures['ADD completed before the kill']) >= 8, JSON.stringify(r.figures));
});

test.run();
