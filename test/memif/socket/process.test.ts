// tsvpp <-> tsvpp across two processes, through the CLI users run: `tsvpp perf --peer self`
// starts `tsvpp memif echo` in a second process and checks every echoed packet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, RxBurst } from '../../../src/memif/index.js';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

function perf(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'perf', '--json', ...args], { timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
    });
  });
}

for (const [role, size, queues, mode] of [
  ['slave', 64, 1, 'polling'], ['master', 64, 2, 'polling'], ['slave', 9000, 1, 'interrupt'], ['master', 1500, 1, 'interrupt'],
] as const) {
  test(`tsvpp ${role} <-> tsvpp memif echo process: ${size} B, ${queues} queue(s), ${mode}`, async () => {
    const packets = size > 2048 ? 3000 : 30000;
    const r = await perf(['--role', role, '--size', String(size), '--queues', String(queues), '--mode', mode, '--packets', String(packets)]);
    assert.is(r.code, 0, r.err + r.out);
    const j = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.is(j.tx, packets);
    assert.is(j.rx, packets);
    assert.is(j.lost, 0);
    assert.is(j.corrupted, 0);
    assert.is(j.queues, queues);
    assert.ok(j.mpps > 0);
  });
}

test('perf without --packets: a warm-up, checked but left out of the rate, then --duration-ms timed', async () => {
  const r = await perf(['--duration-ms', '300']);
  assert.is(r.code, 0, r.err + r.out);
  const j = JSON.parse(r.out.trim().split('\n').pop()!);
  assert.is(j.warmupMs, 500);
  assert.equal([j.rx, j.lost, j.corrupted], [j.tx, 0, 0]);
  // Timed: from the end of the warm-up to the last packet counted, ~0.3 s (a loaded machine stretches
  // it by a clock read or a slice of the event loop, not by the warm-up's half second).
  assert.ok(j.seconds >= 0.25 && j.seconds < 0.75, `timed ${j.seconds} s`);
  // Every packet was checked, the warm-up's too, but only the timed ones make the rate.
  const timed = j.mpps * 1e6 * j.seconds;
  assert.ok(timed > 0 && j.rx > timed * 1.1, `${j.rx} echoed, ${Math.round(timed)} of them timed`);
});

test('perf terminated (SIGTERM) while traffic runs ends (143), its memif still connected', async () => {
  // The peer is a process of the test's own, so that the connection stays up while perf exits
  // (a wait for the control socket is pending then; with --peer self perf kills its peer first).
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-perf-int-'));
  const socket = join(dir, 'memif.sock');
  const echo = spawn(process.execPath, [cli, 'memif', 'echo', '--socket', socket, '--role', 'master'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = spawn(process.execPath, [cli, 'perf', '--peer', 'external', '--socket', socket, '--packets', '1000000000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    for (const until = Date.now() + 30_000; !out.includes('connected to') && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    assert.ok(out.includes('connected to'), `no connection within 30 s: ${out}`);
    await new Promise((r) => setTimeout(r, 200)); // traffic flowing
    // SIGTERM exits from procs.ts's handler with the memif open (SIGINT stops the traffic first).
    child.kill('SIGTERM');
    // A process that hangs in its exit (a wait on a pool thread) never ends; 60 s turn that into a failure.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const end = await ended;
    clearTimeout(timer);
    assert.equal(end, { code: 143, signal: null }, `perf did not end on SIGTERM: ${out}`);
  } finally {
    child.kill('SIGKILL');
    echo.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
test(`perf ${sig === 'SIGINT' ? 'interrupted (SIGINT): prints what it measured' : 'terminated (SIGTERM)'} with its own echo peer: the peer and perf's socket dir go with it`, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsvpp-perf-int-'));
  // perf makes its socket dir in TMPDIR: a dir of this test's own, so nothing else lands there.
  // A process group of its own, as a shell gives a command: Ctrl-C is SIGINT to the whole group.
  const child = spawn(process.execPath, [cli, 'perf', '--json', '--packets', '1000000000'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp }, detached: true });
  try {
    let out = '', stdout = '';
    child.stdout.on('data', (d) => { out += d; stdout += d; });
    child.stderr.on('data', (d) => { out += d; });
    const ended = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const pid = /connected to .*pid (\d+)/;
    for (const until = Date.now() + 30_000; !pid.test(out) && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    const peer = Number(pid.exec(out)?.[1]);
    assert.ok(peer > 0, `no connection within 30 s: ${out}`);
    assert.equal(readdirSync(tmp).length, 1, 'perf made its socket dir');
    await new Promise((r) => setTimeout(r, 200)); // traffic flowing
    if (sig === 'SIGINT') process.kill(-child.pid!, sig); else child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    assert.is(await ended, sig === 'SIGINT' ? 130 : 143, `perf did not end on ${sig}: ${out}`);
    clearTimeout(timer);
    if (sig === 'SIGINT') {
      // Stopped sending, waited for what was in flight: every packet sent came back, unharmed (the
      // Ctrl-C reached perf, not its echo peer).
      assert.match(out, /interrupted: waiting for the packets in flight/);
      const j = JSON.parse(stdout.trim().split('\n').pop()!);
      assert.is(j.interrupted, true);
      assert.ok(j.tx > 0 && j.tx < 1e9, `sent ${j.tx}`);
      assert.equal([j.rx, j.lost, j.corrupted], [j.tx, 0, 0]);
      assert.ok(j.mpps > 0, `${j.mpps} Mpps`);
    } else {
      assert.is(stdout, '', 'no figures on SIGTERM');
    }
    assert.equal(readdirSync(tmp), [], 'perf\'s socket dir was left behind');
    // Killed at perf's exit: gone, or a zombie until whoever inherited it reaps it.
    const alive = () => { try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${peer}/stat`, 'utf8')); } catch { return false; } };
    for (const until = Date.now() + 10_000; alive() && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    assert.not.ok(alive(), `the echo peer (pid ${peer}) is still running`);
  } finally {
    child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
});
}

test('perf refuses bad flags with a message naming the flag', async () => {
  const r = await perf(['--size', '10']);
  assert.is(r.code, 2);
  assert.match(r.err, /--size must be 20\.\.65535/);
  const u = await perf(['--peer', 'nobody']);
  assert.is(u.code, 2);
  assert.match(u.err, /--peer must be one of self, dpdk, external/);
});

test('perf against an external peer that is not there fails clearly', async () => {
  const r = await perf(['--peer', 'external', '--socket', '/tmp/tsvpp-no-such.sock', '--timeout', '1']);
  assert.is(r.code, 1);
  assert.match(r.err, /not connected after 1000 ms on \/tmp\/tsvpp-no-such\.sock \(last: cannot connect to \/tmp\/tsvpp-no-such\.sock: ENOENT\)/);
});

test('memif echo prints refused slaves, connects, disconnect reasons and counters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-echo-'));
  const socket = join(dir, 'e.sock');
  const child = spawn(process.execPath, [cli, 'memif', 'echo', '--socket', socket, '--role', 'master', '--secret', 'pw', '--stats-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const waitFor = async (re: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!re.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, re);
  };
  try {
    await waitFor(/listening: master id 0/);
    const bad = new MemifInterface({ socket, role: 'slave', secret: 'nope', reconnectMs: 60_000 });
    await waitFor(/refused a slave: Incorrect secret/);
    bad.close();
    const good = new MemifInterface({ socket, role: 'slave', secret: 'pw', ifName: 'probe' });
    const c = await good.waitConnected();
    await waitFor(/connected: peer 'tsvpp' interface 'probe', 1 rx \/ 1 tx queues, ring 1024/);
    c.txBurst(0, [new Uint8Array(64)]);
    // The echo must come back before we leave: a DISCONNECT can overtake a packet not yet polled.
    const burst = new RxBurst(1);
    for (const until = Date.now() + 10_000; c.rxBurst(0, burst) === 0;) {
      if (Date.now() > until) assert.unreachable('no echo within 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    c.release(0, 1);
    good.close('probe finished');
    await waitFor(/disconnected: probe finished \(by peer\)/);
    child.kill('SIGINT');
    await waitFor(/stopped: rx 1 tx 1 dropped 0/);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
