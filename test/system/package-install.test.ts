// What a user installs: `npm pack` of this tree, installed into an empty project with dev
// dependencies omitted (no typescript, uvu, @types/node). The installed `tsvpp` and `tsvpp-cni`
// must work — help, a quick memif perf run between two tsvpp processes, the fuzz corpus replay,
// every shipped module loading, CNI VERSION — and the documented `tsvpp/testing` example (the VPP
// emulator serving a VppClient from `tsvpp/vppapi`) must run as written. Needs npm and the package registry (npm's cache is enough: --prefer-offline).
// Packs dist/ as `npm test` just built it (--ignore-scripts: no second tsc run).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../../..'); // dist/test/system → the repository
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; dependencies: Record<string, string>; devDependencies: Record<string, string>;
};

interface Run { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<Run> {
  return new Promise((res) => {
    const child = execFile(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? err.message : '') });
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}

/** package.json of every package under a node_modules folder (scoped ones included). */
function installedPackages(dir: string): { dependencies?: Record<string, string> }[] {
  return readdirSync(dir).flatMap((n) => (n.startsWith('@') ? readdirSync(join(dir, n)).map((m) => `${n}/${m}`) : [n]))
    .map((n) => join(dir, n, 'package.json')).filter((p) => existsSync(p))
    .map((p) => JSON.parse(readFileSync(p, 'utf8')) as { dependencies?: Record<string, string> });
}

const show = (r: Run) => `exit ${r.code}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

const tmp = mkdtempSync(join(tmpdir(), 'tsvpp-pack-'));
const app = join(tmp, 'app');
let tarball = '';
let packed: string[] = [];
const installed = join(app, 'node_modules', pkg.name);
const bin = (name: string) => join(app, 'node_modules', '.bin', name);

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('npm pack ships dist/ and the data the product reads, and nothing of test/', async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')), 'dist/ is not built: run tsc first');
  const r = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT });
  assert.is(r.code, 0, show(r));
  const info = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(tmp, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path);
  for (const f of ['dist/src/cli/main.js', 'dist/src/cni/cni-main.cjs', 'dist/src/testing/index.js', 'dist/perf/harness/endpoint.js',
    'dist/fuzz/targets.js', 'src/vppapi/api-json/memif.api.json', 'src/cni/protos/deviceplugin-v1beta1/api.proto']) {
    assert.ok(packed.includes(f), `${f} is not in the tarball`);
  }
  assert.ok(packed.some((f) => f.startsWith('fuzz/corpus/')), 'the fuzz corpus is not in the tarball');
  assert.equal(packed.filter((f) => /^(dist\/)?test\//.test(f)), [], 'test files in the tarball');
});

test('the tarball installs with dev dependencies omitted', async () => {
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'tsvpp-install-check', version: '0.0.0', private: true, type: 'module' }));
  const r = await run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, timeoutMs: 600_000 });
  assert.is(r.code, 0, show(r));
  assert.ok(existsSync(join(installed, 'dist', 'src', 'cli', 'main.js')), 'tsvpp not installed');
  // A dev dependency may only be there because a dependency needs it (protobufjs depends on @types/node).
  const needed = new Set(installedPackages(join(app, 'node_modules')).flatMap((p) => Object.keys(p.dependencies ?? {})));
  for (const dev of Object.keys(pkg.devDependencies)) {
    assert.ok(!existsSync(join(app, 'node_modules', dev)) || needed.has(dev), `dev dependency ${dev} was installed`);
  }
  assert.not.ok(existsSync(join(app, 'node_modules', 'typescript')), 'typescript was installed');
  for (const dep of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(app, 'node_modules', dep)), `dependency ${dep} is missing`);
});

test('prepare without typescript: keeps a shipped dist/, and without one fails saying how to get a build', async () => {
  const x = join(tmp, 'extracted');
  mkdirSync(x);
  const t = await run('tar', ['xzf', tarball, '-C', x], { cwd: tmp });
  assert.is(t.code, 0, show(t));
  const dir = join(x, 'package'); // no node_modules here: typescript cannot be resolved
  const keep = await run(process.execPath, ['scripts/prepare.mjs'], { cwd: dir });
  assert.is(keep.code, 0, show(keep));
  assert.match(keep.stderr, /keeping the existing dist\//);
  assert.ok(existsSync(join(dir, 'dist', 'src', 'cli', 'main.js')), 'prepare removed the shipped dist/');
  rmSync(join(dir, 'dist'), { recursive: true });
  const none = await run(process.execPath, ['scripts/prepare.mjs'], { cwd: dir });
  assert.is(none.code, 1, show(none));
  assert.match(none.stderr, /dist\/ is not built and typescript is not installed/);
});

test('tsvpp help, memif echo --help, agent --help, soak --help and perf --help work', async () => {
  for (const [args, want] of [
    [['help'], /usage: tsvpp <command>/], [['memif', 'echo', '--help'], /--socket/], [['agent', '--help'], /--vpp-api-socket/],
    [['soak', '--help'], /pod-cycles/], [['perf', '--help'], /--skip LIST/],
  ] as [string[], RegExp][]) {
    const r = await run(bin('tsvpp'), args, { cwd: app });
    assert.is(r.code, 0, `tsvpp ${args.join(' ')}: ${show(r)}`);
    assert.match(r.stdout, want, `tsvpp ${args.join(' ')}`);
  }
});

test('tsvpp perf: a quick tsvpp <-> tsvpp run from the installed package loses nothing', async () => {
  const r = await run(bin('tsvpp'), ['perf', '--packets', '20000', '--json'], { cwd: app });
  assert.is(r.code, 0, show(r));
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tx: number; rx: number; lost: number; corrupted: number };
  assert.equal({ tx: res.tx, rx: res.rx, lost: res.lost, corrupted: res.corrupted }, { tx: 20000, rx: 20000, lost: 0, corrupted: 0 });
});

test('tsvpp fuzz replay runs the shipped corpus (fast-check and the .api.json files installed)', async () => {
  const r = await run(bin('tsvpp'), ['fuzz', 'replay'], { cwd: app });
  assert.is(r.code, 0, show(r));
  assert.match(r.stdout, /replayed \d+ corpus entries: \d+ hold, 0 fail/);
});

/** Modules that run a process's main on import (the CLI, the emulator's, the soak cycle peer). */
const ENTRY = /[/](main|cycle-peer)[.]js$/;

test('every shipped module loads without the dev dependencies (entry points that run on import aside)', async () => {
  const code = `
    import { readdirSync, statSync } from 'node:fs';
    import { join } from 'node:path';
    import { pathToFileURL } from 'node:url';
    const ENTRY = ${ENTRY};
    const walk = (d) => readdirSync(d).flatMap((n) => statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]);
    const files = walk(process.env.DIST).filter((f) => f.endsWith('.js') && !ENTRY.test(f));
    const bad = [];
    for (const f of files) { try { await import(pathToFileURL(f).href); } catch (e) { bad.push(f + ': ' + e.message); } }
    console.log(JSON.stringify({ loaded: files.length - bad.length, bad }));
    process.exit(0);`;
  const r = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: app, env: { DIST: join(installed, 'dist') } });
  assert.is(r.code, 0, show(r));
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { loaded: number; bad: string[] };
  assert.equal(out.bad, []);
  assert.is(out.loaded, packed.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !ENTRY.test(f)).length, 'modules loaded vs. packed');
});

test('tsvpp-cni answers VERSION', async () => {
  const r = await run(bin('tsvpp-cni'), [], { cwd: app, env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}' });
  assert.is(r.code, 0, show(r));
  const v = JSON.parse(r.stdout) as { cniVersion: string; supportedVersions: string[] };
  assert.ok(v.supportedVersions.includes('1.0.0'), r.stdout);
});

test('tsvpp/testing: the example of docs/vppapi-client.md runs as written against the installed package', async () => {
  const doc = readFileSync(join(ROOT, 'docs', 'vppapi-client.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## VPP emulator (`tsvpp/testing`)'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code?.includes("from 'tsvpp/testing'"), 'no tsvpp/testing example in docs/vppapi-client.md');
  const r = await run(process.execPath, ['--input-type=module', '-e', code!], { cwd: app });
  assert.is(r.code, 0, show(r));
  assert.is(r.stdout.trim(), 'memif1/0');
});

test('TypeScript users get types: the README and tsvpp/testing examples type-check against the installed package', async () => {
  // The package ships .d.ts beside its .js; a strict consumer project resolves tsvpp/memif,
  // tsvpp/vppapi and tsvpp/testing to them (no typescript is installed in the app: use ours).
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const doc = readFileSync(join(ROOT, 'docs', 'vppapi-client.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g), ...doc.slice(doc.indexOf('## VPP emulator (`tsvpp/testing`)')).matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1]).filter((c) => /from 'tsvpp\/(memif|vppapi|testing)'/.test(c));
  assert.ok(blocks.length >= 3, `expected the memif, VPP API and tsvpp/testing examples, found ${blocks.length}`);
  const dir = join(app, 'typed');
  mkdirSync(dir, { recursive: true });
  blocks.forEach((c, i) => writeFileSync(join(dir, `example${i}.ts`), `export {};\n${c}`));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
      skipLibCheck: false, typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'] },
    include: ['*.ts'],
  }));
  for (const f of ['dist/src/memif/index.d.ts', 'dist/src/vppapi/index.d.ts', 'dist/src/testing/index.d.ts']) assert.ok(packed.includes(f), `${f} is not in the tarball`);
  const r = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir });
  assert.is(r.code, 0, show(r));
});

test.run();
