import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ApiRegistry, type MessageInput } from '../../../src/vppapi/codec/index.js';
import { generateBindings } from '../../../src/vppapi/gen/index.js';
import * as memif from '../../../src/vppapi/bindings/memif.js';
import * as ip from '../../../src/vppapi/bindings/ip.js';
import * as ipTypes from '../../../src/vppapi/bindings/ip_types.js';
import * as fibTypes from '../../../src/vppapi/bindings/fib_types.js';
import { API_DIR, ROOT } from './fixtures.js';

const reg = ApiRegistry.fromDir(API_DIR);
const BINDINGS = join(ROOT, 'src', 'vppapi', 'bindings');
const COMMITTED = readdirSync(BINDINGS).filter((f) => f.endsWith('.ts') && f !== 'index.ts').map((f) => f.replace(/\.ts$/, '')).sort();

test('committed bindings are what the generator writes today', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-gen-'));
  try {
    generateBindings(reg, { outDir: dir, modules: COMMITTED });
    assert.ok(COMMITTED.includes('memif') && COMMITTED.includes('ip') && COMMITTED.length >= 14);
    for (const f of [...COMMITTED.map((m) => `${m}.ts`), 'index.ts']) {
      assert.fixture(readFileSync(join(dir, f), 'utf8'), readFileSync(join(BINDINGS, f), 'utf8'), f);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bindings of all 157 modules compile under strict TypeScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvpp-gen-all-'));
  try {
    const files = generateBindings(reg, { outDir: join(dir, 'b') });
    assert.is(files.length, 158);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [], noUnusedLocals: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true },
      include: ['b/*.ts'],
    }));
    let out = '';
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    }
    assert.is(out, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generated types describe what the codec encodes and decodes', () => {
  const req: MessageInput<memif.MemifCreate> = {
    role: memif.MemifRole.MEMIF_ROLE_API_SLAVE, mode: memif.MemifMode.MEMIF_MODE_API_IP,
    hw_addr: new Uint8Array([2, 0, 0, 0, 0, 1]), secret: 'sekrit',
  };
  const c = reg.message('memif_create');
  const back = c.decode(c.encode(req)).value as memif.MemifCreate;
  assert.is(back.role, 1);
  assert.is(back.secret, 'sekrit');
  const route: MessageInput<ip.IpRouteAddDel> = {
    is_add: true,
    route: {
      prefix: { address: { af: ipTypes.AddressFamily.ADDRESS_IP4, un: { ip4: new Uint8Array([10, 0, 0, 0]) } }, len: 8 },
      paths: [{ sw_if_index: 1, proto: fibTypes.FibPathNhProto.FIB_API_PATH_NH_PROTO_IP4 }],
    },
  };
  const r = reg.message('ip_route_add_del');
  const rv = r.decode(r.encode(route)).value as ip.IpRouteAddDel;
  assert.is(rv.route.n_paths, 1);
  assert.is(rv.route.paths[0]!.sw_if_index, 1);
});

test('reply maps follow VPP naming and services come from the JSON', () => {
  assert.is(memif.replies.memif_create, 'memif_create_reply');
  assert.is(memif.replies.memif_dump, 'memif_details');
  assert.is(memif.services.memif_dump.reply, 'memif_details');
  assert.is(memif.services.memif_dump.stream, true);
  assert.is(memif.crcs.memif_create, reg.message('memif_create').crc);
});

test.run();
