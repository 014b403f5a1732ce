// Forwarding pauses of a real VPP while interfaces are made and deleted: what one pod veth costs
// every pod already on the node. A pinger (this script with --pinger: a process of its own, on the
// CPU opposite VPP) sends one 64-byte packet at a time through a VPP memif that l2patch reflects,
// about one round trip a millisecond (it sleeps between them), and logs each with its time.
// Meanwhile this process makes and deletes, one after the other, af_packet interfaces on a veth
// (the pool's refill or trim, a DEL without the pool), memif interfaces, and lends a veth pool
// member to a pod veth and hands it back (the agent's VethPool and joinPodVeth, with the VPP calls
// the pipeline makes around them: what a pod veth's ADD and DEL ask of VPP now). An operation's
// pause is the longest round trip that overlapped it; "no operation" is the longest of the others.
//
//   TSVPP_VPP=PREFIX node dist/perf/vpp-pause.js [--ops N] [--workers 1] [--json FILE]
//
// With --workers 1, VPP runs a worker thread on CPU 1 that forwards (its main thread on CPU 0,
// asleep between polls, beside the pinger): whether the API's barrier stops workers too.
//
// A tool beside `tsvpp perf --all`, not in it: it measures VPP, not tsvpp. On this VM each
// af_packet create or delete stops VPP's forwarding for 30-60 ms (docs/vpp.md).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VppClient } from '../src/vppapi/client/index.js';
import { MemifInterface } from '../src/memif/index.js';
import * as linuxIp from '../src/cni/linux/ip.js';
import { VethPool } from '../src/cni/agent/veth-pool.js';
import { VppVswitch } from '../src/cni/agent/vpp-vswitch.js';
import { joinPodVeth, POD_VETH_GROUP } from '../src/cni/agent/kinds/veth.js';
import { randomMac } from '../src/cni/mac.js';
import { af_packet } from '../src/vppapi/bindings/index.js';
import { startVppPeer, stopVppPeerSync } from './peers/vpp.js';
import { startProc, type Proc } from './peers/procs.js';
import { pinnedNode } from './harness/machine.js';
import { makeTemplate } from './memif/traffic.js';
import { RxBurst, TxBurst } from '../src/memif/index.js';

const THIS = fileURLToPath(import.meta.url);
const VPP_CPU = 0;
/** Opposite VPP's forwarding thread: its main thread, or with a worker (on CPU 1) beside the main thread, which sleeps between polls. */
const pingerCpu = (workers: number) => (workers > 0 ? 0 : 1);
/** Round trips are logged from here: one line per round trip, `<end ms since epoch> <rtt ms>`. */
const RTT_PREFIX = 'rtt ';
/** Asked between round trips (Node's timers make it ~1 ms): the pinger sleeps, VPP and the API get the CPUs. */
const GAP_MS = 0.2;

export type PausedOp = 'af_packet_create_v3' | 'af_packet_delete' | 'memif_create_v2' | 'memif_delete' | 'veth pool lend' | 'veth pool hand-back';
export const PAUSED_OPS: readonly PausedOp[] = ['af_packet_create_v3', 'af_packet_delete', 'memif_create_v2', 'memif_delete', 'veth pool lend', 'veth pool hand-back'];

/** n: operations (idle: round trips overlapping none); opMs and pauseMs per operation (idle: pauseMs holds the longest of its round trips, opMs nothing). */
export interface PauseFigure { op: PausedOp | 'idle'; n: number; opMs: number[]; pauseMs: number[] }
/** gapMs: the median time between round trips' ends, about how short a pause can go unseen. */
/** forwardingThread: the VPP thread polling the pinger's memif (0: main; 1: the first worker). */
export interface PauseResult { vpp: string; workers: number; forwardingThread: number; roundTrips: number; gapMs: number; figures: PauseFigure[]; lost: number }

interface Window { op: PausedOp; t0: number; t1: number }
interface Rtt { end: number; ms: number }

/**
 * The longest round trip that overlapped each operation's window, and the longest of those that
 * overlapped none ("idle"). A round trip spans [end - ms, end].
 */
export function attribute(windows: readonly Window[], rtts: readonly Rtt[]): PauseFigure[] {
  const figs = new Map<PausedOp | 'idle', PauseFigure>();
  const fig = (op: PausedOp | 'idle') => {
    let f = figs.get(op);
    if (!f) figs.set(op, (f = { op, n: 0, opMs: [], pauseMs: [] }));
    return f;
  };
  const overlapped = new Set<Rtt>();
  for (const w of windows) {
    let worst = 0;
    for (const r of rtts) {
      if (r.end - r.ms <= w.t1 && r.end >= w.t0) { overlapped.add(r); if (r.ms > worst) worst = r.ms; }
    }
    const f = fig(w.op);
    f.n++;
    f.opMs.push(w.t1 - w.t0);
    f.pauseMs.push(worst);
  }
  const idle = fig('idle');
  for (const r of rtts) if (!overlapped.has(r)) { idle.n++; if (r.ms > (idle.pauseMs[0] ?? 0)) idle.pauseMs[0] = r.ms; }
  return [...PAUSED_OPS.filter((op) => figs.has(op)).map((op) => figs.get(op)!), idle];
}

/** The pinger: slave of VPP's memif on `socket`, one packet in flight, until the file `stop` exists. */
async function pinger(socket: string, stop: string): Promise<void> {
  const iface = new MemifInterface({ socket, role: 'slave', id: 0, reconnectMs: 100, ifName: 'tsvpp-pause' });
  iface.on('connect-failed', () => {});
  const conn = await iface.waitConnected(15_000);
  conn.setRxMode(0, 'polling');
  const template = makeTemplate(64);
  const txb = new TxBurst(1, 2), rxb = new RxBurst(32, 256);
  let lost = 0;
  console.log('pinging');
  const out: string[] = [];
  for (let i = 1; conn.open && (i % 64 !== 0 || !existsSync(stop)); i++) {
    if (conn.allocTx(0, txb, 1, [64]) === 1) {
      txb.write(0, template);
      const t0 = performance.now();
      conn.commitTx(0, 1);
      let got = 0, t1 = t0;
      // Busy-waits for the echo (VPP answers in a microsecond when it forwards at all), up to 2 s.
      while ((got = conn.rxBurst(0, rxb)) === 0 && (t1 = performance.now()) - t0 < 2000);
      if (got > 0) { t1 = performance.now(); conn.release(0, got); out.push(`${RTT_PREFIX}${(performance.timeOrigin + t1).toFixed(3)} ${(t1 - t0).toFixed(3)}`); } else lost++;
      if (out.length >= 512) console.log(out.splice(0).join('\n'));
    }
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  if (out.length) console.log(out.join('\n'));
  console.log(`lost ${lost}`);
  await iface.close();
}

export async function measurePauses(prefix: string, ops: number, workers = 0): Promise<PauseResult> {
  const rnd = randomBytes(3).toString('hex');
  const vpp = await startVppPeer(prefix, `pause${rnd}`, workers > 0 ? { cpu: false, workers, pollSleepUsec: 'script default' } : { cpu: VPP_CPU });
  const onExit = () => stopVppPeerSync(vpp);
  process.on('exit', onExit);
  const veth = `tsvpz${rnd}`;
  const socketId = 0x7e00 + (parseInt(rnd, 16) & 0xff);
  const memifSock = join(dirname(vpp.apiSocket), `pause-${rnd}.sock`);
  const stopFile = join(dirname(vpp.apiSocket), `pause-${rnd}.stop`);
  let api: VppClient | undefined;
  let pingerProc: Proc | undefined;
  const windows: Window[] = [];
  const during = async <R>(op: PausedOp, fn: () => Promise<R>): Promise<R> => {
    const t0 = performance.timeOrigin + performance.now();
    const r = await fn();
    windows.push({ op, t0, t1: performance.timeOrigin + performance.now() });
    return r;
  };
  const timed = async <R extends { retval: number }>(op: PausedOp, fn: () => Promise<R>): Promise<R> => {
    const r = await during(op, fn);
    if (r.retval !== 0) throw new Error(`${op}: retval ${r.retval}`);
    return r;
  };
  const podNs = `tsvpp-pause-${rnd}`, podHost = `tsvpz${rnd}p`, stateDir = mkdtempSync(join(tmpdir(), 'tsvpp-pause-pool-'));
  let pool: VethPool | undefined;
  try {
    const client = api = await VppClient.connect({ socket: vpp.apiSocket, apiDir: vpp.apiDir, name: 'tsvpp-pause', reconnect: false });
    // A veth pool of one member and a pod netns, made before the pinger starts (the member's
    // af_packet_create is not measured here), and a gateway loopback the pod's interface borrows from.
    const vs = new VppVswitch(client);
    const gw = await vs.createLoopback({ tag: 'tsvpp-pause-gw' });
    await vs.addInterfaceAddress(gw.swIfIndex, '10.250.0.1/24');
    await vs.setInterfaceUp(gw.swIfIndex, true);
    await linuxIp.addNetns(podNs);
    pool = new VethPool({ size: 1, idleMs: 0, stateDir, vswitch: vs, linux: linuxIp, mtu: 0, turn: (fn) => fn(), busy: () => false, servedAt: () => 0, eager: true, log: () => {} });
    await pool.reconcile([], new Set());
    pool.refill('reconcile');
    await pool.settled();
    if (pool.members().length !== 1) throw new Error('the veth pool could not make its member');
    const c = pinnedNode(pingerCpu(workers), THIS, ['--pinger', memifSock, stopFile]);
    // Every round trip is a line: keep them all (a run of 10 operations logs ~20,000).
    const child = pingerProc = startProc({ name: 'vpp-pause-pinger', cmd: c.cmd, args: c.args, keepChars: 64 << 20 });
    await client.request('memif_socket_filename_add_del_v2', { is_add: true, socket_id: socketId, socket_filename: memifSock });
    const { sw_if_index: sw } = await client.request<{ sw_if_index: number }>('memif_create_v2', {
      role: 0, mode: 0, rx_queues: 1, tx_queues: 1, id: 0, socket_id: socketId, ring_size: 1024, buffer_size: 2048, no_zero_copy: false, use_dma: false, secret: '',
    });
    await client.request('l2_patch_add_del', { rx_sw_if_index: sw, tx_sw_if_index: sw, is_add: true });
    await client.request('sw_interface_set_flags', { sw_if_index: sw, flags: 1 });
    await child.waitFor(/^pinging$/m, 20_000);
    // Which thread forwards: what the figures are about (with workers, not the thread the API runs in).
    const placement = await client.dump<{ sw_if_index: number; worker_id: number }>('sw_interface_rx_placement_dump', { sw_if_index: sw });
    if (placement.length !== 1) throw new Error(`the pinger's memif has ${placement.length} rx queues in VPP's placement, expected 1`);
    const forwardingThread = placement[0]!.worker_id;
    await new Promise((r) => setTimeout(r, 300)); // idle round trips first
    await linuxIp.createVeth({ name: veth, peer: `${veth}q`, up: true });
    for (let i = 0; i < ops; i++) {
      await timed('af_packet_create_v3', () => client.request<{ retval: number }>('af_packet_create_v3', {
        mode: af_packet.AfPacketMode.AF_PACKET_API_MODE_ETHERNET, use_random_hw_addr: true, host_if_name: veth, num_rx_queues: 1, num_tx_queues: 1,
        flags: af_packet.AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS | af_packet.AfPacketFlags.AF_PACKET_API_FLAG_CKSUM_GSO,
        tx_frames_per_block: 256, tx_frame_size: 0, rx_frames_per_block: 0, rx_frame_size: 0,
      }));
      await new Promise((r) => setTimeout(r, 50));
      await timed('af_packet_delete', () => client.request<{ retval: number }>('af_packet_delete', { host_if_name: veth }));
      await new Promise((r) => setTimeout(r, 50));
      const m = await timed('memif_create_v2', () => client.request<{ retval: number; sw_if_index: number }>('memif_create_v2', {
        role: 0, mode: 0, rx_queues: 1, tx_queues: 1, id: 1000 + i, socket_id: socketId, ring_size: 1024, buffer_size: 2048, no_zero_copy: false, use_dma: false, secret: '',
      }));
      await new Promise((r) => setTimeout(r, 50));
      await timed('memif_delete', () => client.request<{ retval: number }>('memif_delete', { sw_if_index: m.sw_if_index }));
      await new Promise((r) => setTimeout(r, 50));
      // A pod veth's ADD and DEL through the pool: the member lent (the pod's veth made in its
      // netns and joined by redirects, re-tagged, unnumbered, up, its route and neighbour), then,
      // as the agent's DEL does, the redirects cleared, then the pod's veths deleted beside the
      // member's hand-back.
      const p = pool, addr = `10.250.0.${10 + (i % 200)}`;
      const lent = await during('veth pool lend', async () => {
        const member = await p.take();
        if (!member) throw new Error('the veth pool is empty');
        const podMac = randomMac();
        await joinPodVeth(linuxIp, { hostName: podHost, podName: 'eth1', netns: podNs, podMac, mtu: 0, peerName: member.peerName });
        await vs.tagInterface(member.swIfIndex, `tsvpp:pause${rnd}:eth1`);
        await Promise.all([vs.setUnnumbered(member.swIfIndex, gw.swIfIndex), vs.setInterfaceUp(member.swIfIndex, true)]);
        const route = { prefix: `${addr}/32`, vrfId: 0, swIfIndex: member.swIfIndex, nextHop: addr }, neighbor = { swIfIndex: member.swIfIndex, ip: addr, mac: podMac };
        await Promise.all([vs.addRoute(route), vs.addNeighbor(neighbor)]);
        return { member, route, neighbor };
      });
      await new Promise((r) => setTimeout(r, 50));
      await during('veth pool hand-back', async () => {
        await Promise.all([vs.deleteRoute(lent.route), vs.deleteNeighbor(lent.neighbor)]);
        await linuxIp.clearIngress([podHost, lent.member.peerName]);
        await Promise.all([linuxIp.deleteLinkGroup(POD_VETH_GROUP, podNs), p.giveBack(lent.member, false)]);
        if (!p.members().includes(lent.member)) throw new Error(`the member was not taken back (${JSON.stringify(lent.member)})`);
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300)); // idle round trips last
    writeFileSync(stopFile, '');
    if (!(await child.waitExit(10_000)) || child.exit?.code !== 0) throw new Error(`the pinger did not stop cleanly (${JSON.stringify(child.exit)}): ${child.tail(10)}`);
    const lines = child.output().split('\n');
    const rtts = lines.filter((l) => l.startsWith(RTT_PREFIX)).map((l) => { const [end, ms] = l.slice(RTT_PREFIX.length).split(' ').map(Number); return { end: end!, ms: ms! }; });
    const lost = Number(lines.find((l) => l.startsWith('lost '))?.slice(5) ?? NaN);
    if (rtts.length === 0) throw new Error(`the pinger measured nothing: ${child.tail(10)}`);
    const gaps = rtts.slice(1).map((r, i) => r.end - rtts[i]!.end);
    return { vpp: vpp.version, workers, forwardingThread, roundTrips: rtts.length, gapMs: pct(gaps, 0.5), figures: attribute(windows, rtts), lost };
  } finally {
    await pingerProc?.stop(2_000);
    await linuxIp.deleteLinkIfExists(veth).catch(() => undefined);
    await pool?.removeAll(new Set()).catch(() => undefined);
    await linuxIp.deleteNetns(podNs).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    await api?.close();
    await vpp.stop();
    process.off('exit', onExit);
  }
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0; };

export function formatPauses(r: PauseResult): string[] {
  const lines = [
    `VPP ${r.vpp}, ${r.workers > 0 ? `${r.workers} worker` : 'no workers'}, forwarding in ${r.forwardingThread === 0 ? 'its main thread' : `worker thread ${r.forwardingThread}`}: pauses (longest round trip through a VPP memif during each operation), ${r.roundTrips} round trips, ${r.lost} lost,`,
    `  one every ${r.gapMs.toFixed(2)} ms (a pause shorter than that can go unseen; an operation no round trip overlapped counts 0)`,
  ];
  for (const f of r.figures) {
    lines.push(f.op === 'idle'
      ? `  no operation             longest round trip ${f.pauseMs[0]!.toFixed(2)} ms (${f.n} round trips)`
      : `  ${f.op.padEnd(24)} operation p50 ${pct(f.opMs, 0.5).toFixed(1)} ms; pause p50 ${pct(f.pauseMs, 0.5).toFixed(2)} ms, max ${Math.max(...f.pauseMs).toFixed(2)} ms (${f.n} operations)`);
  }
  return lines;
}

if (process.argv[1] && resolve(process.argv[1]) === THIS) {
  const args = process.argv.slice(2);
  const opt = (n: string) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : undefined; };
  // The memif's reactor keeps the pinger's event loop alive after close: its work is done here.
  if (args[0] === '--pinger') { await pinger(args[1]!, args[2]!); process.exit(0); }
  else {
    const prefix = process.env.TSVPP_VPP;
    const ops = Number(opt('--ops') ?? 10);
    const workers = Number(opt('--workers') ?? 0);
    if (!prefix) { console.error('vpp-pause: set TSVPP_VPP to a VPP install prefix'); process.exit(2); }
    if (!Number.isInteger(ops) || ops < 1) { console.error(`vpp-pause: --ops ${opt('--ops')}: expected a whole number of at least 1`); process.exit(2); }
    if (workers !== 0 && workers !== 1) { console.error(`vpp-pause: --workers ${opt('--workers')}: expected 0 or 1 (the pinger needs a CPU)`); process.exit(2); }
    try {
      const r = await measurePauses(prefix, ops, workers);
      for (const l of formatPauses(r)) console.log(l);
      const json = opt('--json');
      if (json) writeFileSync(json, JSON.stringify(r, null, 2));
    } catch (e) {
      console.error(`vpp-pause: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  }
}
