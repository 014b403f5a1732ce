// The tsvpp-cni shim's wire format: a CNI invocation (its CNI_* environment and stdin) carried as
// it is to the node agent over loopback TCP, and the agent's answer (exit code, stdout, stderr).
// The shim is a bash script (tsvppCniShim below): kubelet and containerd start the CNI executable
// for every pod ADD and DEL, and bash with its /dev/tcp starts in ~3 ms where Node takes 30-40.
// bash cannot open a unix socket, hence TCP on 127.0.0.1 with two secrets only root can read:
// the token the shim shows the agent, and the proof the agent shows the shim. The proof is never
// sent to whoever listens on the port, so a process that took the port of an agent that died
// learns the token (useless: the next agent makes new ones) but cannot answer as the agent.
//
// Request, bytes as bash writes them (LC_ALL=C, so lengths are byte counts):
//   tsvpp-cni 1 <token>\n
//   <stdin length>\n
//   NAME=value\n            one line per CNI_* variable that is set (INVOCATION_ENV, any order)
//   \n
//   <stdin>
// Answer: "<proof> <exit code> <stdout length> <stderr length>\n<stdout><stderr>", then the agent closes.
import { timingSafeEqual } from 'node:crypto';
import { STATUS_TIMEOUT_MS, UNANSWERED_ENV } from './cni-main.cjs';
import { AGENT_COMMANDS } from './agent-protocol.cjs';

export const INVOCATION_MAGIC = 'tsvpp-cni';
export const INVOCATION_VERSION = 1;
/** The environment the shim forwards: what the CNI spec gives a plugin, nothing of the runtime's own. */
export const INVOCATION_ENV = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'] as const;
/** Larger requests are refused (the agent socket's line limit: a conflist plus prevResult fits easily). */
export const MAX_INVOCATION_BYTES = 4 * 1024 * 1024;
/** The rendezvous file beside the agent's unix socket: "<port> <token> <proof>\n", mode 0600. */
export function rendezvousPath(cniSocket: string): string {
  return `${cniSocket}.tcp`;
}

export interface Invocation {
  env: Record<string, string>;
  stdin: string;
}

export class InvocationError extends Error {
  constructor(msg: string, readonly tokenRefused = false) { super(msg); this.name = 'InvocationError'; }
}

const HEADER_LIMIT = 64 * 1024;

/**
 * Reads one invocation from a connection's chunks. push() returns the invocation once it is
 * complete, undefined while it is not, and throws InvocationError on anything malformed: a wrong
 * token before any of the rest is looked at.
 */
export class InvocationReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private header?: { env: Record<string, string>; stdinLength: number; bodyStart: number };

  constructor(private readonly token: Buffer) {}

  push(chunk: Buffer): Invocation | undefined {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (!this.header) {
      // Joined while the header is incomplete (at most HEADER_LIMIT); stdin's chunks only once it is all there.
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
      this.chunks = [buf];
      this.header = this.parseHeader(buf);
      if (!this.header) {
        if (buf.length > HEADER_LIMIT) throw new InvocationError(`no complete header in the first ${HEADER_LIMIT} bytes`);
        return undefined;
      }
    }
    const { env, stdinLength, bodyStart } = this.header;
    const have = this.size - bodyStart;
    if (have > stdinLength) throw new InvocationError(`${have} bytes of stdin where the header said ${stdinLength}`);
    if (have < stdinLength) return undefined;
    return { env, stdin: Buffer.concat(this.chunks, this.size).toString('utf8', bodyStart) };
  }

  private parseHeader(buf: Buffer): { env: Record<string, string>; stdinLength: number; bodyStart: number } | undefined {
    const first = buf.indexOf(10);
    if (first < 0) {
      // A peer that has not sent the token yet: check what it did send, so a stranger learns nothing by waiting.
      const seen = buf.toString('latin1');
      const want = `${INVOCATION_MAGIC} `;
      if (!want.startsWith(seen.slice(0, want.length))) throw new InvocationError(`not a ${INVOCATION_MAGIC} request`);
      return undefined;
    }
    const hello = buf.toString('latin1', 0, first).split(' ');
    if (hello.length !== 3 || hello[0] !== INVOCATION_MAGIC) throw new InvocationError(`not a ${INVOCATION_MAGIC} request`);
    if (hello[1] !== String(INVOCATION_VERSION)) throw new InvocationError(`protocol version ${JSON.stringify(hello[1])} (this agent speaks ${INVOCATION_VERSION}): the shim and the agent are from different releases`);
    const given = Buffer.from(hello[2], 'latin1');
    if (given.length !== this.token.length || !timingSafeEqual(given, this.token)) throw new InvocationError('wrong token', true);
    // The token is good: the rest is the shim's, up to the empty line.
    const end = buf.indexOf('\n\n', first);
    if (end < 0) return undefined;
    const lines = buf.toString('utf8', first + 1, end).split('\n');
    const lengthLine = lines.shift()!;
    if (!/^\d{1,8}$/.test(lengthLine)) throw new InvocationError(`stdin length ${JSON.stringify(lengthLine)} is not a number`);
    const stdinLength = Number(lengthLine);
    if (stdinLength > MAX_INVOCATION_BYTES) throw new InvocationError(`stdin of ${stdinLength} bytes is over the limit of ${MAX_INVOCATION_BYTES}`);
    const env: Record<string, string> = {};
    for (const line of lines) {
      const eq = line.indexOf('=');
      const name = line.slice(0, eq);
      if (eq <= 0 || !(INVOCATION_ENV as readonly string[]).includes(name)) throw new InvocationError(`environment line ${JSON.stringify(line.slice(0, 80))} is not one of ${INVOCATION_ENV.join(', ')}`);
      if (name in env) throw new InvocationError(`${name} given twice`);
      env[name] = line.slice(eq + 1);
    }
    return { env, stdinLength, bodyStart: end + 2 };
  }
}

export interface InvocationAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

export function encodeAnswer(proof: string, a: InvocationAnswer): Buffer {
  const out = Buffer.from(a.stdout, 'utf8');
  const err = Buffer.from(a.stderr, 'utf8');
  return Buffer.concat([Buffer.from(`${proof} ${a.code} ${out.length} ${err.length}\n`, 'latin1'), out, err]);
}

/** What the shim writes on stderr, after its reason, when it hands a call to the Node tsvpp-cni. */
export const HANDOVER_MARK = 'handed to the Node tsvpp-cni';

export interface ShimPaths {
  /** The agent's unix socket (its cniSocket): the rendezvous file is beside it. */
  cniSocket: string;
  /** The Node tsvpp-cni the shim hands an invocation to when the agent cannot take it over TCP. */
  node: string;
  cniMain: string;
}

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The tsvpp-cni executable: the fast path over TCP, and the Node tsvpp-cni for the rest — VERSION,
 * an agent that is not listening, closed the connection unanswered or answered without the proof
 * (it asks the unix socket, and records a DEL the agent cannot take), and an agent that took the
 * invocation and gave no answer within the conflist's timeoutSeconds (told so: it does not wait a
 * second time).
 */
export function tsvppCniShim(p: ShimPaths): string {
  const rendezvous = rendezvousPath(p.cniSocket);
  const node = `unset NODE_OPTIONS NODE_EXTRA_CA_CERTS; exec ${quote(p.node)} ${quote(p.cniMain)}`;
  return `#!/bin/sh
# tsvpp-cni, written by \`tsvpp agent shim\` (src/cni/invocation.ts). Hands this CNI invocation
# to the tsvpp agent over loopback TCP and prints its answer; the Node tsvpp-cni does the rest,
# and all of it on a host without bash. None of the host's Node settings: a NODE_OPTIONS --require
# would run in every call, and NODE_EXTRA_CA_CERTS is parsed at every Node start (~55 ms).
[ -n "$BASH_VERSION" ] || { [ -x /bin/bash ] && exec /bin/bash "$0" "$@"; ${node}; }
export LC_ALL=C
trap '' PIPE # an agent that closes the connection early: a failed write, not a killed shim
handover() {
  exec 3>&-
  [[ -n $1 ]] && printf 'tsvpp-cni: %s: ${HANDOVER_MARK}\\n' "$1" >&2
  [[ -n $2 ]] && export ${UNANSWERED_ENV}="$1"
  ${node} <<<"$stdin"
}
case $CNI_COMMAND in
  ${AGENT_COMMANDS.join('|')}) ;;
  *) ${node} ;;
esac
IFS= read -r -d '' stdin
{ read -r port token proof < ${quote(rendezvous)}; } 2>/dev/null || handover ${quote(`no ${rendezvous} (the agent is not running)`)}
[[ $port =~ ^[0-9]+$ && $token =~ ^[0-9a-f]+$ && $proof =~ ^[0-9a-f]+$ ]] || handover ${quote(`${rendezvous} is not "<port> <token> <proof>"`)}
req="${INVOCATION_MAGIC} ${INVOCATION_VERSION} $token"$'\\n'"\${#stdin}"$'\\n'
for v in ${INVOCATION_ENV.join(' ')}; do
  [[ -v $v ]] || continue
  [[ \${!v} == *$'\\n'* ]] && handover "$v has a newline"
  req+="$v=\${!v}"$'\\n'
done
{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || handover "nothing listens on 127.0.0.1:$port"
printf '%s\\n%s' "$req" "$stdin" >&3 2>/dev/null || handover "sending to the tsvpp agent on 127.0.0.1:$port failed"
wait=120
[[ $stdin =~ \\"timeoutSeconds\\"[[:space:]]*:[[:space:]]*([0-9]+) ]] && wait=\${BASH_REMATCH[1]}
[[ $CNI_COMMAND == STATUS ]] && (( wait > ${STATUS_TIMEOUT_MS / 1000} )) && wait=${STATUS_TIMEOUT_MS / 1000}
IFS=' ' read -r -t "$wait" shown code olen elen <&3 || {
  (( $? > 128 )) && handover "no answer from the tsvpp agent on 127.0.0.1:$port within $wait s" unanswered
  handover "the tsvpp agent on 127.0.0.1:$port closed the connection without an answer"
}
[[ $shown == "$proof" ]] || handover "what answered on 127.0.0.1:$port is not the tsvpp agent (no proof)"
[[ $code =~ ^[0-9]+$ && $olen =~ ^[0-9]+$ && $elen =~ ^[0-9]+$ ]] || handover "the tsvpp agent on 127.0.0.1:$port answered \"$code $olen $elen\", not a tsvpp-cni answer"
out= err=
(( olen == 0 )) || IFS= read -r -N "$olen" -t "$wait" out <&3
(( elen == 0 )) || IFS= read -r -N "$elen" -t "$wait" err <&3
(( \${#out} == olen && \${#err} == elen )) || handover "the tsvpp agent's answer on 127.0.0.1:$port was cut short"
printf '%s' "$out"
printf '%s' "$err" >&2
exit "$code"
`;
}
