/**
 * Codec throughput (a benchmark, not a test): encode and decode messages/s for three typical
 * messages. Run: node dist/perf/vppapi-codec.js [--seconds-per-case 1] [--api-dir DIR]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry, type MessageInput } from '../src/vppapi/codec/index.js';
import { shippedApiDir } from '../src/vppapi/client/registry.js';

export interface BenchOptions {
  apiDir?: string;
  /** Time spent per message and operation (default 1 s). */
  secondsPerCase?: number;
}

export interface BenchResult { name: string; op: 'encode' | 'decode'; perSec: number }

const samples: Record<string, MessageInput<Record<string, unknown>>> = {
  sw_interface_details: {
    context: 7, sw_if_index: 3, sup_sw_if_index: 3, l2_address: new Uint8Array([2, 0, 0, 0, 0, 3]), flags: 3,
    link_speed: 10000000, link_mtu: 9000, mtu: [9000, 9000, 9000, 9000], interface_name: 'memif0/3', interface_dev_type: 'memif', tag: 'pod-abc',
  },
  memif_create: {
    client_index: 1, context: 2, role: 1, mode: 0, rx_queues: 2, tx_queues: 2, id: 3, socket_id: 1,
    ring_size: 1024, buffer_size: 2048, hw_addr: new Uint8Array([2, 0, 0, 0, 0, 9]), secret: 'secret',
  },
  ip_route_add_del: {
    client_index: 1, context: 3, is_add: true,
    route: {
      table_id: 0,
      prefix: { address: { af: 0, un: { ip4: new Uint8Array([10, 1, 0, 0]) } }, len: 16 },
      paths: [
        { sw_if_index: 1, weight: 1, proto: 0, nh: { address: { ip4: new Uint8Array([192, 168, 1, 1]) } } },
        { sw_if_index: 2, weight: 1, proto: 0, nh: { address: { ip4: new Uint8Array([192, 168, 2, 1]) } } },
      ],
    },
  },
};

function rate(seconds: number, f: () => void): number {
  for (let i = 0; i < 2000; i++) f(); // warm up and compile
  let n = 0;
  const t0 = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let el = 0n;
  while (el < limit) {
    for (let i = 0; i < 1000; i++) f();
    n += 1000;
    el = process.hrtime.bigint() - t0;
  }
  return n / (Number(el) / 1e9);
}

export async function benchCodec(opts: BenchOptions = {}): Promise<BenchResult[]> {
  const reg = ApiRegistry.fromDir(opts.apiDir ?? shippedApiDir());
  const secs = opts.secondsPerCase ?? 1;
  const out: BenchResult[] = [];
  for (const [name, value] of Object.entries(samples)) {
    const c = reg.message(name);
    const bytes = c.encode(value);
    out.push({ name, op: 'encode', perSec: rate(secs, () => { c.encode(value); }) });
    out.push({ name, op: 'decode', perSec: rate(secs, () => { c.decode(bytes); }) });
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--seconds-per-case');
  const j = process.argv.indexOf('--api-dir');
  const results = await benchCodec({
    ...(i > 0 ? { secondsPerCase: Number(process.argv[i + 1]) } : {}),
    ...(j > 0 ? { apiDir: process.argv[j + 1]! } : {}),
  });
  for (const r of results) console.log(`${r.name.padEnd(22)} ${r.op}  ${Math.round(r.perSec).toLocaleString('en-US').padStart(12)} msgs/s`);
}
