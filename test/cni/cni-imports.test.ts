// tsvpp-cni runs for every pod ADD/DEL/CHECK: it must stay a thin forwarder. Its import graph is
// checked here; its start-up time is a perf figure (perf/cni-start.ts, in `tsvpp perf --all`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importGraph } from './import-graph.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = resolve(here, '../../src/cni/cni-main.cjs');

test('tsvpp-cni loads only node builtins and its small dependency-free modules', () => {
  const g = importGraph(CNI_MAIN);
  // pending-del and atomic-file only when a DEL cannot reach the agent (a dynamic import).
  assert.equal(g.local, ['src/cni/agent-protocol.cjs', 'src/cni/atomic-file.js', 'src/cni/cni-main.cjs', 'src/cni/ifname.cjs', 'src/cni/pending-del.js', 'src/cni/spec.cjs']);
  for (const e of g.external) assert.ok(e.startsWith('node:'), `unexpected import ${e}`);
});

test.run();
