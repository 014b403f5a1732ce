// Benchmark (not a test): control_ping round trips per second against the VPP emulator (a test
// double; real VPP numbers will differ), sequential (one in flight) and pipelined (N in flight).
//   node dist/perf/vppapi-client.js [--count N] [--window W]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiRegistry } from '../src/vppapi/codec/index.js';
import { VppClient } from '../src/vppapi/client/index.js';
import { startVppEmulator } from '../test/support/vpp-emulator/index.js';

export interface BenchOptions {
  apiDir?: string;
  /** Round trips per mode. */
  count?: number;
  /** Requests in flight in pipelined mode. */
  window?: number;
}

export interface BenchResult {
  sequentialPerSec: number;
  pipelinedPerSec: number;
  count: number;
  window: number;
}

export async function benchClient(opts: BenchOptions = {}): Promise<BenchResult> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const apiDir = opts.apiDir ?? [path.resolve(here, '../../test/fixtures/vppapi/api-json'), path.resolve(here, '../test/fixtures/vppapi/api-json')].find((p) => fs.existsSync(p))!;
  const count = opts.count ?? 20_000;
  const window = opts.window ?? 64;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvpp-bench-'));
  const registry = ApiRegistry.fromDir(apiDir);
  const emu = await startVppEmulator({ socketPath: path.join(dir, 'api.sock'), registry });
  const c = await VppClient.connect({ socket: path.join(dir, 'api.sock'), registry });
  try {
    for (let i = 0; i < 500; i++) await c.request('control_ping'); // warm-up (codec compile, JIT)
    let t = process.hrtime.bigint();
    for (let i = 0; i < count; i++) await c.request('control_ping');
    const seq = count / (Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < count) {
        sent++;
        await c.request('control_ping');
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
    const pipe = count / (Number(process.hrtime.bigint() - t) / 1e9);
    return { sequentialPerSec: Math.round(seq), pipelinedPerSec: Math.round(pipe), count, window };
  } finally {
    await c.close();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const arg = (n: string): number | undefined => { const i = process.argv.indexOf(n); return i >= 0 ? Number(process.argv[i + 1]) : undefined; };
  const r = await benchClient({ count: arg('--count'), window: arg('--window') });
  console.log(`control_ping vs emulator: sequential ${r.sequentialPerSec}/s, pipelined (window ${r.window}) ${r.pipelinedPerSec}/s, ${r.count} each`);
}
