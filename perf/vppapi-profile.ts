// Where the VPP API client's time goes: a V8 CPU profile of this process (node:inspector, no
// flags needed) with each sample's function put in one stage. Stages follow the code layers:
// the codec's generated encoders and decoders, the framing (FrameWriter/FrameDecoder), Node's
// socket streams with the write syscalls under them, the client's own bookkeeping (contexts,
// timeouts, routing), promise and tick machinery, GC, and time with nothing to do (waiting for
// the peer). Only self time counts, so every sample lands in exactly one stage; a function the
// JIT inlined counts where the profiler shows it (usually its own name, sometimes its caller).
import { Session } from 'node:inspector';

export interface StageShare {
  stage: string;
  /** Share of all samples, 0..1. */
  share: number;
  /** The functions with the most self time in it, largest first. */
  top: string[];
}

interface CallFrame { functionName: string; url: string }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export const STAGES = [
  'encode', 'decode', 'framing', 'socket write (Node streams + syscall)', 'socket read (Node streams)',
  'client bookkeeping', 'promises and ticks', 'GC', 'V8 and native code', 'benchmark driver', 'other', 'idle (waiting for the peer)',
] as const;
export type Stage = (typeof STAGES)[number];

const ENCODE_HELPERS = /^(encode|encodeInto|writeStr|writeCStr|utf8len|bytesLen|fixedBytes|obj|arr|arrN|unionKey)$/;
const DECODE_HELPERS = /^(decode|decodeRange|readStr|readCStr|guessArm|trunc|short)$/;

/** The stage a function's own time belongs to. */
export function stageOf(f: CallFrame): Stage {
  const { functionName: fn, url } = f;
  if (fn === '(idle)') return 'idle (waiting for the peer)';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8 and native code';
  if (url === '' && fn === 'encode') return 'encode';
  if (url === '' && fn === 'encodeInto') return 'encode';
  if (url === '' && fn === 'decode') return 'decode';
  if (url.includes('/vppapi/codec/')) return DECODE_HELPERS.test(fn) ? 'decode' : ENCODE_HELPERS.test(fn) ? 'encode' : 'other';
  if (url.includes('/vppapi/transport/frame')) return 'framing';
  if (fn === '_fill' && url === 'node:buffer') return 'encode'; // zeroing a message's room
  if (fn === 'now' && (url === '' || url.includes('perf/performance')) || url.includes('internal/validators')) return 'client bookkeeping'; // performance.now() for timeouts
  if (fn === 'writeBuffer' || fn === 'writev' || /stream_base_commons|streams\/writable|node:net/.test(url) && !/onStreamRead/.test(fn)) {
    return 'socket write (Node streams + syscall)';
  }
  if (/onStreamRead|streams\/readable/.test(fn + ' ' + url) || (url === 'node:events' && fn === 'emit')) return 'socket read (Node streams)';
  if (url.includes('/vppapi/client/') || url.includes('/vppapi/transport/')) return 'client bookkeeping';
  if (fn === 'runMicrotasks' || /task_queues|fixed_queue/.test(url) || fn === 'Promise' || fn === 'resolve' || fn === 'then') return 'promises and ticks';
  if (url.includes('/perf/')) return 'benchmark driver';
  return 'other';
}

/** Shares of self time per stage, largest first. */
export function breakdown(profile: CpuProfile): StageShare[] {
  const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
  // The profiler's own work (Profiler.stop serialising the profile) is not the client's time.
  const own = new Set<number>();
  const mark = (id: number): void => { own.add(id); for (const c of nodeById.get(id)?.children ?? []) mark(c); };
  for (const n of profile.nodes) if (n.callFrame.url === 'node:inspector') mark(n.id);
  const us = new Map<Stage, number>();
  const byFunction = new Map<Stage, Map<string, number>>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    if (own.has(profile.samples[i]!)) continue;
    const dt = profile.timeDeltas[i] ?? 0;
    const f = nodeById.get(profile.samples[i]!)?.callFrame ?? { functionName: '?', url: '' };
    const s = stageOf(f);
    us.set(s, (us.get(s) ?? 0) + dt);
    const name = `${f.functionName || '(anonymous)'}${f.url ? ` (${f.url.split('/').slice(-2).join('/')})` : ''}`;
    let m = byFunction.get(s);
    if (!m) byFunction.set(s, (m = new Map()));
    m.set(name, (m.get(name) ?? 0) + dt);
    total += dt;
  }
  return STAGES.map((stage) => ({
    stage, share: total ? (us.get(stage) ?? 0) / total : 0,
    top: [...(byFunction.get(stage) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([n]) => n),
  }))
    .filter((s) => s.share > 0)
    .sort((a, b) => b.share - a.share);
}

/** Runs fn under the CPU profiler (sampling every intervalUs) and returns the stage shares. */
export async function profiled(fn: () => Promise<void>, intervalUs = 200): Promise<StageShare[]> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: intervalUs });
    await post('Profiler.start');
    await fn();
    const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop');
    return breakdown(profile);
  } finally {
    session.disconnect();
  }
}
