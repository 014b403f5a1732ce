// Writes an OCI image as an image-layout tar (what `ctr images import` and `podman load` take)
// from a root filesystem directory: one uncompressed layer, a config, a manifest and index.json.
// No registry, no daemon: GNU tar makes the layer (sorted, owner root, fixed mtime, so the same
// tree gives the same digest), node:crypto hashes it.
//
//   node dist/perf/peers/oci-image.js --rootfs DIR --name REF --out FILE.tar
//        [--entrypoint JSON-ARRAY] [--cmd JSON-ARRAY] [--env NAME=VALUE]... [--workdir DIR]
//
// REF is a full reference (docker.io/library/tsvpp:latest); it is written as the manifest's
// io.containerd.image.name and org.opencontainers.image.ref.name annotations.
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
};
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export interface OciImageOptions {
  rootfs: string;
  /** A full reference (docker.io/library/tsvpp:latest). */
  name: string;
  out: string;
  entrypoint?: string[];
  cmd?: string[];
  /** NAME=VALUE */
  env?: string[];
  workdir?: string;
}

function tar(args: string[]): void {
  const r = spawnSync('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')} failed: ${r.error?.message ?? r.stderr.toString()}`);
}

function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => res(h.digest('hex'))).on('error', rej);
  });
}

/** Writes `json` as a blob of the layout; returns its descriptor fields. */
function blob(layout: string, json: unknown): { digest: string; size: number } {
  const data = Buffer.from(JSON.stringify(json));
  const hex = createHash('sha256').update(data).digest('hex');
  writeFileSync(join(layout, 'blobs/sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

export async function writeOciImage(o: OciImageOptions): Promise<{ out: string; manifestDigest: string; layerBytes: number }> {
  if (!statSync(o.rootfs, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--rootfs ${o.rootfs}: not a directory`);
  if (!/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+:[A-Za-z0-9_.-]+$/.test(o.name)) throw new Error(`--name ${JSON.stringify(o.name)}: expected a full reference such as docker.io/library/tsvpp:latest`);
  const layout = mkdtempSync(join(tmpdir(), 'tsvpp-oci-'));
  try {
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    const layerTmp = join(layout, 'layer.tar');
    tar(['--create', '--file', layerTmp, '--directory', o.rootfs, '--sort=name', '--numeric-owner', '--owner=0', '--group=0',
      '--mtime=@0', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '.']);
    const layerHex = await sha256File(layerTmp);
    const layerBytes = statSync(layerTmp).size;
    renameSync(layerTmp, join(layout, 'blobs/sha256', layerHex));
    const config = blob(layout, {
      architecture: GOARCH[process.arch] ?? process.arch,
      os: 'linux',
      config: {
        ...(o.env?.length ? { Env: o.env } : {}),
        ...(o.entrypoint ? { Entrypoint: o.entrypoint } : {}),
        ...(o.cmd ? { Cmd: o.cmd } : {}),
        ...(o.workdir ? { WorkingDir: o.workdir } : {}),
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] },
      history: [{ created_by: 'tsvpp perf/peers/oci-image.ts' }],
    });
    const manifest = blob(layout, {
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: MT.config, ...config },
      layers: [{ mediaType: MT.layer, digest: `sha256:${layerHex}`, size: layerBytes }],
    });
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: [{
        mediaType: MT.manifest, ...manifest,
        annotations: { 'io.containerd.image.name': o.name, 'org.opencontainers.image.ref.name': o.name },
      }],
    }));
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const out = resolve(o.out);
    const tmpOut = `${out}.tmp-${process.pid}`;
    tar(['--create', '--file', tmpOut, '--directory', layout, '--numeric-owner', '--owner=0', '--group=0', 'oci-layout', 'index.json', 'blobs']);
    renameSync(tmpOut, out);
    return { out, manifestDigest: manifest.digest, layerBytes };
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): OciImageOptions {
  const o: Partial<OciImageOptions> & { env: string[] } = { env: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    i++;
    switch (flag) {
      case '--rootfs': o.rootfs = v; break;
      case '--name': o.name = v; break;
      case '--out': o.out = v; break;
      case '--entrypoint': case '--cmd': {
        let a: unknown;
        try { a = JSON.parse(v); } catch { a = undefined; }
        if (!Array.isArray(a) || a.some((x) => typeof x !== 'string')) throw new Error(`${flag} ${JSON.stringify(v)}: expected a JSON array of strings`);
        if (flag === '--cmd') o.cmd = a as string[]; else o.entrypoint = a as string[];
        break;
      }
      case '--env': if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) throw new Error(`--env ${JSON.stringify(v)}: expected NAME=VALUE`); o.env.push(v); break;
      case '--workdir': o.workdir = v; break;
      default: throw new Error(`unknown flag ${flag}`);
    }
  }
  for (const k of ['rootfs', 'name', 'out'] as const) if (!o[k]) throw new Error(`--${k} is required`);
  return o as OciImageOptions;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const r = await writeOciImage(parseArgs(process.argv.slice(2)));
    console.log(`${r.out}: ${r.manifestDigest} (layer ${(r.layerBytes / 1048576).toFixed(1)} MiB)`);
  } catch (e) {
    console.error(`oci-image: ${(e as Error).message}`);
    process.exit(2);
  }
}
