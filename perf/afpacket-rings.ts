// af_packet ring sizes on real VPP: what a smaller TX ring costs and saves. For each ring
// configuration, alternated round by round: af_packet_create_v3 and af_packet_delete latency on a
// fresh veth, and pod ↔ pod TCP throughput through VPP (two network namespaces, each a veth whose
// host end is an af_packet in one VPP bridge domain; a Node sender streams for a fixed time into a
// Node sink, which counts). The pod ends keep the kernel's GSO, as a pod's eth0 does.
//
//   TSVPP_VPP=PREFIX node dist/perf/afpacket-rings.js [--rounds N] [--seconds S] [--frames 1024,128] [--json FILE]
//
// --frames: TX frames per block (VPP's default 1024); the frame size stays VPP's default (66 KB:
// a GSO packet VPP forwards is copied into one TX frame unchecked, so frames must hold 64 KB).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startVppPeer, stopVppPeerSync } from './peers/vpp.js';
import { VppClient } from '../src/vppapi/client/index.js';
import { VppVswitch } from '../src/cni/agent/vpp-vswitch.js';
import { addNetns, configureLink, createVeth, createVethPair, deleteLinkIfExists, deleteNetns } from '../src/cni/linux/ip.js';
import { af_packet } from '../src/vppapi/bindings/index.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
const opt = (n: string, d: string) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1]! : d; };
const ROUNDS = Number(opt('--rounds', '3'));
const SECONDS = Number(opt('--seconds', '5'));
const FRAMES = opt('--frames', '1024,128').split(',').map(Number);
const CREATES = Number(opt('--creates', '10'));
const prefix = process.env.TSVPP_VPP;

const rnd = randomBytes(3).toString('hex');
const ns = { a: `tsvpp-ring-${rnd}-a`, b: `tsvpp-ring-${rnd}-b` };
const PORT = 5201;

const SINK = `const net=require('net');const s=net.createServer(c=>{let n=0,t0=0;c.on('data',d=>{if(!t0)t0=process.hrtime.bigint();n+=d.length});c.on('end',()=>{const ms=Number(process.hrtime.bigint()-t0)/1e6;console.log(JSON.stringify({bytes:n,ms}));s.close()})});s.listen(${PORT},()=>console.log('ready'))`;
const SOURCE = (dst: string) => `const net=require('net');const b=Buffer.alloc(1<<20,7);const c=net.connect(${PORT},'${dst}',()=>{const end=Date.now()+${SECONDS}*1000;const go=()=>{while(Date.now()<end){if(!c.write(b))return c.once('drain',go)}c.end()};go()});c.on('error',e=>{console.error(e.message);process.exit(1)})`;

async function transfer(): Promise<{ gbps: number; bytes: number; ms: number }> {
  const sink = spawn('ip', ['netns', 'exec', ns.b, process.execPath, '-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  sink.stdout.on('data', (d) => { out += d; });
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error('sink did not start')), 10_000);
    sink.stdout.on('data', () => { if (out.includes('ready')) { clearTimeout(t); res(); } });
  });
  await run('ip', ['netns', 'exec', ns.a, process.execPath, '-e', SOURCE('10.77.0.2')], { timeout: (SECONDS + 30) * 1000 });
  // The sink's count, then it is done (its close may wait on the connection's last ACKs).
  await new Promise<void>((res, rej) => {
    const done = () => { if (out.includes('{"bytes"') && out.endsWith('\n')) { clearTimeout(t); res(); } };
    const t = setTimeout(() => { rej(new Error(`the sink saw no end of the stream within 30 s (${out.trim()})`)); }, 30_000);
    sink.stdout.on('data', done);
    done();
  }).finally(() => sink.kill());
  const r = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { bytes: number; ms: number };
  return { ...r, gbps: (r.bytes * 8) / (r.ms * 1e6) };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

let phase = 'start';

async function main(): Promise<void> {
  const vpp = await startVppPeer(prefix!, `ring${rnd}`, { pollSleepUsec: 'script default', cpu: false });
  process.on('exit', () => stopVppPeerSync(vpp));
  const api = await VppClient.connect({ socket: vpp.apiSocket, apiDir: vpp.apiDir, name: 'ring-bench' });
  const vs = new VppVswitch(api);
  const create = async (host: string, frames: number) => {
    const r = await api.request<any>('af_packet_create_v3', {
      mode: af_packet.AfPacketMode.AF_PACKET_API_MODE_ETHERNET, use_random_hw_addr: true, host_if_name: host, num_rx_queues: 1, num_tx_queues: 1,
      flags: af_packet.AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS | af_packet.AfPacketFlags.AF_PACKET_API_FLAG_CKSUM_GSO,
      tx_frames_per_block: frames, tx_frame_size: 0, rx_frames_per_block: 0, rx_frame_size: 0,
    });
    if (r.retval !== 0) throw new Error(`af_packet_create_v3 ${host}: retval ${r.retval}`);
    return r.sw_if_index as number;
  };
  const del = async (host: string) => { const r = await api.request<any>('af_packet_delete', { host_if_name: host }); if (r.retval !== 0) throw new Error(`af_packet_delete ${host}: retval ${r.retval}`); };
  const results: Record<number, { createMs: number[]; deleteMs: number[]; gbps: number[]; errors: string[] }> = {};
  for (const f of FRAMES) results[f] = { createMs: [], deleteMs: [], gbps: [], errors: [] };
  const load: number[] = [loadavg()[0]!];
  const scratch = `tr${rnd}s`;
  await addNetns(ns.a); await addNetns(ns.b);
  await vs.addBridgeDomain(1);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...FRAMES].reverse() : FRAMES;
      for (const frames of order) {
        phase = `round ${round + 1} frames ${frames}: create/delete`;
        await createVeth({ name: scratch, peer: `${scratch}p`, up: true });
        for (let i = 0; i < CREATES; i++) {
          let t = performance.now();
          await create(scratch, frames);
          results[frames]!.createMs.push(performance.now() - t);
          t = performance.now();
          await del(scratch);
          results[frames]!.deleteMs.push(performance.now() - t);
        }
        await deleteLinkIfExists(scratch);
        phase = `round ${round + 1} frames ${frames}: transfer`;
        const ha = `tr${rnd}a`, hb = `tr${rnd}b`;
        await createVethPair({ hostName: ha, podName: 'eth0', netns: ns.a, up: true });
        await createVethPair({ hostName: hb, podName: 'eth0', netns: ns.b, up: true });
        await configureLink(ns.a, { name: 'eth0', up: true, addresses: ['10.77.0.1/24'] });
        await configureLink(ns.b, { name: 'eth0', up: true, addresses: ['10.77.0.2/24'] });
        const sa = await create(ha, frames), sb = await create(hb, frames);
        for (const sw of [sa, sb]) { await vs.setInterfaceBridge(sw, 1); await vs.setInterfaceUp(sw, true); }
        await api.request<any>('cli_inband', { cmd: 'clear errors' });
        const x = await transfer();
        results[frames]!.gbps.push(x.gbps);
        // Packets VPP could not put into a TX frame (all in use) are counted as errors of the af_packet.
        const errors = ((await api.request<any>('cli_inband', { cmd: 'show errors' })).reply as string).split('\n').filter((l) => /af_packet|host-/i.test(l)).map((l) => l.trim());
        results[frames]!.errors.push(...errors);
        console.log(`round ${round + 1} tx_frames_per_block ${frames}: ${x.gbps.toFixed(2)} Gbit/s (${(x.bytes / 1e6).toFixed(0)} MB in ${x.ms.toFixed(0)} ms), load ${loadavg()[0]!.toFixed(1)}`);
        await del(ha); await del(hb);
        await deleteLinkIfExists(ha); await deleteLinkIfExists(hb);
      }
    }
  } finally {
    await deleteLinkIfExists(scratch).catch(() => undefined);
    await deleteNetns(ns.a).catch(() => undefined); await deleteNetns(ns.b).catch(() => undefined);
    await api.close();
    await vpp.stop();
  }
  load.push(loadavg()[0]!);
  console.log(`VPP ${vpp.version}; load average ${load.map((l) => l.toFixed(1)).join(' -> ')}`);
  for (const f of FRAMES) {
    const r = results[f]!, ring = (f * 67584 / 2 ** 20).toFixed(1);
    console.log(`tx_frames_per_block ${f} (TX ring ${ring} MiB): create p50 ${median(r.createMs).toFixed(1)} ms, delete p50 ${median(r.deleteMs).toFixed(1)} ms, TCP ${median(r.gbps).toFixed(2)} Gbit/s [${Math.min(...r.gbps).toFixed(2)}..${Math.max(...r.gbps).toFixed(2)}]; af_packet errors: ${r.errors.length ? r.errors.join('; ') : 'none'}`);
  }
  const json = opt('--json', '');
  if (json) writeFileSync(json, JSON.stringify({ vpp: vpp.version, load, seconds: SECONDS, results }, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  if (!prefix) { console.error('set TSVPP_VPP to a VPP install prefix'); process.exit(2); }
  process.on('SIGTERM', () => { console.error(`killed during: ${phase}`); process.exit(1); });
  main().catch((e) => { console.error(e); process.exit(1); });
}
