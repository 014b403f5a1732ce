/**
 * `tsvpp api vectors` and `tsvpp api gen`: check codec vectors, generate TypeScript bindings.
 *
 *   tsvpp api vectors --api-dir DIR FILE.jsonl...
 *   tsvpp api gen --api-dir DIR --out DIR [--module NAME]...
 */
import { readFileSync } from 'node:fs';
import { ApiRegistry, checkVector, type Vector } from '../vppapi/codec/index.js';
import { generateBindings } from '../vppapi/gen/index.js';

const VECTORS_USAGE = `usage: tsvpp api vectors --api-dir DIR FILE.jsonl...

Checks VPP API codec test vectors both ways (fields -> bytes and bytes -> fields), names each
failing vector and the first differing byte, and ends with "N passed, N failed" (exit 1 if any failed).

  --api-dir DIR   directory of .api.json files, searched recursively`;

const GEN_USAGE = `usage: tsvpp api gen --api-dir DIR --out DIR [--module NAME]...

Writes TypeScript bindings (interfaces, enum consts, request -> reply maps), one file per module
and an index.ts.

  --api-dir DIR   directory of .api.json files, searched recursively
  --out DIR       where to write the files
  --module NAME   only this module (types it uses from others are copied in); repeatable;
                  default every module`;

interface Parsed { opts: Map<string, string[]>; rest: string[]; help: boolean }

function parse(argv: string[], withValue: string[]): Parsed {
  const opts = new Map<string, string[]>();
  const rest: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') { help = true; continue; }
    const eq = a.indexOf('=');
    const key = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (withValue.includes(key)) {
      const v = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`${key} needs a value`);
      opts.set(key, [...(opts.get(key) ?? []), v]);
    } else if (a.startsWith('--')) {
      throw new Error(`unknown option ${a}`);
    } else {
      rest.push(a);
    }
  }
  return { opts, rest, help };
}

export async function vectorsMain(argv: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parse(argv, ['--api-dir']);
  } catch (e) {
    console.error(`tsvpp api vectors: ${(e as Error).message}`);
    return 2;
  }
  if (p.help) { console.log(VECTORS_USAGE); return 0; }
  const dir = p.opts.get('--api-dir')?.at(-1);
  if (!dir || p.rest.length === 0) {
    console.error(VECTORS_USAGE);
    return 2;
  }
  let reg: ApiRegistry;
  try {
    reg = ApiRegistry.fromDir(dir);
  } catch (e) {
    console.error(`tsvpp api vectors: ${(e as Error).message}`);
    return 2;
  }
  let passed = 0, failed = 0;
  for (const file of p.rest) {
    let lines: string[];
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch (e) {
      console.error(`${file}: ${(e as Error).message}`);
      failed++;
      continue;
    }
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let v: Vector;
      try {
        v = JSON.parse(line) as Vector;
      } catch (e) {
        console.log(`FAIL ${file}:${i + 1}: not JSON (${(e as Error).message})`);
        failed++;
        return;
      }
      const r = checkVector(reg, v);
      if (r.ok) passed++;
      else {
        failed++;
        console.log(`FAIL ${r.id}${r.offset !== undefined ? ` (first differing byte ${r.offset})` : ''}: ${r.problem}`);
      }
    });
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

export async function genMain(argv: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parse(argv, ['--api-dir', '--out', '--module']);
  } catch (e) {
    console.error(`tsvpp api gen: ${(e as Error).message}`);
    return 2;
  }
  if (p.help) { console.log(GEN_USAGE); return 0; }
  const dir = p.opts.get('--api-dir')?.at(-1);
  const out = p.opts.get('--out')?.at(-1);
  if (!dir || !out || p.rest.length) {
    console.error(GEN_USAGE);
    return 2;
  }
  try {
    const reg = ApiRegistry.fromDir(dir);
    const files = generateBindings(reg, { outDir: out, modules: p.opts.get('--module') });
    console.log(`wrote ${files.length} files to ${out}`);
    return 0;
  } catch (e) {
    console.error(`tsvpp api gen: ${(e as Error).message}`);
    return 1;
  }
}

/** `tsvpp api <vectors|gen> ...` */
export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'vectors') return vectorsMain(rest);
  if (sub === 'gen') return genMain(rest);
  console.error('usage: tsvpp api vectors --api-dir DIR FILE.jsonl...\n       tsvpp api gen --api-dir DIR --out DIR [--module NAME]...');
  return 2;
}
