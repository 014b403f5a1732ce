// The agent's memif socket dir unusable (perf/soak/memif-dir.ts): a file where the dir should be,
// a read-only mount; ADD of a memif pod fails with a CNI error naming the directory, nothing is
// left, the agent keeps serving and ADD works once the dir is fixed; a missing dir is created.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runMemifDir } from '../../perf/soak/memif-dir.js';

test('memif socket dir a file / read-only / missing: clear CNI error, nothing left, the agent serves on', async () => {
  const r = await runMemifDir();
  assert.equal(r.problems, []);
  assert.match(String(r.figures['ADD with a file']), /not a directory/i);
  assert.match(String(r.figures['ADD with read-only']), /read-only/i);
});

test.run();
