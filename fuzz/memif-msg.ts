/**
 * Fuzz target `memif-msg`: the memif control channel (src/memif/socket).
 *  - decode: decodeMsg on arbitrary bytes and lengths throws only MemifProtocolError, and what it
 *    decodes re-encodes (or is refused with MemifProtocolError) to a message that decodes the same;
 *  - roundtrip: decodeMsg(encodeMsg(m)) equals m for every valid message;
 *  - session: a real tsvpp master on a real SOCK_SEQPACKET socket, fed by a raw slave
 *    (src/testing/raw-memif-peer.ts) an arbitrary sequence of steps: the next message of a correct
 *    handshake, any message of that handshake out of order, a correct message with bytes changed,
 *    arbitrary typed messages and raw datagrams of any length, each with or without fds (memfds,
 *    eventfds, the real region memfds). Properties: every message gets exactly one well-formed
 *    reply (ACK / CONNECTED / DISCONNECT with a reason, then EOF) or EOF after our own DISCONNECT;
 *    a correct prefix is accepted; nothing throws uncaught; a session that did not end is still
 *    held; after we hang up the master frees it, every fd is back, and a correct tsvpp slave still
 *    connects on the same socket.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeMsg, encodeMsg, MemifInterface, MemifProtocolError, MsgType, msgTypeName, type MemifMsg,
} from '../src/memif/index.js';
import { initSharedMemory, planRegions, RingType, type MemoryPlan } from '../src/memif/ring/index.js';
import { closeAll, createEventfd, createMemfd, MappedRegion, MAX_FDS_PER_MESSAGE, openFdCount, Reactor } from '../src/sys/index.js';
import { newFds, openFds } from './support/fds.js';
import { RawMemifPeer, describe } from '../src/testing/raw-memif-peer.js';
import { errorText, runProperties, type FuzzProperty, type FuzzResult, type FuzzRunOptions } from './common.js';

export const TARGET = 'memif-msg';
const REPLY_MS = 2000;
const SETTLE_MS = 2000;
const SECRET = 'fuzz-secret';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const jsonOf = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));

// --- decode / roundtrip ---

export interface DecodeCase { hex: string; length: number }

const typedBytes = fc.tuple(fc.nat(10), fc.uint8Array({ minLength: 126, maxLength: 126 }))
  .map(([t, rest]) => { const b = new Uint8Array(128); b[0] = t; b.set(rest, 2); return b; });
export const decodeCase: fc.Arbitrary<DecodeCase> = fc.oneof(
  typedBytes.map((b) => ({ hex: hex(b), length: 128 })),
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ hex: hex(b), length: b.length })),
  fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.oneof(fc.nat(70000), fc.constantFrom(0, 127, 128, 129))).map(([b, length]) => ({ hex: hex(b), length })),
);

export function checkDecode(c: DecodeCase): void {
  const bytes = unhex(c.hex);
  let m: MemifMsg;
  try {
    m = decodeMsg(bytes, c.length);
  } catch (e) {
    if (e instanceof MemifProtocolError) return;
    throw new Error(`decodeMsg(${c.hex.length / 2} bytes, length ${c.length}) threw ${errorText(e)}`);
  }
  if (c.length !== 128 || bytes.length < 128) throw new Error(`decodeMsg accepted ${bytes.length} bytes with length ${c.length}`);
  let again: Uint8Array;
  try { again = encodeMsg(m); } catch (e) {
    if (e instanceof MemifProtocolError) return; // e.g. a name whose U+FFFD replacements no longer fit
    throw new Error(`encodeMsg(${jsonOf(m)}) threw ${errorText(e)}`);
  }
  const m2 = decodeMsg(again);
  // A DISCONNECT reason is cut to fit on encode: U+FFFD replacements may have made it longer.
  if (m.type === MsgType.DISCONNECT && m2.type === MsgType.DISCONNECT && m2.code === m.code && m.reason.startsWith(m2.reason)
    && Buffer.byteLength(m2.reason) >= 95 - 3) return;
  if (jsonOf(m2) !== jsonOf(m)) throw new Error(`decode(encode(decode(b))) = ${jsonOf(m2)} differs from ${jsonOf(m)}`);
}

const str = (maxBytes: number) => fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', ' ', 'é', '€', '\u{1F600}'), maxLength: maxBytes })
  .filter((s) => Buffer.byteLength(s) <= maxBytes);
const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
export const validMsg: fc.Arbitrary<MemifMsg> = fc.oneof(
  fc.constant({ type: MsgType.ACK } as MemifMsg),
  fc.record({ type: fc.constant(MsgType.HELLO), name: str(31), minVersion: u(16), maxVersion: u(16), maxRegion: u(16), maxM2sRing: u(16), maxS2mRing: u(16), maxLog2RingSize: u(8) }),
  fc.record({ type: fc.constant(MsgType.INIT), version: u(16), id: u(32), mode: u(8), secret: str(24), name: str(31) }),
  fc.record({ type: fc.constant(MsgType.ADD_REGION), index: u(16), size: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ type: fc.constant(MsgType.ADD_RING), flags: u(16), index: u(16), region: u(16), offset: u(32), log2RingSize: u(8), privateHdrSize: u(16) }),
  fc.record({ type: fc.constant(MsgType.CONNECT), ifName: str(31) }),
  fc.record({ type: fc.constant(MsgType.CONNECTED), ifName: str(31) }),
  fc.record({ type: fc.constant(MsgType.DISCONNECT), code: u(32), reason: str(95) }),
) as fc.Arbitrary<MemifMsg>;

export function checkRoundTrip(m: MemifMsg): void {
  const b = encodeMsg(m);
  if (b.length !== 128) throw new Error(`encodeMsg gave ${b.length} bytes`);
  const d = decodeMsg(b);
  if (jsonOf(d) !== jsonOf(m)) throw new Error(`decode(encode(m)) = ${jsonOf(d)}, m = ${jsonOf(m)}`);
}

// --- session ---

/** An fd to send: a fresh eventfd, a fresh memfd of `memfd` bytes, or the real region memfd. */
export type FdSpec = 'eventfd' | { memfd: number } | { region: number };
/** A message in JSON form (ADD_REGION size as a decimal string). */
export type JsonMsg = Record<string, string | number> & { type: number };
export type Step =
  | { kind: 'next' }
  | { kind: 'plan'; k: number }
  | { kind: 'mutate'; k: number; edits: [number, number][]; fds: FdSpec[] | 'same' }
  | { kind: 'msg'; msg: JsonMsg; fds: FdSpec[] }
  | { kind: 'raw'; hex: string; fds: FdSpec[] };

const fdSpec: fc.Arbitrary<FdSpec> = fc.oneof(
  fc.constant('eventfd' as const),
  fc.record({ memfd: fc.oneof(fc.constantFrom(1, 4096, 65536), fc.integer({ min: 1, max: 70000 })) }),
  fc.record({ region: fc.nat(3) }),
);
const fdList = fc.oneof(
  { weight: 4, arbitrary: fc.array(fdSpec, { maxLength: 2 }) },
  { weight: 1, arbitrary: fc.array(fc.constant('eventfd' as const), { minLength: 3, maxLength: MAX_FDS_PER_MESSAGE }) },
);
export const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'next' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('plan' as const), k: fc.nat(12) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('mutate' as const), k: fc.nat(12), edits: fc.array(fc.tuple(fc.nat(127), fc.nat(255)), { minLength: 1, maxLength: 4 }), fds: fc.oneof(fc.constant('same' as const), fdList) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('msg' as const), msg: validMsg.map((m) => JSON.parse(jsonOf(m).replace(/"(\d+)n"/g, '"$1"')) as JsonMsg), fds: fdList }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), hex: fc.uint8Array({ maxLength: 300 }).map(hex), fds: fdList }) },
);
export const session = fc.array(step, { minLength: 1, maxLength: 14 });

interface Planned { msg: MemifMsg; fd: 'none' | 'eventfd' | { region: number } }

/** The correct slave side of a handshake against the fuzz master: INIT, regions, rings, CONNECT. */
function correctHandshake(plan: MemoryPlan): Planned[] {
  return [
    { msg: { type: MsgType.INIT, version: 0x0200, id: 0, mode: 0, secret: SECRET, name: 'fuzz slave' }, fd: 'none' },
    ...plan.regions.map((r) => ({ msg: { type: MsgType.ADD_REGION, index: r.index, size: BigInt(r.size) } as MemifMsg, fd: { region: r.index } })),
    ...plan.rings.map((r) => ({
      msg: { type: MsgType.ADD_RING, flags: r.type === RingType.S2M ? 1 : 0, index: r.index, region: r.region, offset: r.offset, log2RingSize: r.log2RingSize, privateHdrSize: 0 } as MemifMsg,
      fd: 'eventfd' as const,
    })),
    { msg: { type: MsgType.CONNECT, ifName: 'fuzz0' }, fd: 'none' },
  ];
}

function fromJson(m: JsonMsg): MemifMsg {
  return (m.type === MsgType.ADD_REGION ? { ...m, size: BigInt(m.size!) } : m) as unknown as MemifMsg;
}

/** One master listening for the session property; reused across runs (that is the point). */
export class MasterUnderTest {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsvpp-fuzz-memif-'));
  readonly path = join(this.dir, 'memif.sock');
  readonly master: MemifInterface;
  readonly plan = planRegions({ s2mRings: 1, m2sRings: 1, log2RingSize: 4, bufferSize: 256 });
  readonly uncaught: string[] = [];
  #onUncaught = (e: unknown) => { this.uncaught.push(errorText(e)); };

  constructor() {
    Reactor.get(); // its epoll fd and wake eventfd live as long as the process
    process.on('uncaughtException', this.#onUncaught);
    process.on('unhandledRejection', this.#onUncaught);
    this.master = new MemifInterface({ socket: this.path, role: 'master', id: 0, secret: SECRET, queues: 2, handshakeTimeoutMs: 10_000 });
    this.master.on('error', this.#onUncaught);
  }

  close(): void {
    this.master.close();
    process.off('uncaughtException', this.#onUncaught);
    process.off('unhandledRejection', this.#onUncaught);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function eventually(cond: () => boolean, what: () => string, ms = SETTLE_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what()}`);
    await sleep(1);
  }
}

/** Runs one session against `mut`; throws with the step and what was wrong. */
export async function checkSession(mut: MasterUnderTest, steps: Step[], opts: { slaveCheck?: boolean } = {}): Promise<void> {
  const listener = mut.master.listener!;
  const plan = mut.plan;
  const handshake = correctHandshake(plan);
  // Per run, so that a leak is blamed on the run that made it (and shrinking stays sound).
  const fds0 = openFdCount();
  const fdsAtStart = openFds();
  const regionFds = plan.regions.map((r) => createMemfd('fuzz region', r.size));
  const maps = plan.regions.map((r, i) => MappedRegion.map(regionFds[i]!, r.size));
  initSharedMemory(plan, maps.map((m) => m.buffer));
  const peer = RawMemifPeer.connect(mut.path);
  const log: string[] = [];
  const fail = (why: string): never => { throw new Error(`${why}\n  after: ${log.join(' | ') || '(nothing)'}`); };
  try {
    const hello = await peer.receive(REPLY_MS);
    if (hello.kind !== 'msg' || hello.msg.type !== MsgType.HELLO) fail(`first message is ${describe(hello)}, not HELLO`);
    closeAll(hello.kind === 'msg' ? hello.fds : []);
    let cursor = 0;
    let correct = true; // every step so far was the next one of the correct handshake
    let ended = false;
    for (const [i, s] of steps.entries()) {
      // What to send.
      let bytes: Uint8Array;
      let specs: FdSpec[];
      let isNext = false;
      if (s.kind === 'next' || s.kind === 'plan' || s.kind === 'mutate') {
        const k = s.kind === 'next' ? cursor++ : s.k;
        const p = handshake[Math.min(k, handshake.length - 1)]!;
        isNext = s.kind === 'next' && correct && k < handshake.length;
        bytes = encodeMsg(p.msg);
        specs = p.fd === 'none' ? [] : [p.fd];
        if (s.kind === 'mutate') {
          for (const [off, v] of s.edits) bytes[off] = v;
          if (s.fds !== 'same') specs = s.fds;
        }
      } else if (s.kind === 'msg') {
        try { bytes = encodeMsg(fromJson(s.msg)); } catch (e) {
          if (!(e instanceof MemifProtocolError)) fail(`encodeMsg threw ${errorText(e)}`);
          continue; // nothing sent, nothing to answer
        }
        specs = s.fds;
      } else {
        bytes = unhex(s.hex);
        specs = s.fds;
      }
      if (!isNext) correct = false;
      const fds = specs.map((f) => (f === 'eventfd' ? createEventfd() : 'memfd' in f ? createMemfd('fuzz', f.memfd) : -1));
      const sendFds = fds.map((fd, j) => (fd >= 0 ? fd : regionFds[(specs[j] as { region: number }).region % regionFds.length]!));
      const type = bytes.length === 128 ? bytes[0]! | (bytes[1]! << 8) : -1;
      log.push(`${i}:${s.kind} ${bytes.length === 128 ? msgTypeName(type) : `${bytes.length} bytes`}${sendFds.length ? ` +${sendFds.length} fds` : ''}`);
      const sent = peer.sendBytes(bytes, sendFds);
      closeAll(fds.filter((fd) => fd >= 0));
      // We only send while the session is open, so a refused send is ours (e.g. too many fds).
      if (!sent) { log.push('(not sent)'); continue; }
      // Exactly one answer (or EOF once we said DISCONNECT).
      const r = await peer.receive(REPLY_MS).catch((e: Error) => fail(`step ${i}: ${e.message}`));
      if (r.kind !== 'eof') closeAll(r.fds);
      if (r.kind === 'bad') fail(`step ${i}: master sent an ${describe(r)}`);
      if (r.kind === 'msg' && r.fds.length) fail(`step ${i}: master sent ${r.fds.length} fds`);
      if (r.kind === 'eof') {
        // A 0-byte datagram reads as EOF on SOCK_SEQPACKET (recvmsg returns 0 either way).
        if (type !== MsgType.DISCONNECT && bytes.length !== 0) fail(`step ${i}: master closed without DISCONNECT`);
        log.push('EOF');
        ended = true;
        break;
      }
      const m = (r as Extract<typeof r, { kind: 'msg' }>).msg;
      log.push(`<- ${describe(r)}`);
      if (type === MsgType.DISCONNECT && m.type !== MsgType.DISCONNECT) fail(`step ${i}: our DISCONNECT was answered with ${msgTypeName(m.type)}`);
      if (m.type === MsgType.DISCONNECT) {
        if (!m.reason) fail(`step ${i}: DISCONNECT without a reason`);
        if (correct) fail(`step ${i}: the correct handshake was refused: ${m.reason}`);
        const end = await peer.receive(REPLY_MS).catch((e: Error) => fail(`step ${i}: after DISCONNECT: ${e.message}`));
        if (end.kind !== 'eof') { if (end.kind === 'msg' || end.kind === 'bad') closeAll(end.fds); fail(`step ${i}: ${describe(end)} after DISCONNECT`); }
        ended = true;
        break;
      }
      const want = type === MsgType.CONNECT ? MsgType.CONNECTED : MsgType.ACK;
      if (m.type !== want) fail(`step ${i}: ${msgTypeName(type)} answered with ${msgTypeName(m.type)}`);
    }
    // Still open: the master must still hold it.
    if (!ended && listener.sessions !== 1) fail(`session open on our side but the listener holds ${listener.sessions}`);
    await settle(mut, peer, opts, fail);
  } finally {
    peer.close();
    maps.forEach((m) => m.unmap());
    closeAll(regionFds);
    // Even after a failure, let the master drop the session so the next run starts clean.
    await eventually(() => listener.sessions === 0, () => '').catch(() => undefined);
  }
  // Our own fds are closed now: whatever is still open beyond the start is the master's.
  await eventually(() => openFdCount() === fds0, () => `open fds ${openFdCount()}, at start ${fds0}; new: ${newFds(fdsAtStart).join(', ')}\n  after: ${log.join(' | ')}`);
}

/** We hang up; the master must free everything and still serve a correct slave. */
async function settle(mut: MasterUnderTest, peer: RawMemifPeer, opts: { slaveCheck?: boolean }, fail: (why: string) => never): Promise<void> {
  const listener = mut.master.listener!;
  peer.close();
  await eventually(() => listener.sessions === 0 && mut.master.connection === null, () => `master still holds ${listener.sessions} session(s)`).catch((e: Error) => fail(e.message));
  if (opts.slaveCheck ?? true) {
    const s = new MemifInterface({ socket: mut.path, role: 'slave', id: 0, secret: SECRET, reconnectMs: 10, log2RingSize: 4, bufferSize: 256 });
    try {
      const c = await s.waitConnected(REPLY_MS).catch((e: Error) => fail(`a correct tsvpp slave no longer connects: ${e.message}`));
      if (!c.open) fail('the tsvpp slave connection is not open');
    } finally {
      s.close();
    }
    await eventually(() => listener.sessions === 0 && mut.master.connection === null, () => 'master kept the tsvpp slave session').catch((e: Error) => fail(e.message));
  }
  if (mut.uncaught.length) fail(`uncaught: ${mut.uncaught.splice(0).join('; ')}`);
}

// --- the target ---

export interface CorpusEntry { property: 'decode' | 'roundtrip' | 'session'; case?: DecodeCase; msg?: JsonMsg; steps?: Step[]; error: string }

export function makeProperties(mut: () => MasterUnderTest): FuzzProperty<any>[] {
  return [
    { name: 'decode', runs: 2000, arbitrary: decodeCase, check: checkDecode, entry: (c: DecodeCase, error) => ({ case: c, error }) },
    {
      name: 'roundtrip', runs: 2000, arbitrary: validMsg, check: checkRoundTrip,
      entry: (m: MemifMsg, error) => ({ msg: JSON.parse(jsonOf(m).replace(/"(\d+)n"/g, '"$1"')), error }),
    },
    { name: 'session', runs: 25, async: true, arbitrary: session, check: (steps: Step[]) => checkSession(mut(), steps), entry: (steps: Step[], error) => ({ steps, error }) },
  ];
}

export async function replay(entry: Record<string, unknown>): Promise<string | undefined> {
  const e = entry as unknown as CorpusEntry;
  let mut: MasterUnderTest | undefined;
  try {
    if (e.property === 'decode') checkDecode(e.case!);
    else if (e.property === 'roundtrip') checkRoundTrip(fromJson(e.msg!));
    else {
      mut = new MasterUnderTest();
      await checkSession(mut, e.steps!);
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    mut?.close();
  }
}

export async function runMemifMsgFuzz(o: FuzzRunOptions): Promise<FuzzResult> {
  let mut: MasterUnderTest | undefined;
  try {
    return await runProperties(TARGET, makeProperties(() => (mut ??= new MasterUnderTest())), o);
  } finally {
    mut?.close();
  }
}
