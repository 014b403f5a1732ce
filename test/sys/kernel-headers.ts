// The kernel's (and glibc's) C headers as a reference for wire layouts: reads the installed uapi
// headers (Debian's linux-libc-dev and libc6-dev) and gives every #define and enum constant's value
// and every struct's C layout (offsets by the compiler's natural alignment). A test that needs them
// fails, naming the package, when they are not installed.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const INCLUDE = '/usr/include';

/** The multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu) holding glibc's bits/. */
function multiarch(): string {
  const d = readdirSync(INCLUDE).find((n) => n.endsWith('-linux-gnu') && existsSync(join(INCLUDE, n, 'bits', 'socket.h')));
  if (!d) throw new Error(`no ${INCLUDE}/<arch>-linux-gnu/bits/socket.h: install libc6-dev`);
  return d;
}

/** A member; `flexible`: a trailing `[]` array, which takes no room in the struct (it follows it). */
export interface CField { name: string; offset: number; size: number; signed: boolean; bigEndian?: boolean; struct?: string; flexible?: boolean }
export interface CStruct { size: number; align: number; fields: CField[] }

export interface Headers {
  /** Every constant by name: each value a header gave it (two headers may disagree). */
  constants: Map<string, number[]>;
  /** The C layout of `struct name` (undefined: no header declares it). */
  struct(name: string): CStruct | undefined;
  files: string[];
}

const stripComments = (s: string) => s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');

/** A C integer constant expression over numbers, known names, | & ^ << >> + - * ~ and parentheses. */
function evaluate(expr: string, lookup: (name: string) => number | undefined): number | undefined {
  const src = expr.replace(/\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b/g, '$1').trim();
  const ioc = /^_IO([WR]{0,2})\('(.)',\s*(\d+),\s*(int|unsigned int)\)$/.exec(src);
  if (ioc) { // asm-generic/ioctl.h: dir << 30 | size << 16 | type << 8 | nr
    const dir = (ioc[1]!.includes('W') ? 1 : 0) | (ioc[1]!.includes('R') ? 2 : 0);
    return ((dir << 30) | (4 << 16) | (ioc[2]!.charCodeAt(0) << 8) | Number(ioc[3])) >>> 0;
  }
  const tokens = src.match(/0[xX][0-9a-fA-F]+|\d+|[A-Za-z_]\w*|<<|>>|[|&^+\-*~()]/g);
  if (!tokens || tokens.join('') !== src.replace(/\s+/g, '')) return undefined;
  let i = 0;
  const peek = () => tokens[i];
  const binary = (ops: string[], next: () => number | undefined) => (): number | undefined => {
    let v = next();
    while (v !== undefined && ops.includes(peek() ?? '')) {
      const op = tokens[i++]!, r = next();
      if (r === undefined) return undefined;
      v = op === '|' ? v | r : op === '&' ? v & r : op === '^' ? v ^ r : op === '<<' ? v << r : op === '>>' ? v >> r : op === '+' ? v + r : op === '-' ? v - r : v * r;
    }
    return v;
  };
  const unary = (): number | undefined => {
    const t = tokens[i++];
    if (t === undefined) return undefined;
    if (t === '(') { const v = or(); return tokens[i++] === ')' ? v : undefined; }
    if (t === '~') { const v = unary(); return v === undefined ? undefined : ~v; }
    if (t === '-') { const v = unary(); return v === undefined ? undefined : -v; }
    if (/^0[xX]/.test(t)) return parseInt(t, 16);
    if (/^0\d+$/.test(t)) return parseInt(t, 8); // C: a leading 0 is octal
    if (/^\d+$/.test(t)) return Number(t);
    return lookup(t);
  };
  const mul = binary(['*'], unary), add = binary(['+', '-'], mul), shift = binary(['<<', '>>'], add);
  const and = binary(['&'], shift), xor = binary(['^'], and), or = binary(['|'], xor);
  const v = or();
  return i === tokens.length ? v : undefined;
}

const SCALARS: Record<string, { size: number; signed: boolean; bigEndian?: boolean }> = {
  'unsigned char': { size: 1, signed: false }, __u8: { size: 1, signed: false }, char: { size: 1, signed: true }, __s8: { size: 1, signed: true },
  'unsigned short': { size: 2, signed: false }, __u16: { size: 2, signed: false }, __kernel_sa_family_t: { size: 2, signed: false }, __s16: { size: 2, signed: true },
  short: { size: 2, signed: true }, __be16: { size: 2, signed: false, bigEndian: true }, __be32: { size: 4, signed: false, bigEndian: true },
  int: { size: 4, signed: true }, __s32: { size: 4, signed: true }, unsigned: { size: 4, signed: false }, 'unsigned int': { size: 4, signed: false }, __u32: { size: 4, signed: false },
  __u64: { size: 8, signed: false }, __s64: { size: 8, signed: true },
};

/** Reads the headers (paths under /usr/include; `<arch>/` is the multiarch directory). */
export function readHeaders(paths: readonly string[]): Headers {
  const arch = multiarch();
  const files = paths.map((p) => join(INCLUDE, p.replace(/^<arch>\//, `${arch}/`)));
  for (const f of files) if (!existsSync(f)) throw new Error(`${f} is missing: install linux-libc-dev and libc6-dev (the kernel's uapi headers)`);
  const raw = new Map<string, string[]>(); // name -> expressions
  const enumBodies: string[] = [];
  const structBodies = new Map<string, string>();
  for (const f of files) {
    const text = stripComments(readFileSync(f, 'utf8')).replace(/\\\n/g, ' ');
    const code: string[] = [];
    for (const line of text.split('\n')) {
      const d = /^\s*#\s*define\s+([A-Za-z_]\w*)(\(?)\s*(.*)$/.exec(line);
      if (d) { if (!d[2] && d[3]!.trim() && d[3]!.trim() !== d[1]) raw.set(d[1]!, [...(raw.get(d[1]!) ?? []), d[3]!.trim()]); continue; }
      if (!/^\s*#/.test(line)) code.push(line);
    }
    const c = code.join('\n');
    for (const m of c.matchAll(/\benum\b\s*\w*\s*\{([^}]*)\}/g)) enumBodies.push(m[1]!);
    for (const m of c.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}\s*;/g)) structBodies.set(m[1]!, m[2]!);
  }
  const constants = new Map<string, number[]>();
  const lookup = (name: string, seen = new Set<string>()): number | undefined => {
    const known = constants.get(name);
    if (known) return known[0];
    if (seen.has(name)) return undefined;
    seen.add(name);
    for (const e of raw.get(name) ?? []) {
      const v = evaluate(e, (n) => lookup(n, seen));
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const add = (name: string, v: number) => {
    const vs = constants.get(name) ?? [];
    if (!vs.includes(v)) vs.push(v);
    constants.set(name, vs);
  };
  for (const body of enumBodies) {
    let next = 0;
    for (const item of body.split(',').map((x) => x.trim()).filter(Boolean)) {
      const [name, expr] = item.split('=').map((x) => x.trim());
      const v = expr === undefined ? next : evaluate(expr, (n) => lookup(n));
      if (v === undefined || !/^[A-Za-z_]\w*$/.test(name!)) break; // something this reader does not follow
      add(name!, v);
      next = v + 1;
    }
  }
  for (const name of raw.keys()) {
    const v = lookup(name);
    if (v !== undefined) add(name, v);
  }
  const structs = new Map<string, CStruct>();
  const layout = (name: string): CStruct | undefined => {
    if (structs.has(name)) return structs.get(name);
    const body = structBodies.get(name);
    if (body === undefined) return undefined;
    const fields: CField[] = [];
    let off = 0, align = 1;
    // A member list behind a macro (pkt_cls.h's tc_gen) is spelled out first.
    const members = body.replace(/^\s*(\w+)\s*;/gm, (m, name: string) => raw.get(name)?.find((e) => e.includes(';'))?.concat(';') ?? m);
    for (const decl of members.split(';').map((x) => x.trim().replace(/\s+/g, ' ')).filter(Boolean)) {
      const m = /^(.*?)\s*\b(\w+)(\[(\w*)\])?$/.exec(decl);
      if (!m) throw new Error(`struct ${name}: cannot read member "${decl}"`);
      const type = m[1]!, count = m[4] === undefined ? 1 : m[4] === '' ? 0 : Number(m[4]);
      const nested = /^struct (\w+)$/.exec(type);
      const t = nested ? layout(nested[1]!) : SCALARS[type];
      if (!t) throw new Error(`struct ${name}: member ${m[2]} has type "${type}" this reader does not know`);
      const a = nested ? (t as CStruct).align : (t as { size: number }).size;
      off = Math.ceil(off / a) * a;
      const scalar = nested ? undefined : t as { signed: boolean; bigEndian?: boolean };
      fields.push({
        name: m[2]!, offset: off, size: t.size, signed: scalar?.signed ?? false, ...(scalar?.bigEndian ? { bigEndian: true } : {}), ...(nested ? { struct: nested[1]! } : {}), ...(count === 0 ? { flexible: true } : {}),
      });
      off += t.size * count;
      align = Math.max(align, a);
    }
    const s = { size: Math.ceil(off / align) * align, align, fields };
    structs.set(name, s);
    return s;
  };
  return { constants, struct: layout, files };
}
