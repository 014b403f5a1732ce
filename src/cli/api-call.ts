// `tsvpp api call [--socket PATH] [--api-dir DIR] [--timeout MS] MESSAGE ['{json}']`
//
// Sends one message to VPP and prints the answer in the codec's JSON form (u8 arrays and
// addresses as hex, u64 as decimal strings): a reply as one JSON document; a *_dump as one JSON
// line per details message; a cursor stream (*_get with stream_msg) as one line per details
// followed by the final reply. Exit codes: 0 ok, 1 VPP/API error, 2 usage, 3 no VPP.
import { VppClient, VppConnectError, DEFAULT_API_DIR, DEFAULT_API_SOCKET, loadApiRegistry } from '../vppapi/client/index.js';
import { serviceMap } from '../vppapi/client/registry.js';

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

const stdio: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

const USAGE = `usage: tsvpp api call [--socket PATH] [--api-dir DIR] [--timeout MS] MESSAGE ['{json}']
  --socket PATH   VPP API socket (default ${DEFAULT_API_SOCKET})
  --api-dir DIR   directory of .api.json files, searched recursively (default ${DEFAULT_API_DIR})
  --timeout MS    reply timeout (default 10000)
  MESSAGE         e.g. show_version, sw_interface_dump
  {json}          request fields in JSON form (hex strings for byte arrays and addresses)
`;

export async function callMain(argv: string[], io: CliIo = stdio): Promise<number> {
  let socket = DEFAULT_API_SOCKET;
  let apiDir = DEFAULT_API_DIR;
  let timeoutMs = 10_000;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string | undefined => argv[++i];
    if (a === '--socket') socket = val() ?? '';
    else if (a === '--api-dir') apiDir = val() ?? '';
    else if (a === '--timeout') timeoutMs = Number(val());
    else if (a === '-h' || a === '--help') { io.out(USAGE); return 0; }
    else if (a.startsWith('--')) { io.err(`unknown option ${a}\n${USAGE}`); return 2; }
    else rest.push(a);
  }
  if (rest.length < 1 || rest.length > 2 || !socket || !apiDir || !(timeoutMs > 0)) {
    io.err(USAGE);
    return 2;
  }
  const [name, jsonText] = rest as [string, string | undefined];

  let registry;
  try {
    registry = loadApiRegistry(apiDir);
  } catch (err) {
    io.err(`cannot load API definitions from ${apiDir}: ${(err as Error).message}\n`);
    return 2;
  }
  if (!registry.hasMessage(name)) {
    io.err(`unknown message ${name} (not in the definitions under ${apiDir})\n`);
    return 2;
  }
  let value: Record<string, unknown> = {};
  if (jsonText !== undefined) {
    try {
      value = registry.message(name).fromJson(JSON.parse(jsonText));
    } catch (err) {
      io.err(`bad request JSON for ${name}: ${(err as Error).message}\n`);
      return 2;
    }
  }

  let client: VppClient;
  try {
    client = await VppClient.connect({ socket, registry, timeoutMs, reconnect: false, name: 'tsvpp-cli' });
  } catch (err) {
    io.err(`${err instanceof VppConnectError ? err.message : `cannot connect to VPP at ${socket}: ${(err as Error).message}`}\n`);
    return 3;
  }
  try {
    const svc = serviceMap(registry).get(name);
    const line = (msg: string, v: unknown): void => io.out(JSON.stringify(registry.message(msg).toJson(v)) + '\n');
    if (name.endsWith('_dump') || (svc?.stream && !svc.stream_msg)) {
      const details = await client.dump(name, value);
      const detailsName = svc?.reply ?? name.replace(/_dump$/, '_details');
      for (const d of details) line(detailsName, d);
    } else if (svc?.stream_msg) {
      const { reply, details } = await client.stream(name, value);
      for (const d of details) line(svc.stream_msg, d);
      line(svc.reply, reply);
    } else {
      const reply = await client.request(name, value);
      io.out(JSON.stringify(registry.message(svc?.reply ?? `${name}_reply`).toJson(reply), null, 2) + '\n');
    }
    return 0;
  } catch (err) {
    io.err(`${(err as Error).message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}

/** Conventional entry point for the lead's src/cli/main.ts (`tsvpp api call ...`). */
export const main = callMain;
