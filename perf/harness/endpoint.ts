// One tsvpp memif endpoint of a perf run, as its own process (so two of them can be pinned to
// different cores with taskset). It connects, runs one job and prints one line
// `RESULT {json}` before exiting:
//   gen       transmit numbered packets for --duration-ms      -> GenResult
//   sink      receive (and --check the sequence) for --duration-ms after the first packet -> SinkResult
// gen, sink and echo time only what follows --warmup-ms of untimed traffic (perf/memif/window.ts).
//   echo      send numbered packets to an echoing peer and check them (runEchoTraffic) -> TrafficResult
//   pingpong  one packet in flight, --count round trips          -> { samplesUs: number[] , lost }
// Usage: node dist/perf/harness/endpoint.js --job J --socket S --role master|slave [--size --burst
//        --queues --mode --duration-ms --warmup-ms --count --check]
import { MemifInterface } from '../../src/memif/index.js';
import { parseFlags } from '../../src/flags.js';
import { runEchoTraffic, warmUp } from '../memif/traffic.js';
import { runGenerator, runSink } from '../memif/oneway.js';
import { runPingPong } from '../memif/latency.js';
import { percentile } from './scenarios.js';

export const RESULT_PREFIX = 'RESULT ';

export async function endpointMain(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, {
    job: { type: 'string', choices: ['gen', 'sink', 'echo', 'pingpong'] },
    socket: { type: 'string' },
    role: { type: 'string', choices: ['master', 'slave'] },
    size: { type: 'int', default: 64 },
    burst: { type: 'int', default: 32 },
    queues: { type: 'int', default: 1 },
    mode: { type: 'string', choices: ['polling', 'interrupt'], default: 'polling' },
    'duration-ms': { type: 'int', default: 2000 },
    'warmup-ms': { type: 'int', default: 0 },
    count: { type: 'int', default: 20000 },
    check: { type: 'bool' },
    'timeout-ms': { type: 'int', default: 30000 },
  });
  if (!flags.job || !flags.socket || !flags.role) throw new Error('endpoint: --job, --socket and --role are required');
  const iface = new MemifInterface({
    socket: flags.socket, role: flags.role as 'master' | 'slave', queues: flags.queues, ifName: `perf-${flags.job}`, reconnectMs: 100,
  });
  console.log(flags.role === 'master' ? `listening: ${flags.socket}` : `connecting: ${flags.socket}`);
  try {
    const conn = await iface.waitConnected(flags['timeout-ms']);
    console.log(`connected: ${conn.peerName}`);
    const size = flags.size!;
    let result: unknown;
    if (flags.job === 'gen') {
      result = await runGenerator(conn, { size, burst: flags.burst, durationMs: flags['duration-ms']!, warmupMs: flags['warmup-ms'] });
    } else if (flags.job === 'sink') {
      result = await runSink(conn, {
        size, check: flags.check, burst: flags.burst, durationMs: flags['duration-ms']!, warmupMs: flags['warmup-ms'], mode: flags.mode as 'polling',
      });
    } else {
      if (!(await warmUp(conn, size))) throw new Error('the peer echoed nothing within 10 s');
      if (flags.job === 'echo') {
        result = await runEchoTraffic(conn, {
          size, packets: 1e12, durationMs: flags['duration-ms'], warmupMs: flags['warmup-ms'], burst: flags.burst, mode: flags.mode as 'polling',
        });
      } else {
        const r = await runPingPong(conn, { size, count: flags.count! });
        // Percentiles here: 20 000 samples would make a RESULT line of hundreds of KiB.
        const xs = Array.from(r.samplesUs).sort((a, b) => a - b);
        result = { p50: percentile(xs, 50, true), p99: percentile(xs, 99, true), p999: percentile(xs, 99.9, true), count: xs.length, lost: r.lost, firstError: r.firstError };
      }
    }
    console.log(RESULT_PREFIX + JSON.stringify(result));
    return 0;
  } finally {
    iface.close('perf endpoint finished');
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  endpointMain(process.argv.slice(2)).then((c) => process.exit(c), (e) => { console.error(`endpoint: ${e instanceof Error ? e.message : e}`); process.exit(2); });
}
