// Chained mode's conflist: derived from the primary CNI's own file (libcni's choice of it), kept
// current by the writer, removed when the primary goes or cannot be chained. Plain files, no root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHAINED_CONFLIST, ChainedConflistWriter, chainConflist, findPrimary, tsvppPluginConf } from '../../src/cni/agent/chained-conflist.js';
import { parseNetConf } from '../../src/cni/spec.cjs';

const plugin = tsvppPluginConf({ cniSocket: '/run/tsvpp/cni.sock', stateDir: '/var/lib/tsvpp' });
const calico = {
  name: 'k8s-pod-network', cniVersion: '0.3.1',
  plugins: [
    { type: 'calico', datastore_type: 'kubernetes', nodename: 'worker-1', ipam: { type: 'calico-ipam' }, policy: { type: 'k8s' }, kubernetes: { kubeconfig: '/etc/cni/net.d/calico-kubeconfig' } },
    { type: 'portmap', snat: true, capabilities: { portMappings: true } },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
  ],
};

function tmp(): string { return mkdtempSync(join(tmpdir(), 'tsvpp-chain-conf-')); }

test('chainConflist: the primary\'s network unchanged (name, version, its plugins, node-specific fields) with tsvpp-cni last; each entry is a config tsvpp-cni accepts', () => {
  const c = chainConflist(JSON.stringify(calico), '10-calico.conflist', plugin);
  assert.equal(c, { ...calico, plugins: [...calico.plugins, plugin] });
  const ours = (c.plugins as object[]).at(-1)!;
  const conf = parseNetConf(JSON.stringify({ cniVersion: c.cniVersion, name: c.name, ...ours, prevResult: { cniVersion: '0.3.1' } }), 'ADD');
  assert.is(conf.agentSocket, '/run/tsvpp/cni.sock');
});

test('chainConflist: a primary offering several versions (cniVersions, CNI 1.1) keeps only those tsvpp-cni speaks, so a runtime on libcni 1.2+ picks one both plugins speak', () => {
  const modern = { ...calico, cniVersion: '1.0.0', cniVersions: ['0.4.0', '1.0.0', '1.1.0', '1.2.0'] };
  const c = chainConflist(JSON.stringify(modern), '10-calico.conflist', plugin);
  assert.equal(c, { ...modern, cniVersions: ['0.4.0', '1.0.0', '1.1.0'], plugins: [...calico.plugins, plugin] });
  const ours = (c.plugins as object[]).at(-1)!;
  assert.is(parseNetConf(JSON.stringify({ cniVersion: '1.1.0', name: c.name, ...ours, prevResult: { cniVersion: '1.1.0' } }), 'ADD').cniVersion, '1.1.0');
});

test('chainConflist: a single-plugin .conf becomes a list of one; what cannot be chained is refused, naming the file', () => {
  const flannel = { cniVersion: '0.3.1', name: 'cbr0', type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } };
  assert.equal(chainConflist(JSON.stringify(flannel), 'x.conf', plugin), { cniVersion: '0.3.1', name: 'cbr0', plugins: [{ type: 'flannel', delegate: flannel.delegate }, plugin] });
  const err = (text: string) => { try { chainConflist(text, '/n/f.conflist', plugin); return ''; } catch (e) { return (e as Error).message; } };
  assert.match(err('{'), /^\/n\/f\.conflist: /);
  assert.is(err('[]'), '/n/f.conflist: not a JSON object');
  assert.is(err('{"cniVersion":"0.3.1","name":"n"}'), '/n/f.conflist: neither a conflist (plugins) nor a plugin config (type)');
  assert.is(err('{"cniVersion":"0.3.1","name":"n","plugins":[{}]}'), '/n/f.conflist: plugins must be a list of plugin configs, each with a type');
  assert.is(err('{"cniVersion":"0.2.0","name":"n","plugins":[{"type":"x"}]}'), '/n/f.conflist: cniVersion "0.2.0" is not one tsvpp-cni speaks (0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)');
  assert.is(err('{"cniVersion":"1.0.0","plugins":[{"type":"x"}]}'), '/n/f.conflist: no network name');
  assert.is(err(JSON.stringify({ ...calico, plugins: [...calico.plugins, plugin] })), '/n/f.conflist: tsvpp-cni is in it already');
});

test('findPrimary: the file the runtime takes (sorted names; .conf, .conflist, .json), not ours nor one running tsvpp-cni already', async () => {
  const d = tmp();
  try {
    assert.equal(await findPrimary(join(d, 'missing')), { tsvppFiles: [] });
    writeFileSync(join(d, '99-loopback.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }));
    writeFileSync(join(d, '10-calico.conflist'), JSON.stringify(calico));
    writeFileSync(join(d, '05-tsvpp.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'tsvpp', plugins: [plugin] }));
    writeFileSync(join(d, CHAINED_CONFLIST), JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'bridge' }] }));
    writeFileSync(join(d, '01-notes.txt'), 'not a CNI config');
    writeFileSync(join(d, '.hidden.tmp'), '{');
    mkdirSync(join(d, '02-dir.conf'));
    const r = await findPrimary(d);
    assert.is(r.primary?.file, join(d, '10-calico.conflist'));
    assert.equal(r.tsvppFiles, [join(d, '05-tsvpp.conflist')]);
    // An unreadable file first is still what the runtime would take: it is the primary (and fails to chain).
    writeFileSync(join(d, '03-broken.json'), '{');
    assert.is((await findPrimary(d)).primary?.file, join(d, '03-broken.json'));
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test('writer: writes at start, follows the primary\'s changes, removes the file when the primary goes or cannot be chained; logs each finding once; never touches the primary', async () => {
  const d = tmp();
  const log: string[] = [];
  const w = new ChainedConflistWriter(d, plugin, (m) => log.push(m), 60_000);
  const ours = () => { try { return JSON.parse(readFileSync(join(d, CHAINED_CONFLIST), 'utf8')); } catch { return undefined; } };
  try {
    await w.start();
    assert.is(ours(), undefined);
    assert.equal(log, [`chained mode: no primary CNI conflist in ${d} (waiting for one; ${CHAINED_CONFLIST} not written)`]);
    const primaryText = JSON.stringify(calico);
    writeFileSync(join(d, '10-calico.conflist'), primaryText);
    await w.sync();
    assert.equal(ours(), { ...calico, plugins: [...calico.plugins, plugin] });
    assert.is(readFileSync(join(d, '10-calico.conflist'), 'utf8'), primaryText, 'the primary\'s file is as it was');
    // The primary rewrites its file (an upgrade, another node name): ours follows.
    writeFileSync(join(d, '10-calico.conflist'), JSON.stringify({ ...calico, cniVersion: '1.0.0' }));
    await w.sync();
    assert.is(ours().cniVersion, '1.0.0');
    // A primary tsvpp-cni cannot join: ours goes, the pods get the primary alone.
    writeFileSync(join(d, '10-calico.conflist'), JSON.stringify({ ...calico, cniVersion: '0.2.0' }));
    await (w as unknown as { pass(): Promise<void> }).pass();
    await (w as unknown as { pass(): Promise<void> }).pass();
    assert.is(ours(), undefined);
    assert.is(log.filter((l) => l.includes('is not one tsvpp-cni speaks')).length, 1, 'logged once, not on every pass');
    writeFileSync(join(d, '10-calico.conflist'), JSON.stringify(calico));
    await w.sync();
    assert.ok(ours());
    rmSync(join(d, '10-calico.conflist'));
    await w.sync();
    assert.equal(readdirSync(d), [], 'nothing left: no chained file, no temp file');
  } finally {
    await w.stop();
    rmSync(d, { recursive: true, force: true });
  }
});

test.run();
