// `tsvpp agent ...`: runs the CNI node agent, or shows what it knows about pods.
//   tsvpp agent [--config FILE] [flags]      run until SIGTERM/SIGINT
//   tsvpp agent pods [--state-dir DIR] [--json]
//   tsvpp agent teardown [--config FILE] [flags]
//   tsvpp agent shim --node PATH --cni-main PATH [--config FILE] [flags]
import { existsSync } from 'node:fs';
import { loadConfig, ConfigError, FLAGS, DEFAULT_CONFIG, VHOST_NET } from '../cni/agent/config.js';

const HELP = `usage: tsvpp agent [--config FILE] [flags]
       tsvpp agent pods [--state-dir DIR] [--json]
       tsvpp agent teardown [--config FILE] [flags]
       tsvpp agent shim --node PATH --cni-main PATH [--config FILE] [flags]

Runs the tsvpp CNI node agent: serves tsvpp-cni on a unix socket and on 127.0.0.1 (the tsvpp-cni
shim's fast path), configures VPP through its
binary API and pods through rtnetlink, allocates addresses with host-local.
teardown removes what the agent set up for the node (with the same config): its pool of ready
pod veths, the VPP <-> host link, VXLAN tunnels and routes to other nodes, its host routes and
its nftables table, and the Service translations and ClusterIP reject routes in VPP; pods stay
wired in VPP but lose the host, the other nodes and Services.
shim prints the tsvpp-cni executable for this agent (install it as /opt/cni/bin/tsvpp-cni): a
bash script that hands each call to the agent, and to the Node tsvpp-cni (--node, --cni-main: the
host's paths) when the agent cannot take it.

flags (override the config file; defaults in brackets):
${Object.entries(FLAGS).map(([f, k]) => `  ${f.padEnd(30)} ${k}${(DEFAULT_CONFIG as unknown as Record<string, unknown>)[k] !== undefined ? ` [${String((DEFAULT_CONFIG as unknown as Record<string, unknown>)[k])}]` : ''}`).join('\n')}
`;

async function showPods(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const { config } = await loadConfig(argv.filter((a) => a !== '--json'));
  const { StateStore } = await import('../cni/agent/state.js');
  const { describeSources } = await import('../cni/agent/pod-metadata.js');
  const { listPendingDels } = await import('../cni/pending-del.js');
  const store = new StateStore(config.stateDir);
  let pods, pending;
  try { pods = await store.listPods(); pending = await listPendingDels(config.stateDir); } catch (e) {
    process.stderr.write(`tsvpp agent pods: ${config.stateDir}: ${(e as Error).message}\n`);
    return 1;
  }
  if (json) { process.stdout.write(JSON.stringify({ pods, pendingDels: pending }, null, 2) + '\n'); return 0; }
  for (const p of pods) {
    const who = p.pod ? `${p.pod.namespace}/${p.pod.name}` : '(no pod)';
    process.stdout.write(`${who}  container ${p.containerId}  ${p.phase}  netns ${p.netns ?? '-'}\n`);
    if (p.metadataSources) process.stdout.write(`  ${describeSources(p.metadataSources)}\n`);
    if (p.chained) process.stdout.write(`  chained after another CNI (${p.ifName} is that CNI's)\n`);
    for (const i of p.interfaces) {
      const memif = i.memif ? `  socket ${i.memif.socket} id ${i.memif.id}` : '';
      process.stdout.write(`  ${i.name.padEnd(15)} ${i.type.padEnd(5)} ${i.network.padEnd(12)} ${i.address ?? '-'}${i.swIfIndex !== undefined ? `  sw_if_index ${i.swIfIndex}` : ''}${memif}\n`);
    }
    if (p.serviceEndpoint) process.stdout.write(`  service endpoint: ${p.serviceEndpoint.interface} ${p.serviceEndpoint.ip} (Services reach the pod here instead of at ${p.serviceEndpoint.podIp})\n`);
    if (p.microserviceLabel) process.stdout.write(`  microservice label: ${p.microserviceLabel}\n`);
  }
  if (pods.length === 0) process.stdout.write('no pods\n');
  if (pending.length) process.stdout.write(`\npending DELs (tsvpp-cni recorded them while the agent was unreachable; the agent carries them out when it runs):\n`);
  for (const p of pending) {
    const r = p.record;
    if (!r) { process.stdout.write(`  container ${p.containerId}  unreadable: ${p.problem}\n`); continue; }
    const a = r.request.args;
    const who = a.K8S_POD_NAMESPACE && a.K8S_POD_NAME ? `${a.K8S_POD_NAMESPACE}/${a.K8S_POD_NAME}` : '(no pod)';
    process.stdout.write(`  ${who}  container ${p.containerId}  recorded ${r.recordedAt}  netns ${r.request.netns ?? '-'}\n    why: ${r.reason}\n${r.lastError ? `    last attempt failed: ${r.lastError}\n` : ''}`);
  }
  return 0;
}

async function teardown(argv: string[]): Promise<number> {
  const { config, rest } = await loadConfig(argv);
  if (rest.length) throw new ConfigError(`unexpected argument ${JSON.stringify(rest[0])} (see tsvpp agent --help)`);
  const { makeCluster, connectVswitch } = await import('../cni/agent/agent.js');
  const { StateStore } = await import('../cni/agent/state.js');
  const log = (m: string) => process.stderr.write(`tsvpp agent teardown: ${m}\n`);
  const vswitch = await connectVswitch(config, log, false);
  try {
    const store = new StateStore(config.stateDir);
    await store.init();
    // The node's slice as its pods have it (the state dir), if it ever had any: it names the
    // node's VTEP, by which half-made tunnels are recognised. Tagged ones are found without it.
    const slice = (await store.loadNode()).networks.default?.nodeSubnet;
    const cluster = makeCluster(config, { name: config.nodeName, ...(slice ? { podSubnet: slice } : {}) }, { vswitch, store, log, vhostNet: existsSync(VHOST_NET) });
    const r = { removed: [] as string[], errors: [] as string[] };
    const add = (x: { removed: string[]; errors: string[] }) => { r.removed.push(...x.removed); r.errors.push(...x.errors); };
    // The veth pool: whatever its file lists and this agent's pool links and af_packets no pod holds.
    const { VethPool, podPoolLinks } = await import('../cni/agent/veth-pool.js');
    const linux = await import('../cni/linux/ip.js');
    const pool = new VethPool({ size: 0, idleMs: 0, stateDir: config.stateDir, vswitch, linux, mtu: config.mtu, log, turn: (fn) => fn(), busy: () => false, servedAt: () => 0, eager: false });
    try { r.removed.push(...(await pool.removeAll(podPoolLinks(await store.listPods()))).map((x) => `veth pool member ${x}`)); } catch (e) { r.errors.push(`veth pool: ${(e as Error).message}`); }
    if (cluster) add(await cluster.teardown());
    else log('hostLink is "none": no host link or cluster routes were set up');
    // Services: the agent serves them in VPP unless they are off or it is chained (agent.ts).
    if (config.services === 'vpp' && config.chainedCniConfDir === undefined) {
      const { removeServices } = await import('../cni/services/services.js');
      add(await removeServices(vswitch));
    }
    for (const x of r.removed) process.stdout.write(`removed ${x}\n`);
    for (const x of r.errors) log(x);
    const pods = (await store.listPods()).length;
    if (pods) log(`${pods} pod(s) are still wired in VPP (DEL them through the runtime)`);
    return r.errors.length ? 1 : 0;
  } finally { await vswitch.close?.(); }
}

/** Prints the tsvpp-cni executable for the agent of this config (deploy/daemonset.yaml installs it). */
async function shim(argv: string[]): Promise<number> {
  const take = (flag: string): string => {
    const i = argv.indexOf(flag);
    if (i < 0 || argv[i + 1] === undefined) throw new ConfigError(`tsvpp agent shim needs ${flag} PATH (see tsvpp agent --help)`);
    return argv.splice(i, 2)[1];
  };
  const node = take('--node');
  const cniMain = take('--cni-main');
  const { config, rest } = await loadConfig(argv);
  if (rest.length) throw new ConfigError(`unexpected argument ${JSON.stringify(rest[0])} (see tsvpp agent --help)`);
  const { tsvppCniShim } = await import('../cni/invocation.js');
  process.stdout.write(tsvppCniShim({ cniSocket: config.cniSocket, node, cniMain }));
  return 0;
}

/** Runs the agent until SIGTERM/SIGINT; returns the exit code. */
export async function agentMain(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HELP); return 0; }
  try {
    if (argv[0] === 'pods') return await showPods(argv.slice(1));
    if (argv[0] === 'teardown') return await teardown(argv.slice(1));
    if (argv[0] === 'shim') return await shim(argv.slice(1));
    const { config, rest } = await loadConfig(argv);
    if (rest.length) throw new ConfigError(`unexpected argument ${JSON.stringify(rest[0])} (see tsvpp agent --help)`);
    const { startAgent } = await import('../cni/agent/agent.js');
    const agent = await startAgent(config);
    await new Promise<void>((resolve) => {
      const stop = () => { process.off('SIGTERM', stop); process.off('SIGINT', stop); resolve(); };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    await agent.close();
    return 0;
  } catch (e) {
    process.stderr.write(`tsvpp agent: ${(e as Error).message}\n`);
    return e instanceof ConfigError ? 2 : 1;
  }
}

/** The subcommand convention (`tsvpp agent ...` → main(argv after "agent")). */
export const main = agentMain;
