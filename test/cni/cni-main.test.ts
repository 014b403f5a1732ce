import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineReader, decodeRequest, encodeLine, type AgentRequest, type AgentResponse } from '../../src/cni/agent-protocol.cjs';
import { parseCniArgs, ErrorCode } from '../../src/cni/spec.cjs';
import { PENDING_DEL_DIR, listPendingDels, type PendingDel } from '../../src/cni/pending-del.js';

const here = dirname(fileURLToPath(import.meta.url));
const CNI_MAIN = join(here, '../../src/cni/cni-main.cjs');
const dir = mkdtempSync(join(tmpdir(), 'tsvpp-cni-main-'));
const sockPath = join(dir, 'agent.sock');

let seen: AgentRequest[] = [];
let answer: (r: AgentRequest) => AgentResponse = () => ({ ok: true });
let server: Server;

function run(env: Record<string, string>, stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CNI_MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', type: 'tsvpp-cni', agentSocket: sockPath, ...extra });
const env = (cmd: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: cmd, CNI_CONTAINERID: 'abc123', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=multi-if-pod;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1',
  CNI_PATH: '/opt/cni/bin', ...extra,
});

test.before(async () => {
  server = createServer((s) => {
    s.setEncoding('utf8');
    const r = new LineReader();
    s.on('data', (c: string) => {
      const line = r.push(c);
      if (line === undefined) return;
      const req = decodeRequest(line);
      seen.push(req);
      s.end(encodeLine(answer(req)));
    });
  });
  await new Promise<void>((res) => server.listen(sockPath, res));
});

test.after(() => { server.close(); rmSync(dir, { recursive: true, force: true }); });

test('CNI_ARGS parsing', () => {
  assert.equal(parseCniArgs('A=1;B=x=y;;'), { A: '1', B: 'x=y' });
  assert.throws(() => parseCniArgs('A'), /CNI_ARGS/);
});

test('VERSION is answered locally with the supported versions', async () => {
  const r = await run({ CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '1.0.0' }));
  assert.is(r.code, 0);
  assert.equal(JSON.parse(r.stdout), { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  assert.is(seen.length, 0);
});

test('ADD forwards env, CNI_ARGS and config to the agent and prints its result', async () => {
  seen = [];
  const result = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/x' }, { name: 'tap1', sandbox: '/var/run/netns/x' }],
    ips: [{ address: '10.1.1.5/32', gateway: '10.1.1.1', interface: 0 }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }],
  };
  answer = () => ({ ok: true, result });
  const r = await run(env('ADD'), conf());
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), result);
  assert.is(seen.length, 1);
  assert.is(seen[0]!.command, 'ADD');
  assert.is(seen[0]!.containerId, 'abc123');
  assert.is(seen[0]!.netns, '/var/run/netns/x');
  assert.is(seen[0]!.args.K8S_POD_NAME, 'multi-if-pod');
  assert.is(seen[0]!.args.K8S_POD_UID, 'u-1');
  assert.is(seen[0]!.path, '/opt/cni/bin');
  assert.is(seen[0]!.config.name, 'tsvpp');
});

test('ADD with cniVersion 0.4.0, 0.3.1 or 0.3.0 gets ips[].version', async () => {
  answer = () => ({ ok: true, result: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.1.5/32', interface: 0 }] } });
  for (const v of ['0.4.0', '0.3.1', '0.3.0']) {
    const r = await run(env('ADD'), conf({ cniVersion: v }));
    assert.is(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.is(out.cniVersion, v);
    assert.is(out.ips[0].version, '4');
  }
});

test('CHECK with a 0.3.x config is refused (code 1): CHECK came with 0.4.0; 0.2.0 is not spoken at all', async () => {
  seen = [];
  const r = await run(env('CHECK'), conf({ cniVersion: '0.3.1', prevResult: { cniVersion: '0.3.1' } }));
  assert.is(r.code, 1);
  assert.equal(JSON.parse(r.stdout), { cniVersion: '0.3.1', code: 1, msg: 'incompatible CNI version', details: 'cniVersion 0.3.1 has no CHECK (it came with 0.4.0)' });
  const old = await run(env('ADD'), conf({ cniVersion: '0.2.0' }));
  assert.is(JSON.parse(old.stdout).code, 1);
  assert.equal(seen, [], 'the agent was not asked');
});

test('agent errors are printed as CNI error results with non-zero exit', async () => {
  answer = () => ({ ok: false, error: { code: 100, msg: 'invalid pod annotation', details: 'contivpp.io/custom-if: item 1 "x": missing interface type' } });
  const r = await run(env('ADD'), conf());
  assert.is.not(r.code, 0);
  assert.equal(JSON.parse(r.stdout), { cniVersion: '1.0.0', code: 100, msg: 'invalid pod annotation', details: 'contivpp.io/custom-if: item 1 "x": missing interface type' });
});

test('DEL and CHECK print nothing on success; DEL needs no netns', async () => {
  seen = [];
  answer = () => ({ ok: true });
  const d = await run(env('DEL', { CNI_NETNS: '' }), conf());
  assert.is(d.code, 0, d.stdout + d.stderr);
  assert.is(d.stdout, '');
  assert.is(seen[0]!.netns, undefined);
  const c = await run(env('CHECK'), conf({ prevResult: { cniVersion: '1.0.0', interfaces: [] } }));
  assert.is(c.code, 0, c.stdout + c.stderr);
  assert.is(c.stdout, '');
});

async function errOf(e: Record<string, string>, stdin: string): Promise<{ code: number; msg: string; details?: string }> {
  const r = await run(e, stdin);
  assert.is.not(r.code, 0);
  return JSON.parse(r.stdout);
}

test('well-known error codes', async () => {
  assert.is((await errOf({ }, conf())).code, ErrorCode.InvalidEnvironment);
  assert.is((await errOf(env('FROB'), conf())).code, ErrorCode.InvalidEnvironment);
  const badId = await errOf(env('ADD', { CNI_CONTAINERID: '-x' }), conf());
  assert.is(badId.code, 4); assert.match(badId.details!, /CNI_CONTAINERID/);
  const badIf = await errOf(env('ADD', { CNI_IFNAME: 'a/b' }), conf());
  assert.is(badIf.code, 4); assert.match(badIf.details!, /CNI_IFNAME/);
  const noNetns = await errOf(env('ADD', { CNI_NETNS: '' }), conf());
  assert.is(noNetns.code, 4); assert.match(noNetns.details!, /CNI_NETNS/);
  assert.is((await errOf(env('ADD', { CNI_ARGS: 'novalue' }), conf())).code, 4);
  assert.is((await errOf(env('ADD'), '{not json')).code, ErrorCode.DecodeFailure);
  assert.is((await errOf(env('ADD'), conf({ cniVersion: '0.2.0' }))).code, ErrorCode.IncompatibleVersion);
  const ipam = await errOf(env('ADD'), conf({ ipam: { type: 'host-local' } }));
  assert.is(ipam.code, ErrorCode.UnsupportedField); assert.match(ipam.details!, /ipam=/);
  assert.is((await errOf(env('ADD'), conf({ name: '' }))).code, ErrorCode.InvalidNetworkConfig);
  assert.is((await errOf(env('CHECK'), conf())).code, ErrorCode.InvalidNetworkConfig);
});

test('agent not running is "try again later"', async () => {
  const e = await errOf(env('ADD'), conf({ agentSocket: join(dir, 'nobody.sock') }));
  assert.is(e.code, ErrorCode.TryAgainLater);
  assert.match(e.details!, /nobody\.sock/);
});

test('DEL the agent cannot take is recorded durably in its state dir and succeeds; the first record is kept', async () => {
  const stateDir = mkdtempSync(join(dir, 'state-'));
  const absent = { agentSocket: join(dir, 'nobody.sock'), agentStateDir: stateDir };
  const stop = await run(env('DEL'), conf({ ...absent, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/x' }] } }));
  assert.is(stop.code, 0, stop.stdout + stop.stderr);
  assert.is(stop.stdout, '');
  const file = join(stateDir, PENDING_DEL_DIR, 'abc123.json');
  assert.match(stop.stderr, `DEL recorded in ${file}`);
  const rec = JSON.parse(readFileSync(file, 'utf8')) as PendingDel;
  assert.is(rec.request.command, 'DEL');
  assert.is(rec.request.containerId, 'abc123');
  assert.is(rec.request.netns, '/var/run/netns/x');
  assert.is(rec.request.args.K8S_POD_NAME, 'multi-if-pod');
  assert.ok(rec.request.config.prevResult, 'prevResult kept');
  assert.match(rec.reason, /tsvpp agent is not reachable.*nobody\.sock: ENOENT/);
  // RemovePodSandbox's DEL (netns set but empty) does not overwrite StopPodSandbox's.
  const remove = await run(env('DEL', { CNI_NETNS: '' }), conf(absent));
  assert.is(remove.code, 0, remove.stdout + remove.stderr);
  assert.is((JSON.parse(readFileSync(file, 'utf8')) as PendingDel).request.netns, '/var/run/netns/x');
  assert.equal(readdirSync(join(stateDir, PENDING_DEL_DIR)), ['abc123.json'], 'no temp files left');
  const listed = await listPendingDels(stateDir);
  assert.equal(listed.map((p) => p.containerId), ['abc123']);
  // ADD and CHECK are never recorded: they fail for the runtime to retry.
  assert.is((await errOf(env('ADD', { CNI_CONTAINERID: 'other1' }), conf(absent))).code, ErrorCode.TryAgainLater);
  assert.equal(readdirSync(join(stateDir, PENDING_DEL_DIR)), ['abc123.json']);
});

test('DEL that can be neither delivered nor recorded fails, naming both', async () => {
  const notADir = join(dir, 'plain-file');
  writeFileSync(notADir, '');
  const e = await errOf(env('DEL'), conf({ agentSocket: join(dir, 'nobody.sock'), agentStateDir: notADir }));
  assert.is(e.code, ErrorCode.TryAgainLater);
  assert.match(e.details!, new RegExp(`nobody\\.sock: ENOENT; recording the DEL in ${notADir} for the agent failed too: .*(ENOTDIR|EEXIST)`));
});

test('DEL the agent answers with an error is not recorded: the runtime retries it', async () => {
  const stateDir = mkdtempSync(join(dir, 'state-'));
  answer = () => ({ ok: false, error: { code: 103, msg: 'DEL could not remove everything (retry DEL)' } });
  const e = await errOf(env('DEL'), conf({ agentStateDir: stateDir }));
  assert.is(e.code, 103);
  assert.equal(await listPendingDels(stateDir), []);
});

/** STATUS and GC as libcni 1.2 runs them: the attachment's variables empty, the config at 1.1.0. */
const networkEnv = (cmd: string) => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '', CNI_ARGS: '', CNI_PATH: '/opt/cni/bin' });
const conf110 = (extra: Record<string, unknown> = {}) => conf({ cniVersion: '1.1.0', ...extra });

test('STATUS and GC (1.1.0) go to the agent with no attachment, print nothing on success and the agent\'s error on failure', async () => {
  seen = [];
  answer = () => ({ ok: true });
  const valid = [{ containerID: 'abc123', ifname: 'eth0' }];
  const st = await run(networkEnv('STATUS'), conf110());
  assert.is(st.code, 0, st.stdout + st.stderr);
  assert.is(st.stdout, '');
  const gc = await run(networkEnv('GC'), conf110({ 'cni.dev/valid-attachments': valid, 'cni.dev/attachments': valid }));
  assert.is(gc.code, 0, gc.stdout + gc.stderr);
  assert.is(gc.stdout, '');
  assert.equal(seen.map((r) => [r.command, r.containerId, r.ifName, r.netns]), [['STATUS', '', '', undefined], ['GC', '', '', undefined]]);
  assert.equal(seen[1]!.config['cni.dev/valid-attachments'], valid);
  // The earlier spec text's name alone (libcni 1.2 sends both); null, a Go runtime's empty list.
  const legacy = await run(networkEnv('GC'), conf110({ 'cni.dev/attachments': valid }));
  assert.is(legacy.code, 0, legacy.stdout + legacy.stderr);
  const none = await run(networkEnv('GC'), conf110({ 'cni.dev/valid-attachments': null, 'cni.dev/attachments': null }));
  assert.is(none.code, 0, none.stdout + none.stderr);
  assert.is(seen.at(-1)!.config['cni.dev/valid-attachments'], null);
  answer = () => ({ ok: false, error: { code: 51, msg: 'tsvpp is not available: VPP does not answer its API', details: 'no answer within 3000 ms' } });
  const down = await errOf(networkEnv('STATUS'), conf110());
  assert.equal(down, { cniVersion: '1.1.0', code: 51, msg: 'tsvpp is not available: VPP does not answer its API', details: 'no answer within 3000 ms' });
});

test('STATUS and GC are refused below 1.1.0 (code 1); GC without a list of valid attachments, or a malformed one, is code 7; neither reaches the agent', async () => {
  seen = [];
  for (const cmd of ['STATUS', 'GC']) {
    const e = await errOf(networkEnv(cmd), conf({ 'cni.dev/valid-attachments': [] }));
    assert.equal(e, { cniVersion: '1.0.0', code: 1, msg: 'incompatible CNI version', details: `cniVersion 1.0.0 has no ${cmd} (it came with 1.1.0)` });
  }
  const none = await errOf(networkEnv('GC'), conf110());
  assert.is(none.code, 7);
  assert.match(none.details!, /GC without cni\.dev\/valid-attachments: .*nothing was collected/);
  const notList = await errOf(networkEnv('GC'), conf110({ 'cni.dev/valid-attachments': { containerID: 'x' } }));
  assert.match(notList.details!, /cni\.dev\/valid-attachments is not an array/);
  const badItem = await errOf(networkEnv('GC'), conf110({ 'cni.dev/valid-attachments': [{ containerID: 'x', ifname: 'eth0' }, { containerID: 'y' }] }));
  assert.match(badItem.details!, /cni\.dev\/valid-attachments\[1\] is not \{"containerID": string, "ifname": string\}/);
  assert.equal(seen, []);
});

test('STATUS with the agent away is "not available" (code 50) naming the socket; GC with the agent away fails for the runtime to retry, and records nothing', async () => {
  const stateDir = mkdtempSync(join(dir, 'state-'));
  const absent = { agentSocket: join(dir, 'nobody.sock'), agentStateDir: stateDir };
  const st = await errOf(networkEnv('STATUS'), conf110(absent));
  assert.is(st.code, ErrorCode.NotAvailable);
  assert.match(st.msg, /tsvpp is not available: tsvpp agent is not reachable/);
  assert.match(st.details!, /nobody\.sock: ENOENT/);
  const gc = await errOf(networkEnv('GC'), conf110({ ...absent, 'cni.dev/valid-attachments': [] }));
  assert.is(gc.code, ErrorCode.TryAgainLater);
  assert.equal(readdirSync(stateDir), []);
});

test.run();
