// The soak and fault scenarios, each listed once: `tsvpp soak` takes its help, its scenario names and
// what 'all' runs from this table, and a test checks that docs/reliability.md describes each one.
// A scenario module is imported only when it runs (the CNI ones load the agent, gRPC and etcd).
import type { Log, SoakReport } from './common.js';

/** What `tsvpp soak` passes every scenario: its flags, and whether to run the CI-sized version. */
export interface SoakRunOptions {
  short: boolean;
  log: Log;
  cycles?: number;
  rounds?: number;
  packets?: number;
  peer: 'self' | 'dpdk';
  size: number;
  role: 'master' | 'slave';
}

export interface SoakScenario {
  name: string;
  /** The help text, one string per line. */
  what: readonly string[];
  run(o: SoakRunOptions): Promise<SoakReport>;
}

export const SCENARIOS: readonly SoakScenario[] = [
  {
    name: 'memif-cycles',
    what: [
      'connect/disconnect cycles in 6 variants (in-process and against a second',
      'process; both roles; either end initiating); fds, memfd mappings and RSS',
      'must return to their starting values (--cycles N, default 1000; --short 200)',
    ],
    run: async (o) => (await import('./cycles.js')).runCycles({ cycles: o.cycles ?? (o.short ? 200 : 1000), log: o.log }),
  },
  {
    name: 'memif-kill-peer',
    what: [
      'kill -9 of the echoing memif peer mid-traffic, both roles; the master frees',
      'the connection and listens on, the slave reconnects; sequence-checked runs',
      'after each reconnect (--peer self|dpdk, --rounds N default 5; --short 2)',
    ],
    run: async (o) => (await import('./kill-peer.js')).runKillPeer({
      peer: o.peer, rounds: o.rounds ?? (o.short ? 2 : 5), packets: o.short ? 20_000 : 200_000, log: o.log,
    }),
  },
  {
    name: 'memif-traffic',
    what: [
      '--packets N (default 10^8; --short 2*10^6) sequence-checked packets to',
      'an echoing peer (--peer self|dpdk, --size B, --role master|slave)',
    ],
    run: async (o) => (await import('./traffic.js')).runLongTraffic({
      peer: o.peer, packets: o.packets ?? (o.short ? 2_000_000 : 100_000_000), size: o.size, role: o.role, log: o.log,
    }),
  },
  {
    name: 'vpp-restart',
    what: [
      'the CNI agent with pods; the VPP emulator restarts; the client reconnects',
      'and the agent re-applies its pods (needs root: netns)',
    ],
    run: async (o) => (await import('./vpp-restart.js')).runVppRestart({ restarts: o.rounds ?? (o.short ? 2 : 10), log: o.log }),
  },
  {
    name: 'agent-kill',
    what: [
      'the CNI agent (a child process) SIGKILLed inside VPP\'s create of each pod',
      'interface and route and at random moments of an ADD; after the restart DEL',
      'converges and a retried ADD works, nothing left (root; --rounds N, default 24;',
      '--short 12)',
    ],
    run: async (o) => (await import('./agent-kill.js')).runAgentKill({ rounds: o.rounds ?? (o.short ? 12 : 24), log: o.log }),
  },
  {
    name: 'etcd-down',
    what: [
      'etcd frozen under an agent with --etcd, between ADD and DEL and at ADD of a',
      'labelled memif pod: bounded clear errors, DEL converges once etcd is back (root)',
    ],
    run: async (o) => (await import('./etcd-down.js')).runEtcdDown({ log: o.log }),
  },
  {
    name: 'kubelet-restart',
    what: [
      'kubelet (a stand-in) restarts under the agent\'s device plugin: re-registration,',
      'ADD finds allocations made before and after it; kubelet down: ADD fails',
      'saying PodResources cannot be read; ADD works once it is back (root)',
    ],
    run: async (o) => (await import('./kubelet-restart.js')).runKubeletRestart({ log: o.log }),
  },
  {
    name: 'memif-dir',
    what: [
      'the agent\'s memif socket dir a file / on a read-only mount / missing: ADD of a',
      'memif pod fails naming the dir, nothing left, ADD works once fixed (root)',
    ],
    run: async (o) => (await import('./memif-dir.js')).runMemifDir({ log: o.log }),
  },
  {
    name: 'pod-cycles',
    what: [
      'pod ADD/DEL cycles with tap, veth and memif through tsvpp-cni, the agent and',
      'the VPP emulator; nothing left behind (--cycles N, default 200; --short 20)',
    ],
    run: async (o) => (await import('./pod-cycles.js')).runPodCycles({ cycles: o.cycles ?? (o.short ? 20 : 200), log: o.log }),
  },
];

export function scenario(name: string): SoakScenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
