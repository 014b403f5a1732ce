import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConnection } from 'node:net';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, nodePodSubnet, parseFlags } from '../../src/cni/agent/config.js';
import { startCniServer } from '../../src/cni/agent/server.js';
import { CniError } from '../../src/cni/spec.js';
import { AGENT_PROTOCOL_VERSION, encodeLine } from '../../src/cni/agent-protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'tsvpp-agent-unit-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function cfgErr(argv: string[]): Promise<string> {
  try { await loadConfig(argv); } catch (e) { assert.instance(e, ConfigError); return (e as Error).message; }
  assert.unreachable('expected ConfigError'); return '';
}

test('config: file, then flags; node slice', async () => {
  const f = join(dir, 'agent.yaml');
  writeFileSync(f, 'podSubnet: 10.2.0.0/16\nnodeId: 5\neth0Kind: veth-afpacket\n');
  const { config, rest } = await loadConfig(['--config', f, '--node-id=9', '--max-custom-interfaces', '3', 'extra']);
  assert.is(config.podSubnet, '10.2.0.0/16');
  assert.is(config.nodeId, 9);
  assert.is(config.maxCustomInterfaces, 3);
  assert.is(config.eth0Kind, 'veth-afpacket');
  assert.equal(rest, ['extra']);
  assert.is(nodePodSubnet(config), '10.2.9.0/24');
});

test('config errors name the field and value', async () => {
  assert.match(await cfgErr(['--pod-subnet', '10.1.0.1/16']), /config podSubnet="10.1.0.1\/16": .*host bits set/);
  assert.match(await cfgErr(['--node-id', '300']), /config nodeId=300: slice 300 is outside 10.1.0.0\/16 split into \/24/);
  assert.match(await cfgErr(['--node-id', 'x']), /flag --node-id: "x" is not a whole number/);
  assert.match(await cfgErr(['--eth0-kind', 'vhost']), /config eth0Kind="vhost": must be "tap" or "veth-afpacket"/);
  assert.match(await cfgErr(['--frob']), /unknown flag --frob/);
  assert.match(await cfgErr(['--pod-manifests', '/a', '--kubeconfig', '/b']), /either podManifests or kubeconfig/);
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'podSubnett: 10.1.0.0/16\n');
  assert.match(await cfgErr(['--config', f]), /unknown field "podSubnett"/);
  assert.throws(() => parseFlags(['--state-dir']), /needs a value/);
});

function talk(sock: string, payload: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock);
    let buf = '';
    c.on('data', (d) => { buf += d; });
    c.on('end', () => { try { resolve(JSON.parse(buf)); } catch (e) { reject(e); } });
    c.on('error', reject);
    c.write(payload);
  });
}

test('CNI socket: mode 0600, one request per connection, errors as CNI error objects', async () => {
  const sock = join(dir, 'run', 'cni.sock');
  const server = await startCniServer({
    socketPath: sock,
    handler: async (req) => {
      if (req.containerId === 'cni-err') throw new CniError(105, 'attachment exists already', 'c1 has eth0');
      if (req.containerId === 'crash') throw new TypeError('boom');
      return req.command === 'ADD' ? { cniVersion: '1.0.0', interfaces: [{ name: req.ifName }] } : undefined;
    },
  });
  try {
    assert.is(statSync(sock).mode & 0o777, 0o600);
    const base = { v: AGENT_PROTOCOL_VERSION, ifName: 'eth0', args: {}, config: { cniVersion: '1.0.0', name: 'n', type: 't' } } as const;
    assert.equal(await talk(sock, encodeLine({ ...base, command: 'ADD', containerId: 'ok' })), { ok: true, result: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] } });
    assert.equal(await talk(sock, encodeLine({ ...base, command: 'DEL', containerId: 'ok' })), { ok: true });
    assert.equal(await talk(sock, encodeLine({ ...base, command: 'ADD', containerId: 'cni-err' })), { ok: false, error: { code: 105, msg: 'attachment exists already', details: 'c1 has eth0' } });
    const crash = await talk(sock, encodeLine({ ...base, command: 'ADD', containerId: 'crash' }));
    assert.is(crash.error.code, 199);
    assert.match(crash.error.details, /boom/);
    assert.is((await talk(sock, '{"v":2}\n')).error.code, 6);
    assert.is((await talk(sock, 'not json\n')).error.code, 6);
  } finally { server.close(); }
});

test.run();
