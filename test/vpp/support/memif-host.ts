// A minimal IPv4 host on a memif connection, for the real-VPP tests: answers ARP requests for
// its address and ICMP echo requests, and pings (resolving the target's MAC with ARP first). Enough
// for a pod's memif application talking to VPP with real packets. Checksums are computed and
// checked, so VPP's packets are verified too.
import { RxBurst, type MemifConnection } from '../../../src/memif/index.js';

const ETH_ARP = 0x0806, ETH_IP4 = 0x0800;

const ip4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
const ipStr = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const same = (a: Uint8Array, ao: number, b: Uint8Array) => b.every((x, i) => a[ao + i] === x);

function checksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | (i + 1 < len ? b[off + i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function eth(dst: Uint8Array, src: Uint8Array, type: number, payloadLen: number): Uint8Array {
  const p = new Uint8Array(Math.max(60, 14 + payloadLen));
  p.set(dst, 0); p.set(src, 6); p[12] = type >> 8; p[13] = type & 0xff;
  return p;
}

export interface PingReply { from: string; seq: number }

export class MemifHost {
  readonly mac: Uint8Array;
  readonly ip: Uint8Array;
  private readonly neighbors = new Map<string, Uint8Array>();
  private readonly replies: PingReply[] = [];
  readonly seen = { arpRequests: 0, echoRequests: 0, badChecksums: 0 };
  private readonly burst = new RxBurst(64, 2048);
  private readonly pkt = new Uint8Array(2048);

  constructor(private readonly conn: MemifConnection, mac: string, ip: string) {
    this.mac = Uint8Array.from(mac.split(':').map((x) => parseInt(x, 16)));
    this.ip = ip4(ip);
  }

  private send(p: Uint8Array): void {
    for (let i = 0; i < 100 && this.conn.txBurst(0, [p]) === 0; i++) { /* ring full for a moment */ }
  }

  /** Handles everything received so far. */
  poll(): void {
    const n = this.conn.rxBurst(0, this.burst);
    for (let i = 0; i < n; i++) {
      const len = this.burst.copyPacket(i, this.pkt);
      this.handle(this.pkt.subarray(0, len));
    }
    if (n > 0) this.conn.release(0, n);
  }

  private handle(p: Uint8Array): void {
    if (p.length < 14) return;
    const type = (p[12]! << 8) | p[13]!;
    if (type === ETH_ARP && p.length >= 42) {
      const op = (p[20]! << 8) | p[21]!;
      this.neighbors.set(ipStr(p, 28), p.slice(22, 28));
      if (op === 1 && same(p, 38, this.ip)) {
        this.seen.arpRequests++;
        const r = eth(p.subarray(22, 28), this.mac, ETH_ARP, 28);
        r.set([0, 1, 8, 0, 6, 4, 0, 2], 14);
        r.set(this.mac, 22); r.set(this.ip, 28); r.set(p.subarray(22, 28), 32); r.set(p.subarray(28, 32), 38);
        this.send(r);
      }
      return;
    }
    if (type !== ETH_IP4 || p.length < 34) return;
    const ihl = (p[14]! & 0x0f) * 4;
    if (checksum(p, 14, ihl) !== 0) { this.seen.badChecksums++; return; }
    if (p[23] !== 1 || !same(p, 30, this.ip)) return; // ICMP to us only
    const total = (p[16]! << 8) | p[17]!;
    const icmp = 14 + ihl, icmpLen = total - ihl;
    if (checksum(p, icmp, icmpLen) !== 0) { this.seen.badChecksums++; return; }
    if (p[icmp] === 8) {
      this.seen.echoRequests++;
      const r = eth(p.subarray(6, 12), this.mac, ETH_IP4, total);
      r.set(p.subarray(14, 14 + total), 14);
      r.set(this.ip, 26); r.set(p.subarray(26, 30), 30); // from us, back to the sender
      r[22] = 64; r[24] = 0; r[25] = 0;
      const c = checksum(r, 14, ihl); r[24] = c >> 8; r[25] = c & 0xff;
      r[icmp] = 0; r[icmp + 2] = 0; r[icmp + 3] = 0;
      const ic = checksum(r, icmp, icmpLen); r[icmp + 2] = ic >> 8; r[icmp + 3] = ic & 0xff;
      this.send(r);
    } else if (p[icmp] === 0) {
      this.replies.push({ from: ipStr(p, 26), seq: (p[icmp + 6]! << 8) | p[icmp + 7]! });
    }
  }

  private async until<T>(what: string, f: () => T | undefined, timeoutMs: number, every?: () => void): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last = 0;
    for (;;) {
      this.poll();
      const v = f();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`memif host ${ipStr(this.ip, 0)}: no ${what} within ${timeoutMs} ms`);
      if (every && Date.now() - last >= 500) { last = Date.now(); every(); }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Answers ARP and pings for `ms` (or until `stop` holds). */
  async serve(ms: number, stop: () => boolean = () => false): Promise<void> {
    await this.until('end', () => (stop() ? true : undefined), ms).catch(() => undefined);
  }

  /**
   * ARP for `target`, then ICMP echo requests (one every 500 ms: the peer may drop the first
   * while it resolves our MAC) until the reply arrives. `sent` says how many it took.
   */
  async ping(target: string, seq: number, timeoutMs = 5000): Promise<PingReply & { sent: number }> {
    const t = ip4(target);
    const mac = await this.until(`ARP reply from ${target}`, () => this.neighbors.get(target), timeoutMs, () => {
      const r = eth(new Uint8Array(6).fill(0xff), this.mac, ETH_ARP, 28);
      r.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
      r.set(this.mac, 22); r.set(this.ip, 28); r.set(t, 38);
      this.send(r);
    });
    const r = eth(mac, this.mac, ETH_IP4, 20 + 8 + 32);
    r.set([0x45, 0, 0, 60, 0, seq & 0xff, 0x40, 0, 64, 1, 0, 0], 14);
    r.set(this.ip, 26); r.set(t, 30);
    const c = checksum(r, 14, 20); r[24] = c >> 8; r[25] = c & 0xff;
    r.set([8, 0, 0, 0, 0x12, 0x34, seq >> 8, seq & 0xff], 34);
    for (let i = 42; i < 74; i++) r[i] = i;
    const ic = checksum(r, 34, 40); r[36] = ic >> 8; r[37] = ic & 0xff;
    let sent = 0;
    const reply = await this.until(`echo reply ${seq} from ${target}`, () => this.replies.find((x) => x.seq === seq && x.from === target), timeoutMs, () => { sent++; this.send(r); });
    return { ...reply, sent };
  }
}
