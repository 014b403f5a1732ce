// A minimal IPv4 host on one memif connection (ethernet mode): one address, static neighbours and
// routes as vpp-agent's ARP and route keys give them, answers ARP requests for its address and ICMP
// echo requests to it, and pings (next hop by longest-prefix route, else on-link; its MAC from the
// neighbours or by ARP). Enough for a pod without VPP to prove the path through the vswitch, not
// an IP stack: no fragments, options or other protocols. Headers and ICMP checksums of what
// arrives are verified (bad ones are counted and dropped). Replies are built in one buffer of the
// host's: nothing is allocated per packet.
import { RxBurst, type MemifConnection } from '../../memif/index.js';
import { parseIp4, parsePrefix4, contains4, formatIp4 } from '../ipv4.js';

const ETH_ARP = 0x0806, ETH_IP4 = 0x0800, ICMP = 1;
const MAX_FRAME = 2048;

export interface IpHostRoute { dst: string; via: string }
export interface PingReply { from: string; seq: number; sent: number }

const macBytes = (s: string): Uint8Array => {
  const b = s.split(':').map((x) => parseInt(x, 16));
  if (b.length !== 6 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`${JSON.stringify(s)} is not a MAC address`);
  return Uint8Array.from(b);
};
const u32 = (p: Uint8Array, o: number) => ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
const put32 = (p: Uint8Array, o: number, v: number) => { p[o] = v >>> 24; p[o + 1] = (v >>> 16) & 0xff; p[o + 2] = (v >>> 8) & 0xff; p[o + 3] = v & 0xff; };

/** The internet checksum of b[off, off+len). */
export function inetChecksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | (i + 1 < len ? b[off + i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export class IpHost {
  readonly mac: Uint8Array;
  readonly ip: number;
  /** Neighbours by address: static ones (vpp-agent ARP keys) and what ARP taught. */
  private readonly neighbors = new Map<number, Uint8Array>();
  private readonly statics = new Set<number>();
  private routes: Array<{ net: number; len: number; via: number }> = [];
  private readonly replies: Array<{ from: number; seq: number }> = [];
  readonly seen = { arpRequests: 0, echoRequests: 0, badChecksums: 0 };
  private readonly burst = new RxBurst(64, MAX_FRAME);
  private readonly rx = new Uint8Array(MAX_FRAME);
  private readonly tx = new Uint8Array(MAX_FRAME);
  private readonly txList: Uint8Array[] = [this.tx];

  constructor(private readonly conn: MemifConnection, o: { mac: string; ip: string }) {
    this.mac = macBytes(o.mac);
    this.ip = parseIp4(o.ip);
  }

  /** Answers what arrives from now on, when the peer kicks (and whatever is queued already). */
  start(): void {
    this.conn.onInterrupt(0, () => this.poll());
    this.poll();
  }

  stop(): void { if (this.conn.open) this.conn.onInterrupt(0, null); }

  /** A static neighbour (vpp-agent ARP entry); ARP does not replace it. */
  setNeighbor(ip: string, mac: string): void {
    const a = parseIp4(ip);
    this.neighbors.set(a, macBytes(mac));
    this.statics.add(a);
  }

  /** Forgets the static neighbours (what ARP taught stays). */
  clearNeighbors(): void {
    for (const a of this.statics) this.neighbors.delete(a);
    this.statics.clear();
  }

  /** The routing table (longest prefix wins); what none covers is on-link. */
  setRoutes(routes: readonly IpHostRoute[]): void {
    this.routes = routes.map((r) => { const p = parsePrefix4(r.dst); return { net: p.addr, len: p.len, via: parseIp4(r.via) }; })
      .sort((a, b) => b.len - a.len);
  }

  /** The next hop toward `ip`. */
  nextHop(ip: string): string {
    const a = parseIp4(ip);
    const r = this.routes.find((x) => contains4({ addr: x.net, len: x.len }, formatIp4(a)));
    return formatIp4(r ? r.via : a);
  }

  private send(len: number): void {
    this.txList[0] = this.tx.subarray(0, Math.max(60, len));
    for (let i = 0; i < 100 && this.conn.txBurst(0, this.txList) === 0; i++) { /* ring full for a moment */ }
  }

  private ethHeader(dst: Uint8Array, dstOff: number, type: number): void {
    this.tx.fill(0, 0, 60);
    this.tx.set(dst.subarray(dstOff, dstOff + 6), 0);
    this.tx.set(this.mac, 6);
    this.tx[12] = type >> 8; this.tx[13] = type & 0xff;
  }

  /** Handles everything received so far. */
  poll(): void {
    if (!this.conn.open) return;
    let n: number;
    while ((n = this.conn.rxBurst(0, this.burst)) > 0) {
      for (let i = 0; i < n; i++) this.handle(this.rx.subarray(0, this.burst.copyPacket(i, this.rx)));
      this.conn.release(0, n);
    }
  }

  private handle(p: Uint8Array): void {
    if (p.length < 14) return;
    const type = (p[12]! << 8) | p[13]!;
    if (type === ETH_ARP && p.length >= 42) return this.arp(p);
    if (type !== ETH_IP4 || p.length < 34) return;
    const ihl = (p[14]! & 0x0f) * 4;
    const total = (p[16]! << 8) | p[17]!;
    if (ihl < 20 || total < ihl + 8 || 14 + total > p.length) return;
    if (inetChecksum(p, 14, ihl) !== 0) { this.seen.badChecksums++; return; }
    if (p[23] !== ICMP || u32(p, 30) !== this.ip) return;
    const icmp = 14 + ihl, icmpLen = total - ihl;
    if (inetChecksum(p, icmp, icmpLen) !== 0) { this.seen.badChecksums++; return; }
    if (p[icmp] === 8) {
      this.seen.echoRequests++;
      this.ethHeader(p, 6, ETH_IP4);
      const t = this.tx;
      t.set(p.subarray(14, 14 + total), 14);
      put32(t, 26, this.ip); t.set(p.subarray(26, 30), 30); // from us, back to the sender
      t[22] = 64; t[24] = 0; t[25] = 0;
      const c = inetChecksum(t, 14, ihl); t[24] = c >> 8; t[25] = c & 0xff;
      t[icmp] = 0; t[icmp + 2] = 0; t[icmp + 3] = 0;
      const ic = inetChecksum(t, icmp, icmpLen); t[icmp + 2] = ic >> 8; t[icmp + 3] = ic & 0xff;
      this.send(14 + total);
    } else if (p[icmp] === 0) {
      if (this.replies.length >= 64) this.replies.shift();
      this.replies.push({ from: u32(p, 26), seq: (p[icmp + 6]! << 8) | p[icmp + 7]! });
    }
  }

  private arp(p: Uint8Array): void {
    const sender = u32(p, 28);
    if (!this.statics.has(sender)) {
      const had = this.neighbors.get(sender);
      if (!had || had.some((b, i) => b !== p[22 + i])) this.neighbors.set(sender, p.slice(22, 28));
    }
    if (((p[20]! << 8) | p[21]!) !== 1 || u32(p, 38) !== this.ip) return;
    this.seen.arpRequests++;
    this.ethHeader(p, 22, ETH_ARP);
    const t = this.tx;
    t.set([0, 1, 8, 0, 6, 4, 0, 2], 14);
    t.set(this.mac, 22); put32(t, 28, this.ip); t.set(p.subarray(22, 32), 32);
    this.send(42);
  }

  private async until<T>(what: string, f: () => T | undefined, timeoutMs: number, every: () => void): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last = 0;
    for (;;) {
      this.poll();
      const v = f();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`${formatIp4(this.ip)}: no ${what} within ${timeoutMs} ms`);
      if (Date.now() - last >= 500) { last = Date.now(); every(); }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /**
   * ICMP echo requests to `target` (one every 500 ms: the peer may drop the first while it
   * resolves our MAC) until the reply with `seq` arrives; the next hop's MAC from the neighbours,
   * else by ARP first. `sent` says how many requests it took.
   */
  async ping(target: string, seq: number, timeoutMs = 5000): Promise<PingReply> {
    const t = parseIp4(target), hop = parseIp4(this.nextHop(target));
    const mac = await this.until(`ARP reply from ${formatIp4(hop)}`, () => this.neighbors.get(hop), timeoutMs, () => {
      this.ethHeader(new Uint8Array(6).fill(0xff), 0, ETH_ARP);
      this.tx.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
      this.tx.set(this.mac, 22); put32(this.tx, 28, this.ip); put32(this.tx, 38, hop);
      this.send(42);
    });
    let sent = 0;
    const reply = await this.until(`echo reply ${seq} from ${target}`, () => this.replies.find((x) => x.seq === seq && x.from === t), timeoutMs, () => {
      this.ethHeader(mac, 0, ETH_IP4);
      const r = this.tx;
      r.set([0x45, 0, 0, 60, 0, seq & 0xff, 0x40, 0, 64, ICMP, 0, 0], 14);
      put32(r, 26, this.ip); put32(r, 30, t);
      const c = inetChecksum(r, 14, 20); r[24] = c >> 8; r[25] = c & 0xff;
      r.set([8, 0, 0, 0, 0x12, 0x34, seq >> 8, seq & 0xff], 34);
      for (let i = 42; i < 74; i++) r[i] = i;
      const ic = inetChecksum(r, 34, 40); r[36] = ic >> 8; r[37] = ic & 0xff;
      sent++;
      this.send(74);
    });
    return { from: formatIp4(reply.from), seq: reply.seq, sent };
  }
}
