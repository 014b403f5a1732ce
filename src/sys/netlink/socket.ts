// A NETLINK_ROUTE socket: requests go out in batches (one write, the kernel handles them in order
// and answers each), answers are matched to their request by sequence number.
//
// The kernel carries a request out inside the write that delivers it, under its rtnl lock: that
// write can wait on other users of the lock (a namespace being torn down holds it for a long
// time), so it runs as a koffi async call, off the event loop. By the time it returns every ack
// is queued on the socket; reading them is a non-blocking recvmsg here, and only a dump that does
// not fit one read waits for more through the Reactor (whose epoll wait runs off the loop too).
import { C, errno, libc } from '../libc.js';
import { EAGAIN, SysError, errnoName } from '../errors.js';
import { allocNative, type Scratch } from '../scratch.js';
import { closeFd } from '../fd.js';
import { Reactor } from '../reactor.js';
import { NetlinkDecodeError, decodeAck, decodeMessages, encodeRequests, extAck, type NlMessage, type NlRequest } from './wire.js';
import { NL, STRUCTS, readStruct } from './layout.js';

/** A request the kernel refused: errno by name, what was asked, and the kernel's reason when it gave one. */
export class NetlinkError extends SysError {
  readonly request: string;
  readonly kernelMessage: string | undefined;
  constructor(request: string, errnum: number, kernelMessage?: string) {
    super('netlink', errnum, request);
    this.name = 'NetlinkError';
    this.request = request;
    this.kernelMessage = kernelMessage;
    this.message = `${request} failed: ${errnoName(errnum)}${kernelMessage ? ` (${kernelMessage})` : ''}`;
  }
}

/** One request of a batch and the words its errors use ("add address 10.1.1.7/32 to eth0 in ..."). */
export interface Call { req: NlRequest; what: string }

/**
 * The message type a request is answered with: a GET with the family's NEW (rtnetlink numbers each
 * family NEW, DEL, GET, SET from a multiple of 4); anything else only with its ack.
 */
function answerType(req: NlRequest): number | undefined {
  return req.type >= NL.RTM_NEWLINK && req.type % 4 === NL.RTM_GETLINK % 4 ? req.type - 2 : undefined;
}

/** What came back for one request: the messages it was answered with (GET, dumps), or its error. */
export interface Answer { messages: NlMessage[]; error?: NetlinkError }

const RECV_MAX = 64 * 1024; // a dump's datagrams are at most 32 KiB
const MSGHDR = 0, IOVEC = 64, ADDR = 96, DATA = 128;
const ANSWER_TIMEOUT_MS = 30_000;
/** Requests per write: their acks must all fit the socket's receive buffer (~200 KiB by default)
 *  at once, or the kernel drops some (ENOBUFS). */
const BATCH_MAX = 64;

// Native blocks for the requests in flight: the async write reads one on another thread, so two
// sockets busy at once need two.
const idle: Scratch[] = [];
function takeBlock(): Scratch { return idle.pop() ?? allocNative(DATA + RECV_MAX); }
function giveBack(b: Scratch): void {
  if (idle.length < 4) idle.push(b);
  else libc.free(b.addr);
}

function setIntOpt(fd: number, name: number, b: Scratch, value = 1): void {
  b.dv.setInt32(0, value, true);
  if (libc.setsockopt(fd, C.SOL_NETLINK, name, b.addr, 4) !== 0) throw new SysError('setsockopt', errno(), `SOL_NETLINK ${name} on fd ${fd}`);
}

export class NetlinkSocket {
  #fd: number;
  #seq = (Math.random() * 0x7fffffff) >>> 0;
  #queue: Promise<unknown> = Promise.resolve();

  /** Takes over `fd`, a NETLINK_ROUTE socket (opened here, or in another namespace by src/sys/netns). */
  constructor(fd: number, readonly where: string) {
    this.#fd = fd;
    const b = takeBlock();
    try {
      setIntOpt(fd, C.NETLINK_EXT_ACK, b); // the kernel says why, not only errno
      setIntOpt(fd, C.NETLINK_CAP_ACK, b); // acks do not echo the whole request
    } catch (e) {
      closeFd(fd);
      throw e;
    } finally { giveBack(b); }
  }

  /** A socket in this thread's network namespace. */
  static open(where = 'this namespace'): NetlinkSocket {
    const fd = libc.socket(C.AF_NETLINK, C.SOCK_RAW | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, C.NETLINK_ROUTE);
    if (fd < 0) throw new SysError('socket', errno(), 'AF_NETLINK NETLINK_ROUTE');
    return new NetlinkSocket(fd, where);
  }

  get closed(): boolean { return this.#fd < 0; }

  close(): void {
    const fd = this.#fd;
    this.#fd = -1;
    closeFd(fd);
  }

  /**
   * Joins rtnetlink multicast group `group` (RTNLGRP_*): the kernel's notifications of that group
   * in the socket's namespace queue on this socket from then on. For a fresh socket that only
   * listens (calls on it would skip the notifications, and they would crowd out its answers).
   */
  join(group: number): void {
    const b = takeBlock();
    try {
      // Bound first (the kernel picks the port id): an unbound socket's port id is 0, the kernel's
      // own, and the kernel skips the sender's port id when it broadcasts.
      b.u8.fill(0, 0, STRUCTS.sockaddr_nl.size);
      b.dv.setUint16(0, C.AF_NETLINK, true);
      if (libc.bind(this.#fd, b.addr, STRUCTS.sockaddr_nl.size) !== 0) throw new SysError('bind', errno(), `netlink (${this.where}), to join group ${group}`);
      setIntOpt(this.#fd, C.NETLINK_ADD_MEMBERSHIP, b, group);
    } finally { giveBack(b); }
  }

  /**
   * Non-blocking: reads every notification queued on a socket that joined RTNLGRP_LINK and returns
   * the indexes of the links whose removal (RTM_DELLINK) the kernel announced. Throws when
   * notifications were lost (ENOBUFS: the receive buffer overflowed).
   */
  takeRemovedLinks(): number[] {
    const out: number[] = [];
    const b = takeBlock();
    try {
      for (;;) {
        const n = this.#recv(b);
        if (n === 'again') return out;
        if (n === 'foreign') continue;
        for (const m of decodeMessages(b.u8.subarray(DATA, DATA + n))) {
          if (m.type !== NL.RTM_DELLINK || m.payload.length < STRUCTS.ifinfomsg.size) continue;
          const h = readStruct(new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.length), 0, 'ifinfomsg');
          if (h.ifi_family === 0) out.push(h.ifi_index); // AF_BRIDGE ones say a port left a bridge
        }
      }
    } finally { giveBack(b); }
  }

  /**
   * Sends the calls in one write (up to BATCH_MAX of them; more go in several), resolves with each
   * one's answer (errors are answers, not throws).
   */
  batch(calls: readonly Call[]): Promise<Answer[]> {
    const p = this.#queue.then(async () => {
      const out: Answer[] = [];
      for (let i = 0; i < calls.length; i += BATCH_MAX) out.push(...await this.#transact(calls.slice(i, i + BATCH_MAX)));
      return out;
    });
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** One call; throws its NetlinkError. Resolves with the messages it was answered with. */
  async call(req: NlRequest, what: string): Promise<NlMessage[]> {
    const [a] = await this.batch([{ req, what }]);
    if (a!.error) throw a!.error;
    return a!.messages;
  }

  /** Calls in one write; throws the first error (the kernel still carried out the ones after it). */
  async all(calls: readonly Call[]): Promise<NlMessage[][]> {
    const answers = await this.batch(calls);
    const failed = answers.find((a) => a.error);
    if (failed) throw failed.error;
    return answers.map((a) => a.messages);
  }

  /** A dump (one request with NLM_F_DUMP), retried while the kernel says it was interrupted by a change. */
  async dump(req: NlRequest, what: string): Promise<NlMessage[]> {
    for (let attempt = 1; ; attempt++) {
      const [a] = await this.batch([{ req, what }]);
      if (a!.error?.errno === 4 /* EINTR: NLM_F_DUMP_INTR */ && attempt < 5) continue;
      if (a!.error) throw a!.error;
      return a!.messages;
    }
  }

  async #transact(calls: readonly Call[]): Promise<Answer[]> {
    if (this.#fd < 0) throw new Error(`netlink socket (${this.where}) is closed`);
    if (calls.filter((c) => (c.req.flags & NL.NLM_F_DUMP) === NL.NLM_F_DUMP).length > 1) throw new Error('one dump per batch: the kernel runs one dump at a time per socket');
    const seq0 = this.#seq;
    this.#seq = (this.#seq + calls.length) >>> 0;
    const bytes = encodeRequests(calls.map((c) => c.req), seq0);
    if (bytes.length > RECV_MAX) throw new RangeError(`netlink batch of ${bytes.length} bytes; the limit is ${RECV_MAX}`);
    const b = takeBlock();
    try {
      b.u8.set(bytes, DATA);
      await this.#send(b, bytes.length, calls);
      return await this.#receive(b, seq0, calls);
    } finally { giveBack(b); }
  }

  #send(b: Scratch, len: number, calls: readonly Call[]): Promise<void> {
    const fd = this.#fd;
    const sent = (n: number) => {
      if (n !== len) throw new Error(`netlink write sent ${n} of ${len} bytes`);
    };
    return new Promise((resolve, reject) => {
      libc.write.async(fd, b.addr + BigInt(DATA), len, (err: unknown, r: number | bigint) => {
        if (err) return reject(err);
        try {
          if (Number(r) >= 0) return resolve(sent(Number(r)));
          // A write the kernel refused delivered nothing. errno stayed on the thread that made the
          // call, so write again here to learn it (it fails at once the same way, or goes through).
          const again = Number(libc.write(fd, b.addr + BigInt(DATA), len));
          if (again < 0) throw new SysError('write', errno(), `netlink ${calls[0]!.what}${calls.length > 1 ? ` and ${calls.length - 1} more` : ''} (${this.where})`);
          resolve(sent(again));
        } catch (e) { reject(e); }
      });
    });
  }

  async #receive(b: Scratch, seq0: number, calls: readonly Call[]): Promise<Answer[]> {
    const answers: Answer[] = calls.map(() => ({ messages: [] }));
    const done = calls.map(() => false);
    let left = calls.length;
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (left > 0) {
      const n = this.#recv(b);
      if (n === 'again') {
        if (Date.now() > deadline) throw new Error(`netlink: no answer to ${calls.find((_, i) => !done[i])!.what} (${this.where}) within ${ANSWER_TIMEOUT_MS / 1000} s`);
        await this.#readable(deadline);
        continue;
      }
      if (n === 'foreign') continue;
      for (const m of decodeMessages(b.u8.subarray(DATA, DATA + n))) {
        const i = (m.seq - seq0) >>> 0;
        if (i >= calls.length || done[i]) continue; // a late answer to an abandoned batch
        const a = answers[i]!, { req, what } = calls[i]!;
        const bad = (why: string) => new NetlinkDecodeError(`${what} (${this.where}): ${why}`);
        switch (m.type) {
          case NL.NLMSG_ERROR: {
            const ack = decodeAck(m.payload, m.flags);
            if (ack.request.seq !== m.seq || ack.request.type !== req.type) {
              throw bad(`the ack echoes request ${ack.request.type} #${ack.request.seq}, not ${req.type} #${m.seq}`);
            }
            if (ack.error > 0) throw bad(`NLMSG_ERROR with a positive error ${ack.error}`);
            if (ack.error !== 0) a.error = new NetlinkError(what, -ack.error, ack.message);
            done[i] = true; left--;
            break;
          }
          case NL.NLMSG_DONE: {
            if ((req.flags & NL.NLM_F_DUMP) !== NL.NLM_F_DUMP) throw bad('NLMSG_DONE answers a request that is not a dump');
            // Its payload is the dump's int error, then extended-ack TLVs.
            const err = m.payload.length >= 4 ? new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(0, true) : 0;
            if (err !== 0) a.error = new NetlinkError(what, -err, m.flags & NL.NLM_F_ACK_TLVS ? extAck(m.payload, 4).message : undefined);
            done[i] = true; left--;
            break;
          }
          case NL.NLMSG_NOOP: break;
          case NL.NLMSG_OVERRUN: throw new NetlinkError(`${what} (${this.where}): NLMSG_OVERRUN`, C.ENOBUFS);
          default: {
            const want = answerType(req);
            if (m.type !== want) throw bad(`answered with message type ${m.type}, expected ${want === undefined ? 'only an ack' : want}`);
            if (m.flags & NL.NLM_F_DUMP_INTR) a.error ??= new NetlinkError(`${what}: the dump was interrupted by a change`, 4);
            // Copied: the block is reused by the next read.
            a.messages.push({ ...m, payload: m.payload.slice() });
            // A GET of one object is answered by it and then its ack; a dump by parts and NLMSG_DONE.
          }
        }
      }
    }
    return answers;
  }

  /** One datagram into the block: its length, 'again' when none is queued, 'foreign' when it did not come from the kernel. */
  #recv(b: Scratch): number | 'again' | 'foreign' {
    const dv = b.dv;
    dv.setBigUint64(MSGHDR + 0, b.addr + BigInt(ADDR), true); // msg_name: struct sockaddr_nl
    dv.setUint32(MSGHDR + 8, STRUCTS.sockaddr_nl.size, true);
    dv.setBigUint64(MSGHDR + 16, b.addr + BigInt(IOVEC), true);
    dv.setBigUint64(MSGHDR + 24, 1n, true);
    dv.setBigUint64(MSGHDR + 32, 0n, true);
    dv.setBigUint64(MSGHDR + 40, 0n, true);
    dv.setUint32(MSGHDR + 48, 0, true);
    dv.setBigUint64(IOVEC + 0, b.addr + BigInt(DATA), true);
    dv.setBigUint64(IOVEC + 8, BigInt(RECV_MAX), true);
    const n = Number(libc.recvmsg(this.#fd, b.addr + BigInt(MSGHDR), C.MSG_DONTWAIT));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN) return 'again';
      // ENOBUFS: the kernel dropped answers because the receive buffer was full.
      throw new SysError('recvmsg', e, `netlink (${this.where})${e === C.ENOBUFS ? ': answers were lost, the receive buffer overflowed' : ''}`);
    }
    if (dv.getUint32(MSGHDR + 48, true) & C.MSG_TRUNC) throw new Error(`netlink (${this.where}): a datagram was longer than ${RECV_MAX} bytes`);
    if (readStruct(dv, ADDR, 'sockaddr_nl').nl_pid !== 0) return 'foreign'; // 0: the kernel

    return n;
  }

  #readable(deadline: number): Promise<void> {
    const fd = this.#fd;
    return new Promise((resolve) => {
      const reactor = Reactor.get();
      const finish = () => { clearTimeout(timer); reactor.unwatch(fd); resolve(); };
      const timer = setTimeout(finish, Math.max(0, deadline - Date.now()) + 1);
      reactor.watch(fd, finish);
    });
  }
}
