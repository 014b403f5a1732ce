// etcd frozen (SIGSTOP) under an agent configured with --etcd (perf/soak/etcd-down.ts): DEL of a
// labelled memif pod answers within a bound with a "retry DEL" error naming etcd and keeps only the
// key; the agent serves other pods meanwhile; with etcd back the DEL retry deletes the key; an ADD
// against the frozen etcd fails, and the write etcd applies once it runs again is removed by DEL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runEtcdDown } from '../../perf/soak/etcd-down.js';

test('etcd frozen between ADD and DEL, and at ADD: bounded clear errors, DEL converges once etcd is back, nothing left', async () => {
  const r = await runEtcdDown();
  assert.equal(r.problems, []);
  assert.match(String(r.figures['DEL with etcd frozen']), /^103 DEL could not remove everything \(retry DEL\): etcd-key: etcd http/);
  assert.match(String(r.figures['DEL retried, etcd back']), /^succeeded/);
  assert.match(String(r.figures['ADD with etcd frozen']), /^103 etcd auto-configuration failed/);
});

test.run();
