// runProcess (posix_spawn): real children through real pipes. What they read, write and exit with;
// signals, timeouts and missing programs; that the child gets only the environment and fds it is
// given and default signal dispositions (Node ignores SIGPIPE); many at once; no fd left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runProcess, openFdCount, SysError } from '../../src/sys/index.js';

const sh = (script: string, o: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {}) =>
  runProcess('/bin/sh', ['-c', script], { env: o.env ?? { PATH: '/usr/bin:/bin' }, timeoutMs: o.timeoutMs ?? 10_000, ...(o.stdin !== undefined ? { stdin: o.stdin } : {}) });

test('stdin in, stdout and stderr out, the exit code', async () => {
  const r = await sh('cat; echo to-stderr >&2; exit 3', { stdin: 'hello\n' });
  assert.equal(r, { code: 3, signal: null, stdout: 'hello\n', stderr: 'to-stderr\n', timedOut: false });
  assert.equal(await sh('read x; echo "got $x"', { stdin: '' }), { code: 0, signal: null, stdout: 'got \n', stderr: '', timedOut: false }, 'stdin closed at once when empty');
});

test('outputs and inputs larger than a pipe come through whole', async () => {
  const out = await sh('head -c 3000000 /dev/zero | tr "\\0" a');
  assert.is(out.stdout.length, 3_000_000);
  assert.ok(/^a+$/.test(out.stdout));
  const input = 'xyz'.repeat(400_000);
  assert.is((await sh('wc -c', { stdin: input })).stdout.trim(), String(input.length));
});

test('the child has the given environment only, fds 0-2 only, default signal dispositions and no blocked signal', async () => {
  assert.is((await runProcess('/usr/bin/env', [], { env: { A: '1', B: 'two words' }, timeoutMs: 10_000 })).stdout, 'A=1\nB=two words\n');
  const fds = (await sh('ls /proc/self/fd')).stdout.trim().split('\n').map(Number).sort((a, b) => a - b);
  assert.equal(fds, [0, 1, 2, 3], 'ls\'s own directory fd is 3');
  const status = (await runProcess('/bin/grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], { env: {}, timeoutMs: 10_000 })).stdout;
  const mask = (name: string) => BigInt(`0x${new RegExp(`${name}:\\s*([0-9a-f]+)`).exec(status)![1]}`);
  assert.is(mask('SigBlk'), 0n);
  assert.is(mask('SigIgn') & ((1n << 31n) - 1n), 0n, `no standard signal ignored (SIGPIPE is in this process): ${status}`);
});

test('a signal, a timeout (SIGKILL), a missing program, a relative path', async () => {
  assert.equal(await sh('kill -TERM $$'), { code: null, signal: 15, stdout: '', stderr: '', timedOut: false });
  const t = await runProcess('/bin/sleep', ['30'], { env: {}, timeoutMs: 100 });
  assert.equal(t, { code: null, signal: 9, stdout: '', stderr: '', timedOut: true });
  try { await runProcess('/nonexistent/tool', [], { env: {}, timeoutMs: 1000 }); assert.unreachable(); } catch (e) {
    assert.instance(e, SysError);
    assert.is((e as Error).message, 'posix_spawn (/nonexistent/tool) failed: ENOENT');
  }
  try { await runProcess('sh', [], { env: {}, timeoutMs: 1000 }); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, /"sh" is not an absolute path/);
  }
  try { await runProcess('/bin/echo', ['a\0b'], { env: {}, timeoutMs: 1000 }); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, /contains a NUL byte/);
  }
});

test('many at once, each its own output; nothing left open afterwards', async () => {
  await sh('true'); // the Reactor's epoll and eventfd, opened once
  const before = openFdCount();
  const rs = await Promise.all(Array.from({ length: 24 }, (_, i) => sh(`echo ${i}; echo e${i} >&2; exit ${i % 7}`)));
  rs.forEach((r, i) => assert.equal(r, { code: i % 7, signal: null, stdout: `${i}\n`, stderr: `e${i}\n`, timedOut: false }));
  assert.is(openFdCount(), before);
});

test.run();
