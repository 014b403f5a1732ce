// The agent's two CNI listeners: a unix stream socket (mode 0600) where each connection carries
// one AgentRequest line from the Node tsvpp-cni and gets one AgentResponse line back, and the
// loopback TCP port the bash tsvpp-cni shim hands whole invocations to (invocation.ts).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LineReader, decodeRequest, encodeLine, type AgentRequest, type AgentResponse } from '../agent-protocol.cjs';
import { CNI_VERSION, CniError, ErrorCode, type CniResult } from '../spec.cjs';
import { InvocationReader, encodeAnswer, rendezvousPath, type Invocation, type InvocationAnswer, type InvocationError } from '../invocation.js';
import { writeFileAtomic } from '../atomic-file.js';
import { agentRequest, runCni } from '../cni-main.cjs';
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

/** The handler's result or error as the agent answers it, on either listener. */
export function answerRequest(handler: RequestHandler, req: AgentRequest, log: (msg: string) => void): Promise<AgentResponse> {
  return handler(req).then(
    (result): AgentResponse => (result ? { ok: true, result } : { ok: true }),
    (e: unknown): AgentResponse => {
      const err = e instanceof CniError ? e : new CniError(ErrorCode.Internal, 'internal agent error', (e as Error)?.stack ?? String(e));
      // STATUS logs a change of its answer itself (a runtime asks it every few seconds).
      if (req.command !== 'STATUS') log(`${req.command} ${req.containerId}: error ${err.code} ${err.message}`);
      return { ok: false, error: { code: err.code, msg: err.msg, ...(err.details !== undefined ? { details: err.details } : {}) } };
    },
  );
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
      void answerRequest(o.handler, req, log).then(reply);
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

/** A connection has this long to send its whole invocation (a stranger cannot hold one open). */
const INVOCATION_READ_MS = 10_000;
/** Connections served at once on the loopback port (pods a node starts at once, with room). */
export const MAX_INVOCATION_CONNECTIONS = 512;

export interface InvocationServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The tsvpp-cni shim's listener (invocation.ts): 127.0.0.1 on a port the kernel picks, announced
 * with a fresh token and proof in the rendezvous file (0600; only root, as kubelet and containerd
 * run CNI plugins, can read it). Each connection carries one invocation. The file goes first on close, so a shim that starts then hands over to the
 * Node tsvpp-cni instead of connecting. The answer is runCni's, with the request handed to the
 * handler directly: the same checks, results and errors as over the unix socket.
 */
export async function startInvocationServer(o: {
  /** The agent's unix socket: the rendezvous file is beside it (rendezvousPath). */
  cniSocket: string;
  handler: RequestHandler;
  log?: (msg: string) => void;
}): Promise<InvocationServer> {
  const log = o.log ?? (() => {});
  const rendezvous = rendezvousPath(o.cniSocket);
  const run = async (inv: Invocation): Promise<InvocationAnswer> => {
    let stdout = '', stderr = '';
    const io = { env: inv.env, stdin: inv.stdin, stdout: (s: string) => { stdout += s; }, stderr: (s: string) => { stderr += s; } };
    const code = await runCni(io, (_socket, req) => answerRequest(o.handler, agentRequest(req), log));
    return { code, stdout, stderr };
  };
  const token = randomBytes(32).toString('hex'), proof = randomBytes(32).toString('hex');
  const server = createServer((sock) => {
    const reader = new InvocationReader(Buffer.from(token, 'latin1'));
    let taken = false;
    const timer = setTimeout(() => { log(`cni tcp: a connection sent no complete invocation within ${INVOCATION_READ_MS} ms`); sock.destroy(); }, INVOCATION_READ_MS);
    timer.unref();
    sock.on('error', (e) => log(`cni tcp connection: ${e.message}`));
    sock.on('close', () => clearTimeout(timer));
    sock.on('data', (chunk: Buffer) => {
      if (taken) return;
      let inv: Invocation | undefined;
      try { inv = reader.push(chunk); } catch (e) {
        taken = true;
        clearTimeout(timer);
        const err = e as InvocationError;
        log(`cni tcp: refused a connection: ${err.message}`);
        if (err.tokenRefused) { sock.destroy(); return; }
        // The token was right: the shim is ours and prints this.
        const res = new CniError(ErrorCode.DecodeFailure, 'tsvpp agent: bad request from tsvpp-cni', err.message).toResult(CNI_VERSION);
        sock.end(encodeAnswer(proof, { code: 1, stdout: JSON.stringify(res) + '\n', stderr: `tsvpp-cni: ${err.message}\n` }));
        return;
      }
      if (!inv) return;
      taken = true;
      clearTimeout(timer);
      run(inv).then(
        (a) => { if (!sock.destroyed) sock.end(encodeAnswer(proof, a)); },
        (e: unknown) => { log(`cni tcp: answering failed: ${(e as Error)?.stack ?? String(e)}`); sock.destroy(); },
      );
    });
  });
  // Any local process can connect: beyond this many at once, connections are closed unread and
  // a shim among them hands its call to the Node tsvpp-cni (the unix socket), as for an agent away.
  server.maxConnections = MAX_INVOCATION_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  try {
    await mkdir(dirname(rendezvous), { recursive: true, mode: 0o755 });
    await writeFileAtomic(rendezvous, `${port} ${token} ${proof}\n`, { cached: true });
  } catch (e) {
    server.close();
    throw e;
  }
  return {
    port,
    async close() {
      // Unless another agent has written its own meanwhile (a restart that overlapped this one).
      if ((await readFile(rendezvous, 'latin1').catch(() => '')).includes(token)) await rm(rendezvous, { force: true });
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
