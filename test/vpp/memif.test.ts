// tsvpp memif <-> VPP's memif plugin, both roles, polling and interrupt rx-mode, 64 B and 9000 B
// (chained: 2048-byte buffers), sequence-checked through VPP's l2patch reflector (every packet
// VPP receives on the memif goes back out of it). Then a VPP restart in the middle of traffic:
// the tsvpp slave notices, reconnects to the restarted VPP by itself and carries clean traffic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemifInterface, type MemifConnection } from '../../src/memif/index.js';
import type { VppClient } from '../../src/vppapi/client/index.js';
import { runEchoTraffic, warmUp } from '../../perf/memif/traffic.js';
import { once, sleep, until } from '../../perf/soak/common.js';
import { Vpp } from './support/vpp.js';

const MEMIF_ROLE_MASTER = 0, MEMIF_ROLE_SLAVE = 1, MEMIF_MODE_ETHERNET = 0;
const RX_MODE = { polling: 1, interrupt: 2 } as const;
const PACKETS = { 64: 20_000, 9000: 3_000 } as const;

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-vpp-memif-'));
let vpp: Vpp;
let api: VppClient;
let nextSocketId = 10;

test.before(async () => {
  vpp = await Vpp.start();
  api = await vpp.connect({ reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
});

test.after(async () => {
  await api?.close().catch(() => undefined);
  await vpp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface VppMemif { swIfIndex: number; socketId: number; remove(): Promise<void> }

/** A VPP memif on `socket` (VPP's role), admin up, reflecting everything through l2patch. */
async function vppReflector(role: 'master' | 'slave', socket: string): Promise<VppMemif> {
  const socketId = nextSocketId++;
  await api.request('memif_socket_filename_add_del_v2', { is_add: true, socket_id: socketId, socket_filename: socket });
  const { sw_if_index: sw } = await api.request<{ sw_if_index: number }>('memif_create_v2', {
    role: role === 'master' ? MEMIF_ROLE_MASTER : MEMIF_ROLE_SLAVE, mode: MEMIF_MODE_ETHERNET, rx_queues: 1, tx_queues: 1,
    id: 0, socket_id: socketId, ring_size: 1024, buffer_size: 2048, no_zero_copy: false, use_dma: false, secret: '',
  });
  await api.request('l2_patch_add_del', { rx_sw_if_index: sw, tx_sw_if_index: sw, is_add: true });
  await api.request('sw_interface_set_flags', { sw_if_index: sw, flags: 1 });
  return {
    swIfIndex: sw, socketId,
    async remove() {
      await api.request('l2_patch_add_del', { rx_sw_if_index: sw, tx_sw_if_index: sw, is_add: false });
      await api.request('memif_delete', { sw_if_index: sw });
      await api.request('memif_socket_filename_add_del_v2', { is_add: false, socket_id: socketId, socket_filename: '' });
    },
  };
}

/** VPP's rx-mode on its memif queue; VPP tells the peer through MASK_INT on the ring it reads. */
async function setVppRxMode(conn: MemifConnection, m: VppMemif, mode: 'polling' | 'interrupt'): Promise<void> {
  await api.request('sw_interface_set_rx_mode', { sw_if_index: m.swIfIndex, queue_id_valid: false, queue_id: 0, mode: RX_MODE[mode] });
  // Our tx ring is VPP's rx ring: VPP clears MASK_INT there in interrupt mode and sets it when polling.
  await until(`VPP's rx ring to show ${mode} mode`, () => conn.tx[0]!.queue.peerWantsKick() === (mode === 'interrupt'), 5000);
}

async function checkedRun(conn: MemifConnection, size: 64 | 9000, mode: 'polling' | 'interrupt', what: string): Promise<void> {
  assert.ok(await warmUp(conn, size), `${what}: VPP reflected nothing`);
  const packets = PACKETS[size];
  const r = await runEchoTraffic(conn, { size, packets, mode, idleTimeoutMs: 5000 });
  assert.is(r.corrupted, 0, `${what}: ${r.corrupted} corrupted (${r.firstError})`);
  assert.is(r.lost, 0, `${what}: ${r.lost} lost of ${r.tx} (${r.firstError ?? ''})`);
  assert.is(r.rx, packets, `${what}: ${r.rx} of ${packets} came back`);
}

for (const ourRole of ['slave', 'master'] as const) {
  test(`tsvpp ${ourRole} <-> VPP ${ourRole === 'slave' ? 'master' : 'slave'}: polling and interrupt, 64 B and 9000 B, nothing lost or corrupted`, async () => {
    const socket = join(dir, `${ourRole}.sock`);
    let iface: MemifInterface | undefined;
    let m: VppMemif | undefined;
    try {
      if (ourRole === 'master') iface = new MemifInterface({ socket, role: 'master', id: 0, ifName: 'tsvpp-vpp-test' });
      m = await vppReflector(ourRole === 'slave' ? 'master' : 'slave', socket);
      if (ourRole === 'slave') {
        iface = new MemifInterface({ socket, role: 'slave', id: 0, reconnectMs: 100, ifName: 'tsvpp-vpp-test' });
        iface.on('connect-failed', () => {});
      }
      const conn = await iface!.waitConnected(15_000); // a VPP slave retries its connect every few seconds
      assert.is(conn.peerName.startsWith('VPP'), true, `peer name ${conn.peerName}`);
      for (const mode of ['polling', 'interrupt'] as const) {
        await setVppRxMode(conn, m, mode);
        for (const size of [64, 9000] as const) await checkedRun(conn, size, mode, `${mode} ${size} B`);
      }
      // VPP counted what it received and sent on the memif.
      const out = await vpp.cli(`show interface memif${m.socketId}/0`);
      assert.match(out, /rx packets\s+\d+/);
      assert.match(out, /tx packets\s+\d+/);
    } finally {
      iface?.close('test done');
      await m?.remove();
    }
  });
}

test('a VPP restart in the middle of traffic: the tsvpp slave reconnects by itself and carries clean traffic', async () => {
  const socket = join(dir, 'restart.sock');
  const iface = new MemifInterface({ socket, role: 'slave', id: 0, reconnectMs: 100, ifName: 'tsvpp-vpp-restart' });
  iface.on('connect-failed', () => {});
  try {
    await vppReflector('master', socket);
    let conn = await iface.waitConnected(15_000);
    await checkedRun(conn, 64, 'polling', 'before the restart');

    const down = once<{ reason: string; byPeer: boolean }>(iface, 'disconnected', 20_000, 'the slave to notice VPP going away');
    const reconnected = once(api, 'reconnected', 30_000, 'the API client to reconnect');
    const traffic = runEchoTraffic(conn, { size: 64, packets: 1e9, idleTimeoutMs: 30_000 });
    await sleep(300);
    await vpp.restart();
    const info = await down;
    const mid = await traffic;
    assert.ok(mid.tx > 0, 'traffic was running when VPP stopped');
    assert.is(mid.corrupted, 0, `before the restart: ${mid.firstError}`);
    assert.ok(info.byPeer, `the disconnect came from VPP's side: ${info.reason}`);

    await reconnected;
    await vppReflector('master', socket); // a restarted VPP has none of the old configuration
    conn = await iface.waitConnected(20_000);
    await checkedRun(conn, 64, 'polling', 'after the restart');
    await checkedRun(conn, 9000, 'polling', 'after the restart');
  } finally {
    iface.close('test done');
  }
});

test.run();
