// Wire protocol between tsvpp-cni and the node agent over a unix stream socket: the client writes
// one JSON line (AgentRequest) and reads one JSON line (AgentResponse), then both sides close.
// Dependency-free on purpose: tsvpp-cni imports this.
import { CNI_COMMANDS, type CniCommand, type CniRequest, type CniResult } from './spec.cjs';

export const AGENT_PROTOCOL_VERSION = 1;
export const DEFAULT_AGENT_SOCKET = '/run/tsvpp/cni.sock';
/** The agent's state dir, where tsvpp-cni records DELs the agent could not take (pending-del.ts). */
export const DEFAULT_AGENT_STATE_DIR = '/var/lib/tsvpp';
/** A request or response line longer than this is refused (a conflist plus prevResult fits easily). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** The commands the agent serves: every CNI command but VERSION, which tsvpp-cni answers itself. */
export const AGENT_COMMANDS = CNI_COMMANDS.filter((c): c is AgentRequest['command'] => c !== 'VERSION');

/** A CNI request as tsvpp-cni parsed it; VERSION never reaches the agent. */
export interface AgentRequest extends Omit<CniRequest, 'command'> {
  v: typeof AGENT_PROTOCOL_VERSION;
  command: Exclude<CniCommand, 'VERSION'>;
}

export type AgentResponse =
  | { ok: true; result?: CniResult }
  | { ok: false; error: { code: number; msg: string; details?: string } };

export function encodeLine(msg: AgentRequest | AgentResponse): string {
  return JSON.stringify(msg) + '\n';
}

/**
 * Accumulates stream chunks and yields the first complete line; throws when a line exceeds
 * MAX_LINE_BYTES so a misbehaving peer cannot grow our memory without bound.
 */
export class LineReader {
  private buf = '';
  push(chunk: string): string | undefined {
    this.buf += chunk;
    const nl = this.buf.indexOf('\n');
    if (nl >= 0) return this.buf.slice(0, nl);
    if (this.buf.length > MAX_LINE_BYTES) throw new Error(`protocol line longer than ${MAX_LINE_BYTES} bytes`);
    return undefined;
  }
  rest(): string { return this.buf; }
}

/** Validates the shape of a request line from an untrusted peer. */
export function decodeRequest(line: string): AgentRequest {
  const m = JSON.parse(line) as Partial<AgentRequest>;
  if (typeof m !== 'object' || m === null) throw new Error('request is not a JSON object');
  if (m.v !== AGENT_PROTOCOL_VERSION) throw new Error(`unsupported protocol version ${JSON.stringify(m.v)} (expected ${AGENT_PROTOCOL_VERSION})`);
  if (!(AGENT_COMMANDS as readonly unknown[]).includes(m.command)) throw new Error(`unknown command ${JSON.stringify(m.command)}`);
  if (typeof m.containerId !== 'string' || typeof m.ifName !== 'string') throw new Error('containerId and ifName must be strings');
  if (m.netns !== undefined && typeof m.netns !== 'string') throw new Error('netns must be a string');
  if (typeof m.args !== 'object' || m.args === null) throw new Error('args must be an object');
  if (typeof m.config !== 'object' || m.config === null) throw new Error('config must be an object');
  return m as AgentRequest;
}

export function decodeResponse(line: string): AgentResponse {
  const m = JSON.parse(line) as AgentResponse;
  if (typeof m !== 'object' || m === null || typeof m.ok !== 'boolean') throw new Error('response is not an agent response object');
  if (!m.ok && (typeof m.error !== 'object' || typeof m.error.code !== 'number' || typeof m.error.msg !== 'string')) {
    throw new Error('error response without code/msg');
  }
  return m;
}
