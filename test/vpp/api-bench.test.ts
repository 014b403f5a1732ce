// The VPP API client benchmark (perf/vppapi-client.ts, the `vppapi` section of `tsvpp perf --all`)
// against a real VPP: every window measured with VPP's own CPU share, a sw_interface_dump of the
// 1,000 memifs it makes, where the client's time went, and every memif deleted again. No timing
// thresholds (the goals are reported by `tsvpp perf --all`, not asserted in a test).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { benchClient, PIPELINED_WINDOWS } from '../../perf/vppapi-client.js';
import { assertBreakdown, assertFigures } from '../perf/vppapi-bench-checks.js';
import { Vpp } from './support/vpp.js';

test('against VPP: round trips at 1, 16, 256 and 1024 in flight, a dump of 1,000 memifs, a profile; the memifs deleted again', async () => {
  const vpp = await Vpp.start();
  const c = await vpp.connect();
  try {
    const interfaces = async () => (await c.dump<{ sw_if_index: number; interface_name: string }>('sw_interface_dump', { sw_if_index: 0xffffffff }));
    const before = await interfaces();
    const windows = PIPELINED_WINDOWS;
    const r = await benchClient({ socket: vpp.apiSocket, apiDir: vpp.info.apiDir, count: 20_000, windows, interfaces: 1000, dumps: 5, profile: true });
    assert.is(r.peer, `VPP ${vpp.info.version}`);
    assert.is(r.peerKind, 'vpp');
    assertFigures(r, windows);
    assert.ok(r.dump, 'a dump figure');
    assert.is(r.dump.interfaces, before.length + 1000, 'the dump returned VPP\'s interfaces and the 1,000 memifs');
    assert.ok(r.dump.minMs > 0 && r.dump.minMs <= r.dump.ms, JSON.stringify(r.dump));
    assertBreakdown(r);
    const after = await interfaces();
    assert.equal(after.map((i) => i.interface_name).sort(), before.map((i) => i.interface_name).sort(), 'interfaces left in VPP');
  } finally {
    await c.close().catch(() => undefined);
    await vpp.stop();
  }
});

test.run();
