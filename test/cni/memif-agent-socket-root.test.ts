// tsvpp memif-agent --socket-root: socket_filename comes from etcd and is looked up below the
// root; a value whose `..` leaves the root is refused with an error naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { underSocketRoot } from '../../src/cni/memif-agent/agent.js';

test('socket_filename is looked up below the root', () => {
  assert.is(underSocketRoot('/pods/p1', '/run/vpp/memif.sock'), '/pods/p1/run/vpp/memif.sock');
  assert.is(underSocketRoot('/pods/p1/', 'run/vpp/memif.sock'), '/pods/p1/run/vpp/memif.sock');
  assert.is(underSocketRoot('/pods/p1', '/run/vpp/../vpp/memif.sock'), '/pods/p1/run/vpp/memif.sock', '.. that stays inside');
  assert.is(underSocketRoot('/pods/p1', '/run/..memif.sock'), '/pods/p1/run/..memif.sock', 'a name starting with ..');
  assert.is(underSocketRoot('/pods/p1', '@abstract'), '@abstract', 'abstract sockets are not files');
});

for (const bad of ['../x.sock', '/../../etc/x.sock', '/run/vpp/../../../host/memif.sock', '..', '/', '/run/..']) {
  test(`socket_filename ${JSON.stringify(bad)} is refused`, () => {
    assert.throws(() => underSocketRoot('/pods/p1', bad), (e: Error) =>
      e.message === `memif.socket_filename ${JSON.stringify(bad)} is not below the socket root /pods/p1`);
  });
}

test.run();
