// One control connection: a non-blocking SOCK_SEQPACKET fd watched by the Reactor. It decodes
// each message and hands it, with the fds that came with it, to the session that owns it.
import {
  Reactor, receiveMessage, sendMessage, closeFd, discardFds, SysError,
} from '../../sys/index.js';
import { decodeMsg, encodeMsg, MemifProtocolError } from './messages.js';
import { fault, MemifErrorCode, MsgType, type MemifFault, type MemifMsg } from '../wire.js';

export interface ChannelHandler {
  /** A decoded message; the handler owns `fds` (close what it does not keep). */
  message(msg: MemifMsg, fds: number[]): void;
  /** A message that could not be decoded: the session disconnects with this fault. */
  malformed(f: MemifFault): void;
  /** The peer closed the socket or it failed. */
  closed(f: MemifFault): void;
}

export class ControlChannel {
  readonly fd: number;
  #open = true;
  #handler: ChannelHandler;

  constructor(fd: number, handler: ChannelHandler) {
    this.fd = fd;
    this.#handler = handler;
    Reactor.get().watch(fd, () => this.#readable());
  }

  get open(): boolean {
    return this.#open;
  }

  setHandler(h: ChannelHandler): void {
    this.#handler = h;
  }

  #readable(): void {
    // Drain everything waiting; stop as soon as a handler closed us.
    while (this.#open) {
      let r;
      try {
        r = receiveMessage(this.fd, 256);
      } catch (e) {
        this.#closedBy(fault(MemifErrorCode.SYSCALL, e instanceof SysError ? `control socket error: ${e.code}` : String(e)));
        return;
      }
      if (r === 'again') return;
      if (r === 'eof') { this.#closedBy(fault(MemifErrorCode.DISCONNECTED)); return; }
      let msg: MemifMsg;
      try {
        if (r.fdsTruncated) throw new MemifProtocolError('too many fds in one message');
        msg = decodeMsg(r.data, r.length);
      } catch (e) {
        discardFds(r);
        this.#handler.malformed(e instanceof MemifProtocolError ? fault(e.code, e.message) : fault(MemifErrorCode.INTERNAL, String(e)));
        continue;
      }
      this.#handler.message(msg, r.fds);
    }
  }

  #closedBy(f: MemifFault): void {
    if (!this.#open) return;
    this.close();
    this.#handler.closed(f);
  }

  /** Sends one message. Returns false if it could not be sent (the channel is then closed). */
  send(msg: MemifMsg, fds: readonly number[] = []): boolean {
    if (!this.#open) return false;
    try {
      if (sendMessage(this.fd, encodeMsg(msg), fds)) return true;
      this.#closedBy(fault(MemifErrorCode.SYSCALL, 'control socket send buffer full: peer is not reading'));
    } catch (e) {
      this.#closedBy(fault(MemifErrorCode.SYSCALL, e instanceof SysError ? `control socket send failed: ${e.code}` : String(e)));
    }
    return false;
  }

  /** Sends DISCONNECT with the fault's code and reason (best effort) and closes. A failed send (the
   *  peer has gone already) is not reported as the end's cause: the caller's fault is. */
  disconnect(f: MemifFault): void {
    if (!this.#open) return;
    try {
      sendMessage(this.fd, encodeMsg({ type: MsgType.DISCONNECT, code: f.code, reason: f.reason }), []);
    } catch { /* peer gone: nobody left to tell */ }
    this.close();
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    Reactor.get().unwatch(this.fd);
    closeFd(this.fd);
  }
}

