// kill -9 of the memif peer mid-traffic (perf/soak/kill-peer.ts): against `tsvpp memif echo` and
// DPDK testpmd, with us as master (frees the connection, listens on, accepts the restarted peer)
// and as slave (reconnects when the peer is back). Fails, never skips, when testpmd cannot start.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runKillPeer } from '../../perf/soak/kill-peer.js';
import { liveProcs } from '../../perf/peers/procs.js';
import { testpmdPids } from '../../perf/peers/testpmd.js';

for (const peer of ['self', 'dpdk'] as const) {
  test(`kill -9 of the ${peer === 'self' ? 'tsvpp memif echo' : 'testpmd'} peer mid-traffic, both roles: clean sequence-checked traffic after each reconnect`, async () => {
    const r = await runKillPeer({ peer, rounds: 2, packets: 20_000 });
    assert.equal(r.problems, []);
    for (const role of ['master', 'slave']) {
      assert.is(r.figures[`${role}: packets checked after reconnects`], 60_000, role);
      assert.match(String(r.figures[`${role}: disconnect code after kill -9`]), /^DISCONNECTED \(35\)/);
    }
    assert.equal(liveProcs(), [], 'no peer left running');
    if (peer === 'dpdk') assert.equal(testpmdPids(`tsvpp-`).filter((p) => liveProcs().some((x) => x.pid === p)), []);
  });
}

test.run();
