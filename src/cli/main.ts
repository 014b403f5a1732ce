#!/usr/bin/env node
// The `tsvpp` command: picks a subcommand and hands it the rest of the arguments. Each
// subcommand module is imported only when used, so `tsvpp memif echo` does not load the VPP codec.
import { UsageError } from '../flags.js';

const usage = `usage: tsvpp <command> [flags]

commands:
  perf                  memif throughput: tsvpp against tsvpp, DPDK testpmd or any echoing peer
  memif echo            a memif endpoint that sends every packet back (MAC swapped)
  api call              send one VPP API message and print the reply
  api vectors           check VPP API codec test vectors (.jsonl)
  api gen               generate TypeScript bindings from .api.json files
  fuzz TARGET           fuzz a codec: memif-msg, memif-ring, vppapi, cni-annotations, cni-invocation
  soak SCENARIO         soak and fault scenarios (cycles, kill -9, long traffic, pods, VPP restart)
  agent                 the CNI node agent
  memif-agent           pod side: memif slaves configured from etcd (microservice label)
  help                  this text

'tsvpp <command> --help' describes a command's flags.`;

type Main = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Main>> = {
  'perf': async () => (await import('./perf.js')).main,
  'memif echo': async () => (await import('./memif-echo.js')).main,
  'api call': async () => (await import('./api-call.js')).callMain,
  'api vectors': async () => (await import('./api-codec.js')).vectorsMain,
  'api gen': async () => (await import('./api-codec.js')).genMain,
  'fuzz': async () => (await import('./fuzz.js')).main,
  'soak': async () => (await import('./soak.js')).main,
  'agent': async () => (await import('./cni.js')).agentMain,
  'memif-agent': async () => (await import('./memif-agent.js')).main,
};

const isHelp = (a: string | undefined) => a === '--help' || a === '-h';

async function run(argv: string[]): Promise<number> {
  const [a, b] = argv;
  if (!a || a === 'help' || isHelp(a)) {
    // `tsvpp help perf` is `tsvpp perf --help`
    if (a === 'help' && b && !isHelp(b)) return run([...argv.slice(1), '--help']);
    console.log(usage);
    return a ? 0 : 2;
  }
  const two = `${a} ${b ?? ''}`;
  const key = commands[two] ? two : commands[a] ? a : null;
  if (!key) {
    // A command group (`tsvpp api`, `tsvpp memif`): its lines of the usage.
    const group = usage.split('\n').filter((l) => l.startsWith(`  ${a} `));
    if (group.length && (b === undefined || isHelp(b))) {
      (b ? console.log : console.error)(`usage: tsvpp ${a} <command> [flags]\n\ncommands:\n${group.join('\n')}\n\n'tsvpp ${a} <command> --help' describes a command's flags.`);
      return b ? 0 : 2;
    }
    console.error(`tsvpp: unknown command '${[a, b].filter(Boolean).join(' ')}'\n\n${usage}`);
    return 2;
  }
  const main = await commands[key]!();
  return main(argv.slice(key.split(' ').length));
}

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`tsvpp: ${e.message}`);
      process.exitCode = 2;
    } else {
      console.error(`tsvpp: ${e instanceof Error ? e.message : String(e)}`);
      if (process.env.TSVPP_DEBUG) console.error(e);
      process.exitCode = 1;
    }
  },
);
