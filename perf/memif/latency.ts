// memif latency: ping-pong round trips through an echoing peer (tsvpp memif echo, testpmd macswap
// or io). One packet in flight; the round trip is measured from just before the tx to the moment
// the echo is seen on rx, with a busy-polling receiver (queue 0 only).
import { RxBurst, TxBurst, type MemifConnection } from '../../src/memif/index.js';
import { makeTemplate } from './traffic.js';

export interface PingPongOptions { size: number; count: number; warmup?: number; timeoutMs?: number }
export interface PingPongResult { samplesUs: Float64Array; lost: number; firstError?: string }

export async function runPingPong(conn: MemifConnection, o: PingPongOptions): Promise<PingPongResult> {
  const template = makeTemplate(o.size);
  const segs = Math.max(1, Math.ceil(o.size / 2048));
  const txb = new TxBurst(1, segs + 1);
  const rxb = new RxBurst(32, 32 * 8);
  const sizes = [o.size];
  const warm = o.warmup ?? 1000;
  const samples = new Float64Array(o.count);
  const timeout = BigInt((o.timeoutMs ?? 1000) * 1e6);
  conn.setRxMode(0, 'polling');
  let lost = 0, n = 0;
  let firstError: string | undefined;
  for (let i = 0; i < warm + o.count && conn.open; i++) {
    while (conn.allocTx(0, txb, 1, sizes) === 0) {
      if (!conn.open) break;
      await new Promise((r) => setImmediate(r));
    }
    if (!conn.open) break;
    txb.write(0, template);
    const t0 = process.hrtime.bigint();
    conn.commitTx(0, 1);
    let got = 0;
    let t1 = t0;
    while (got === 0) {
      got = conn.rxBurst(0, rxb);
      t1 = process.hrtime.bigint();
      if (got === 0 && t1 - t0 > timeout) break;
    }
    if (got === 0) { lost++; firstError ??= `no echo within ${o.timeoutMs ?? 1000} ms`; if (lost > 10) break; continue; }
    conn.release(0, got);
    if (i >= warm) samples[n++] = Number(t1 - t0) / 1000;
    // Let the event loop breathe now and then (control channel, signals).
    if ((i & 1023) === 1023) await new Promise((r) => setImmediate(r));
  }
  return { samplesUs: samples.subarray(0, n), lost, ...(firstError ? { firstError } : {}) };
}
