// The VPP API client benchmark as `tsvpp perf --all` runs it (a pinned child process), against the
// emulator and the API reflector: every window measured, the dump figure, the profile's breakdown,
// and a clear error for a socket with no VPP behind it. No timing thresholds: rates only have to
// be there and be consistent with the counts. The same benchmark against real VPP is in
// test/vpp/api-bench.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { benchClient } from '../../perf/vppapi-client.js';
import { assertBreakdown, assertFigures } from './vppapi-bench-checks.js';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '../../perf/vppapi-client.js');

test('against the emulator: sequential and pipelined figures, a dump of every interface, a profile', async () => {
  const windows = [1, 16, 64];
  const r = await benchClient({ count: 20_000, windows, interfaces: 40, dumps: 3, profile: true });
  assert.match(r.peer, /^VPP emulator \(test double, /);
  assert.is(r.peerKind, 'emulator');
  assertFigures(r, windows);
  assert.ok(r.dump, 'a dump figure');
  // The emulator's local0 and the 40 memifs made for the dump.
  assert.is(r.dump.interfaces, 41);
  assert.ok(r.dump.minMs > 0 && r.dump.minMs <= r.dump.ms, JSON.stringify(r.dump));
  assertBreakdown(r);
});

test('against the reflector: the client\'s ceiling, no dump figure (the reflector answers only control_ping)', async () => {
  const windows = [1, 256];
  const r = await benchClient({ peer: 'reflector', count: 20_000, windows, interfaces: 40 });
  assert.is(r.peer, 'API reflector (the client\'s ceiling)');
  assert.is(r.peerKind, 'reflector');
  assertFigures(r, windows);
  assert.is(r.dump, null);
  assert.is(r.breakdown, null);
});

/** The benchmark's temp dirs (a local peer's socket dir): none may outlive a run. */
const benchDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('tsvpp-bench-')).sort();

test('bad input: no VPP at --socket and a bad window are named, in one line, exit 1, nothing left behind', async () => {
  const dirsBefore = benchDirs();
  const run = (...args: string[]) => promisify(execFile)(process.execPath, [BENCH, ...args]).then(
    (): { code: number; stderr: string } => { throw new Error(`${args.join(' ')} succeeded`); }, (e: { code: number; stderr: string }) => e);
  const noVpp = await run('--socket', '/nonexistent/tsvpp/api.sock', '--count', '10');
  assert.is(noVpp.code, 1);
  assert.is(noVpp.stderr, 'vppapi-client: no VPP API socket at /nonexistent/tsvpp/api.sock (ENOENT)\n');
  const badWindow = await run('--windows', '1,0');
  assert.is(badWindow.code, 1);
  assert.is(badWindow.stderr, 'vppapi-client: --windows 0: expected a whole number of at least 1\n');
  const e = await benchClient({ socket: '/nonexistent/tsvpp/api.sock', count: 10, windows: [1], interfaces: 0 }).then(() => undefined, (x: Error) => x);
  assert.match(e?.message ?? 'resolved', /^client benchmark failed: .*no VPP API socket at \/nonexistent\/tsvpp\/api\.sock \(ENOENT\)/s);
  assert.equal(benchDirs(), dirsBefore, 'temp dirs left by the failed runs');
});

test.run();
