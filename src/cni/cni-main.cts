#!/usr/bin/env node
// tsvpp-cni: the CNI plugin executable. Thin by design: it validates the CNI environment and
// stdin, answers VERSION itself, forwards ADD/DEL/CHECK and STATUS/GC to the node agent over its
// unix socket and prints the agent's answer. STATUS with no agent to ask is "not available" (50).
// A DEL the agent cannot take (not running, restarting, no answer) is
// recorded in the agent's state dir and reported as done: a runtime whose DEL fails keeps the
// sandbox and its netns (containerd: SANDBOX_UNKNOWN), and the agent carries it out when it starts.
// Imports only node: builtins and small dependency-free modules so that start-up stays fast (see
// perf/cni-start.ts). It and the modules it loads at every call (spec, agent-protocol, ifname) are
// CommonJS (.cts → .cjs): Node starts a CommonJS entry ~6-10 ms sooner than an ES module one (no
// ESM loader), and every pod ADD and DEL pays this start; the ES modules of the agent import them.
import { createConnection } from 'node:net';
import {
  CNI_VERSION, CniError, ErrorCode, parseCommand, parseRequest, resultForVersion, versionOf, versionResult,
  type CniRequest, type CniResult,
} from './spec.cjs';
import {
  AGENT_PROTOCOL_VERSION, DEFAULT_AGENT_SOCKET, DEFAULT_AGENT_STATE_DIR, LineReader, decodeResponse, encodeLine, type AgentRequest, type AgentResponse,
} from './agent-protocol.cjs';

export interface CniIo {
  env: NodeJS.ProcessEnv;
  stdin: string;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export function agentRequest(req: CniRequest): AgentRequest {
  const { command, containerId, netns, ifName, args, path, config } = req;
  if (command === 'VERSION') throw new Error('VERSION is answered locally');
  return { v: AGENT_PROTOCOL_VERSION, command, containerId, ifName, args, config, ...(netns ? { netns } : {}), ...(path ? { path } : {}) };
}

/** The longest STATUS waits for the agent (timeoutSeconds is for the pod requests). */
export const STATUS_TIMEOUT_MS = 10_000;

/** Errors of callAgent that mean the agent did not take the request (it may be down). */
const UNREACHABLE: ReadonlySet<number> = new Set([ErrorCode.TryAgainLater, ErrorCode.IoFailure]);

/** Sends one request to the agent and waits for its one-line answer. */
export function callAgent(socketPath: string, req: CniRequest, timeoutMs: number): Promise<AgentResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    const reader = new LineReader();
    let done = false;
    const finish = (err: Error | undefined, res?: AgentResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(res!);
    };
    const timer = setTimeout(() => finish(new CniError(ErrorCode.TryAgainLater, 'timed out waiting for the tsvpp agent', `no answer on ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      if (req.command === 'VERSION') return finish(new Error('VERSION is answered locally'));
      sock.write(encodeLine(agentRequest(req)));
    });
    sock.on('data', (chunk: string) => {
      try {
        const line = reader.push(chunk);
        if (line !== undefined) finish(undefined, decodeResponse(line));
      } catch (e) {
        finish(new CniError(ErrorCode.DecodeFailure, 'failed to decode the tsvpp agent answer', (e as Error).message));
      }
    });
    sock.on('end', () => finish(new CniError(ErrorCode.IoFailure, 'tsvpp agent closed the connection without an answer', socketPath)));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // Agent not (yet) running or restarting: the runtime should retry.
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EAGAIN') {
        finish(new CniError(ErrorCode.TryAgainLater, 'tsvpp agent is not reachable', `${socketPath}: ${e.code}`));
      } else {
        finish(new CniError(ErrorCode.IoFailure, 'talking to the tsvpp agent failed', `${socketPath}: ${e.message}`));
      }
    });
  });
}

/** How a request reaches the agent: its unix socket (this executable), or a direct call (the agent's loopback listener, invocation.ts). */
export type AgentCall = (socketPath: string, req: CniRequest, timeoutMs: number) => Promise<AgentResponse>;

/**
 * Set by the tsvpp-cni shim when it handed this invocation over after the agent took it on
 * loopback TCP and gave no answer: asking again would wait a second timeout, so a DEL is recorded
 * at once and an ADD fails with "try again later".
 */
export const UNANSWERED_ENV = 'TSVPP_CNI_UNANSWERED';

/** Runs one CNI invocation; returns the exit code. Separated from process I/O for tests. */
export async function runCni(io: CniIo, call: AgentCall = callAgent): Promise<number> {
  let cniVersion = versionOf(io.stdin);
  const fail = (e: unknown): number => {
    const err = e instanceof CniError ? e : new CniError(ErrorCode.Internal, 'internal error in tsvpp-cni', (e as Error)?.message ?? String(e));
    // Spec: error result structure; libcni reads it from stdout. Unstructured text goes to stderr.
    io.stdout(JSON.stringify(err.toResult(cniVersion)) + '\n');
    io.stderr(`tsvpp-cni: ${err.message}\n`);
    return 1;
  };
  try {
    const command = parseCommand(io.env);
    if (command === 'VERSION') {
      io.stdout(JSON.stringify(versionResult(io.stdin.trim() === '' ? CNI_VERSION : cniVersion)) + '\n');
      return 0;
    }
    const req = parseRequest(io.env, io.stdin);
    cniVersion = req.config.cniVersion;
    const socketPath = req.config.agentSocket ?? io.env.TSVPP_CNI_SOCKET ?? DEFAULT_AGENT_SOCKET;
    // STATUS is answered at once by a live agent; a runtime asks it with no deadline of its own.
    const timeoutMs = Math.min((req.config.timeoutSeconds ?? 120) * 1000, req.command === 'STATUS' ? STATUS_TIMEOUT_MS : Infinity);
    let res: AgentResponse;
    const unanswered = io.env[UNANSWERED_ENV];
    try {
      if (unanswered) throw new CniError(ErrorCode.TryAgainLater, 'the tsvpp agent gave no answer', unanswered);
      res = await call(socketPath, req, timeoutMs);
    } catch (e) {
      // STATUS: an agent that does not answer cannot serve ADDs either (spec: code 50).
      if (req.command === 'STATUS' && e instanceof CniError && (UNREACHABLE.has(e.code) || e.code === ErrorCode.DecodeFailure)) {
        throw new CniError(ErrorCode.NotAvailable, `tsvpp is not available: ${e.msg}`, e.details);
      }
      if (req.command !== 'DEL' || !(e instanceof CniError) || !UNREACHABLE.has(e.code)) throw e;
      const stateDir = req.config.agentStateDir ?? DEFAULT_AGENT_STATE_DIR;
      try {
        const { recordPendingDel } = await import('./pending-del.js');
        const file = await recordPendingDel(stateDir, agentRequest(req), e.message);
        io.stderr(`tsvpp-cni: ${e.message}; DEL recorded in ${file}, the agent carries it out when it starts\n`);
        return 0;
      } catch (w) {
        throw new CniError(e.code, e.msg, `${e.details ?? ''}; recording the DEL in ${stateDir} for the agent failed too: ${(w as Error).message}`);
      }
    }
    if (!res.ok) return fail(new CniError(res.error.code, res.error.msg, res.error.details));
    if (req.command === 'ADD') {
      const result: CniResult = res.result ?? { cniVersion };
      io.stdout(JSON.stringify(resultForVersion(result, cniVersion)) + '\n');
    }
    // DEL, CHECK, STATUS and GC print nothing on success.
    return 0;
  } catch (e) {
    return fail(e);
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    if (process.stdin.isTTY) return resolve('');
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function main(): Promise<void> {
  let stdin = '';
  let code: number;
  try {
    stdin = await readStdin();
    code = await runCni({ env: process.env, stdin, stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
  } catch (e) {
    process.stdout.write(JSON.stringify(new CniError(ErrorCode.IoFailure, 'failed to read stdin', (e as Error).message).toResult(versionOf(stdin))) + '\n');
    code = 1;
  }
  process.exitCode = code;
}

// Run only when executed (the bin entry), not when imported by tests.
if (require.main === module) void main();
