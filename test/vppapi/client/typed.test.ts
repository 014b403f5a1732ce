// Typed requests from the generated bindings. The @ts-expect-error lines are checked by tsc, which
// `npm test` runs first: if a wrong name or field were accepted, the build would fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VppClient, typed } from '../../../src/vppapi/client/index.js';
import { memif, interface_ } from '../../../src/vppapi/bindings/index.js';
import { startVppEmulator, type VppEmulator } from '../../../src/testing/vpp-emulator/index.js';
import { registry, tempDir } from './helpers.js';

const tmp = tempDir();
let emu: VppEmulator;
let c: VppClient;

test.before(async () => {
  emu = await startVppEmulator({ socketPath: tmp.sock, registry: registry(), runtimeDir: tmp.dir });
  c = await VppClient.connect({ socket: tmp.sock, registry: registry(), timeoutMs: 2000 });
});

test.after(async () => {
  await c?.close();
  await emu?.close();
  tmp.cleanup();
});

test('typed request and dump: replies carry the bindings\' types', async () => {
  const api = typed<memif.Messages, typeof memif.replies>(c);
  const sock = await api.request('memif_socket_filename_add_del_v2', { is_add: true, socket_id: 0xffffffff, socket_filename: `${tmp.dir}/typed.sock` });
  const created = await api.request('memif_create', { role: memif.MemifRole.MEMIF_ROLE_API_MASTER, id: 4, socket_id: sock.socket_id });
  const idx: number = created.sw_if_index;
  const all = await api.dump('memif_dump', {});
  assert.ok(all.some((d) => d.sw_if_index === idx && d.id === 4));
  const ifs = typed<interface_.Messages, typeof interface_.replies>(c);
  const details = await ifs.dump('sw_interface_dump', { sw_if_index: idx });
  assert.is(details.length, 1);
  assert.is(details[0]!.sw_if_index, idx);
  // @ts-expect-error: not a memif message
  void (() => api.request('show_version'));
  // @ts-expect-error: no such field in memif_create
  void (() => api.request('memif_create', { rol: 1 }));
});

test.run();
