// The agent's CNI socket: a unix stream socket (mode 0600) where each connection carries one
// AgentRequest line and gets one AgentResponse line back.
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LineReader, decodeRequest, encodeLine, type AgentRequest, type AgentResponse } from '../agent-protocol.cjs';
import { CniError, ErrorCode, type CniResult } from '../spec.cjs';
import { peerCredentials, type PeerCredentials } from '../../sys/index.js';

export type RequestHandler = (req: AgentRequest) => Promise<CniResult | undefined>;

export interface PeerCheck { ok: boolean; reason?: string }

/**
 * Who may talk to the agent: only uid 0 (kubelet/containerd run tsvpp-cni as root). The socket's
 * 0600 root-owned mode already stops others at connect(); SO_PEERCRED checks it again per
 * connection, so a socket whose mode was loosened (or a bind-mount into a container) still
 * admits only `allowedUid`. Fails closed: credentials that cannot be read reject the peer.
 */
export function checkPeer(sock: Socket, allowedUid = 0): PeerCheck {
  // node keeps the connection's fd on its libuv handle; there is no public accessor.
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return { ok: false, reason: 'cannot read the peer\'s credentials: the connection has no fd' };
  let cred: PeerCredentials;
  try {
    cred = peerCredentials(fd);
  } catch (e) {
    return { ok: false, reason: `cannot read the peer's credentials: ${(e as Error).message}` };
  }
  if (cred.uid !== allowedUid) {
    return { ok: false, reason: `peer uid ${cred.uid} (pid ${cred.pid}) may not use the agent socket: only uid ${allowedUid} may` };
  }
  return { ok: true };
}

export interface CniServerOptions {
  socketPath: string;
  handler: RequestHandler;
  log?: (msg: string) => void;
  /** The uid the default peer check admits (0; tests running unprivileged set their own). */
  allowedUid?: number;
  peerCheck?: (sock: Socket) => PeerCheck;
}

export async function startCniServer(o: CniServerOptions): Promise<Server> {
  const log = o.log ?? (() => {});
  const peerCheck = o.peerCheck ?? ((sock: Socket) => checkPeer(sock, o.allowedUid ?? 0));
  await mkdir(dirname(o.socketPath), { recursive: true, mode: 0o755 });
  await rm(o.socketPath, { force: true }); // stale socket from a previous run
  const server = createServer((sock) => {
    const who = peerCheck(sock);
    const reply = (res: AgentResponse) => { if (!sock.destroyed) sock.end(encodeLine(res)); };
    if (!who.ok) {
      log(`cni socket: refused a connection: ${who.reason ?? 'peer not allowed'}`);
      // Discard what a refused peer sends (unread, its end would never be seen and the connection
      // and its fd would stay), answer, and cut it off if it has not closed a second later.
      sock.on('error', () => sock.destroy());
      sock.resume();
      reply({ ok: false, error: { code: ErrorCode.InvalidEnvironment, msg: 'permission denied', details: who.reason ?? 'peer not allowed' } });
      setTimeout(() => sock.destroy(), 1000).unref();
      return;
    }
    sock.setEncoding('utf8');
    const reader = new LineReader();
    let handled = false;
    sock.on('data', (chunk: string) => {
      if (handled) return;
      let line: string | undefined;
      try { line = reader.push(chunk); } catch (e) {
        handled = true;
        reply({ ok: false, error: { code: ErrorCode.DecodeFailure, msg: 'bad request', details: (e as Error).message } });
        return;
      }
      if (line === undefined) return;
      handled = true;
      let req: AgentRequest;
      try { req = decodeRequest(line); } catch (e) {
        reply({ ok: false, error: { code: ErrorCode.DecodeFailure, msg: 'bad request', details: (e as Error).message } });
        return;
      }
      o.handler(req).then(
        (result) => reply(result ? { ok: true, result } : { ok: true }),
        (e: unknown) => {
          const err = e instanceof CniError ? e : new CniError(ErrorCode.Internal, 'internal agent error', (e as Error)?.stack ?? String(e));
          log(`${req.command} ${req.containerId}: error ${err.code} ${err.message}`);
          reply({ ok: false, error: { code: err.code, msg: err.msg, ...(err.details !== undefined ? { details: err.details } : {}) } });
        },
      );
    });
    sock.on('error', (e) => log(`cni socket connection: ${e.message}`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Restrictive umask window: the socket must never be connectable by others, not even briefly.
    const old = process.umask(0o177);
    try { server.listen(o.socketPath, () => { server.off('error', reject); resolve(); }); } finally { process.umask(old); }
  });
  await chmod(o.socketPath, 0o600);
  return server;
}
