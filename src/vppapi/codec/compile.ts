/**
 * Compiles a layout node into an encoder and a decoder: straight-line JavaScript built once per
 * message/type (new Function), nested typedefs inlined, fixed parts at constant offsets from the
 * last variable-size field, bounds checked once per run of fixed fields.
 */
import { ApiCodecError } from './errors.js';
import { H, type UnionRuntime } from './runtime.js';
import { INT_RANGE, type FieldNode, type Node, type StructNode, type UnionNode } from './layout.js';

export type Encoder = (v: unknown) => Uint8Array;
/**
 * Where encodeInto writes: room(n) returns an offset with n writable bytes in `u8` (read u8 and
 * dv after calling it: the target may switch buffers); dv views the same bytes, index for index.
 */
export interface EncodeTarget {
  room(n: number): number;
  readonly u8: Uint8Array;
  readonly dv: DataView;
}
/** Encodes into target; returns the offset it wrote at (the size is what room() was asked for). */
export type IntoEncoder = (v: unknown, t: EncodeTarget) => number;
/** Decodes at pos, bounded by end; leaves the end offset in state.pos. */
export type Decoder = (u8: Uint8Array, dv: DataView, pos: number, end: number) => unknown;
export interface Compiled { enc: Encoder; into: IntoEncoder; dec: Decoder; state: { pos: number } }

const GET: Record<string, string> = { u8: 'getUint8', i8: 'getInt8', u16: 'getUint16', i16: 'getInt16', u32: 'getUint32', i32: 'getInt32' };
const SET: Record<string, string> = { u8: 'setUint8', i8: 'setInt8', u16: 'setUint16', i16: 'setInt16', u32: 'setUint32', i32: 'setInt32' };

export function isU8(n: Node): boolean {
  return n.kind === 'int' && n.t === 'u8' && !n.alias;
}

const q = (s: string): string => JSON.stringify(s);

/**
 * Shared pieces of both generators: constants, fresh names, emitted lines, and the position
 * (`base` variable + constant `off` not yet added to it, so runs of fixed fields cost no adds).
 */
abstract class Gen {
  protected lines: string[] = [];
  private consts: unknown[] = [];
  private seq = 0;
  protected base = 'o';
  protected off = 0;
  constructor(protected readonly unionRt: (u: UnionNode) => UnionRuntime) {}
  protected v(prefix = 'v'): string { return `${prefix}${this.seq++}`; }
  /** Emits the pending constant offset into `o`. */
  protected flush(): void {
    if (this.off) { this.emit(`o += ${this.off};`); this.off = 0; }
  }
  protected pos(): string { return this.off ? `${this.base} + ${this.off}` : this.base; }
  /** Runs f with positions relative to a new variable holding `base` (array elements). */
  protected inBase<T>(base: string, f: () => T): T {
    const b = this.v('b');
    this.emit(`const ${b} = ${base};`);
    const [sb, so] = [this.base, this.off];
    this.base = b; this.off = 0;
    const r = f();
    this.base = sb; this.off = so;
    return r;
  }
  protected k(value: unknown): string {
    const i = this.consts.length;
    this.consts.push(value);
    return `c${i}`;
  }
  protected emit(s: string): void { this.lines.push(s); }
  protected build<T>(body: string): T {
    const names = this.consts.map((_, i) => `c${i}`);
    const src = `${names.length ? `const [${names.join(', ')}] = K;\n` : ''}${body}`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('K', 'H', src)(this.consts, H) as T;
  }
}

/** Path expressions: a JS expression evaluated only when reporting an error. */
const sub = (p: string, field: string): string =>
  /^"(?:[^"\\]|\\.)*"$/.test(p) ? q((JSON.parse(p) as string) + '.' + field) : `${p} + ${q('.' + field)}`;
const idx = (p: string, i: string): string => `${p} + '[' + ${i} + ']'`;

class EncGen extends Gen {
  /** Two entry points over the same sizing and writing code: into a new array, or into a target. */
  compile(root: Node, name: string): { enc: Encoder; into: IntoEncoder } {
    const p = q(name);
    this.emit('let n = 0;');
    this.size(root, 'v', p);
    const sizing = this.lines.splice(0);
    this.write(root, 'v', p, undefined);
    this.flush();
    const writing = this.lines.splice(0);
    const check = (start: string): string => `if (o - ${start} !== n) H.fail(${p}, 'internal: wrote ' + (o - ${start}) + ' of ' + n + ' bytes');`;
    return this.build<{ enc: Encoder; into: IntoEncoder }>([
      'const enc = function encode(v) {', ...sizing,
      'const u8 = new Uint8Array(n); const dv = new DataView(u8.buffer); let o = 0;', ...writing, check('0'), 'return u8; };',
      // The target's bytes may hold anything; the writer leaves absent fields and padding untouched.
      'const into = function encodeInto(v, t) {', ...sizing,
      'const s = t.room(n); const u8 = t.u8; const dv = t.dv; let o = s; u8.fill(0, s, s + n);', ...writing, check('s'), 'return s; };',
      'return { enc, into };',
    ].join('\n'));
  }

  /** Emits `n += size of x`, validating what sizing needs (types of strings and arrays). */
  private size(node: Node, x: string, p: string): void {
    if (node.size !== undefined) { this.emit(`n += ${node.size};`); return; }
    switch (node.kind) {
      case 'vstring': {
        this.emit(`if (${x} == null) n += 4; else { if (typeof ${x} !== 'string') H.badType(${p}, 'string', ${x}); const L = H.utf8len(${x});`);
        if (node.max !== undefined) this.emit(`if (L > ${node.max}) H.fail(${p}, 'string of ' + L + ' bytes exceeds the limit of ${node.max}');`);
        this.emit('n += 4 + L; }');
        return;
      }
      case 'vla': case 'legacy': {
        const a = this.v('a');
        this.emit(`const ${a} = ${x};`);
        this.emit(`if (${a} != null) {`);
        if (isU8(node.elem)) {
          this.emit(`const L = H.bytesLen(${a}, ${p});`);
        } else {
          this.emit(`H.arr(${a}, ${p}); const L = ${a}.length;`);
        }
        if (node.kind === 'vla' && node.max !== undefined) this.emit(`if (L > ${node.max}) H.tooMany(${p}, L, ${node.max});`);
        const es = node.elem.size;
        if (es !== undefined) this.emit(`n += L * ${es};`);
        else {
          const i = this.v('i');
          this.emit(`for (let ${i} = 0; ${i} < L; ${i}++) {`);
          this.size(node.elem, `${a}[${i}]`, idx(p, i));
          this.emit('}');
        }
        this.emit('}');
        return;
      }
      case 'farray': {
        const a = this.v('a'), i = this.v('i');
        this.emit(`const ${a} = ${x};`);
        this.emit(`if (${a} == null) n += ${node.min}; else { H.arrN(${a}, ${node.n}, ${p});`);
        this.emit(`for (let ${i} = 0; ${i} < ${node.n}; ${i}++) {`);
        this.size(node.elem, `${a}[${i}]`, idx(p, i));
        this.emit('} }');
        return;
      }
      case 'struct': {
        const s = this.v('s');
        this.emit(`const ${s} = H.obj(${x}, ${p});`);
        let fixed = 0;
        for (const f of node.fields) {
          if (f.node.size !== undefined) fixed += f.node.size;
          else this.size(f.node, `${s}[${q(f.name)}]`, sub(p, f.name));
        }
        if (fixed) this.emit(`n += ${fixed};`);
        return;
      }
      default:
        throw new ApiCodecError(p, `internal: no size for ${(node as Node).kind}`);
    }
  }

  /** Emits code writing x (undefined -> default/zero) at the current position. */
  private write(node: Node, x: string, p: string, dflt: unknown): void {
    switch (node.kind) {
      case 'int': {
        const t = this.v('t');
        const [min, max] = INT_RANGE[node.t];
        this.emit(`{ let ${t} = ${x};`);
        const check = `if (typeof ${t} !== 'number' || !(${t} >= ${min} && ${t} <= ${max}) || !Number.isInteger(${t})) H.badInt(${p}, '${node.t}', ${t});`;
        if (dflt !== undefined && dflt !== 0) this.emit(`if (${t} == null) ${t} = ${Number(dflt)}; else ${check}`);
        else this.emit(`if (${t} == null) ${t} = 0; else ${check}`);
        this.emit(`dv.${SET[node.t]}(${this.pos()}, ${t}); }`);
        this.off += node.size;
        return;
      }
      case 'enum': {
        const t = this.v('t');
        const [min, max] = INT_RANGE[node.t];
        const ok = node.flags
          ? `((${t} & ${~node.mask}) === 0)`
          : `${this.k(node.values)}.has(${t})`;
        this.emit(`{ let ${t} = ${x};`);
        this.emit(`if (${t} == null) ${t} = ${Number(dflt ?? 0)}; else if (typeof ${t} !== 'number' || !(${t} >= ${min} && ${t} <= ${max}) || !Number.isInteger(${t}) || !${ok}) H.badEnum(${p}, ${q(node.name)}, ${node.flags}, '${node.t}', ${t});`);
        this.emit(`dv.${SET[node.t]}(${this.pos()}, ${t}); }`);
        this.off += node.size;
        return;
      }
      case 'bigint': {
        const t = this.v('t');
        const lo = node.t === 'u64' ? 0n : -(2n ** 63n), hi = node.t === 'u64' ? 2n ** 64n - 1n : 2n ** 63n - 1n;
        const d = dflt === undefined ? '0n' : `${String(dflt)}n`;
        this.emit(`{ let ${t} = ${x};`);
        this.emit(`if (${t} == null) ${t} = ${d}; else { if (typeof ${t} === 'number' && Number.isSafeInteger(${t})) ${t} = BigInt(${t}); if (typeof ${t} !== 'bigint' || ${t} < ${lo}n || ${t} > ${hi}n) H.badInt(${p}, '${node.t}', ${t}); }`);
        this.emit(`dv.${node.t === 'u64' ? 'setBigUint64' : 'setBigInt64'}(${this.pos()}, ${t}); }`);
        this.off += 8;
        return;
      }
      case 'f64': {
        const t = this.v('t');
        this.emit(`{ let ${t} = ${x};`);
        this.emit(`if (${t} == null) ${t} = ${dflt === undefined ? 0 : Number(dflt)}; else if (typeof ${t} !== 'number') H.badType(${p}, 'number (f64)', ${t});`);
        this.emit(`dv.setFloat64(${this.pos()}, ${t}, true); }`);
        this.off += 8;
        return;
      }
      case 'bool': {
        const t = this.v('t');
        this.emit(`{ const ${t} = ${x};`);
        this.emit(`if (${t} === true || ${t} === 1${dflt === true ? ` || ${t} == null` : ''}) u8[${this.pos()}] = 1; else if (!(${t} === false || ${t} === 0 || ${t} == null)) H.badType(${p}, 'boolean', ${t}); }`);
        this.off += 1;
        return;
      }
      case 'bytes': {
        this.emit(`if (${x} != null) u8.set(H.fixedBytes(${x}, ${node.n}, ${p}), ${this.pos()});`);
        this.off += node.n;
        return;
      }
      case 'fstring': {
        this.emit(`if (${x} != null) H.writeCStr(u8, ${this.pos()}, ${x}, ${node.n}, ${node.max}, ${p});`);
        this.off += node.n;
        return;
      }
      case 'vstring': {
        this.flush();
        const t = this.v('t');
        this.emit(`{ const ${t} = ${x}; if (${t} == null) o += 4; else { const L = H.writeStr(u8, o + 4, ${t}); dv.setUint32(o, L); o += 4 + L; } }`);
        return;
      }
      case 'farray': {
        const a = this.v('a'), i = this.v('i');
        this.emit(`{ const ${a} = ${x};`);
        if (node.size !== undefined) {
          // Fixed elements: each at a constant stride from here.
          const es = node.elem.size!;
          this.emit(`if (${a} != null) { H.arrN(${a}, ${node.n}, ${p}); for (let ${i} = 0; ${i} < ${node.n}; ${i}++) {`);
          this.inBase(`${this.pos()} + ${i} * ${es}`, () => this.write(node.elem, `${a}[${i}]`, idx(p, i), undefined));
          this.emit('} } }');
          this.off += node.size;
        } else {
          this.flush();
          this.emit(`for (let ${i} = 0; ${i} < ${node.n}; ${i}++) {`);
          this.write(node.elem, `(${a} == null ? undefined : ${a}[${i}])`, idx(p, i), undefined);
          this.flush();
          this.emit('} }');
        }
        return;
      }
      case 'vla': case 'legacy': {
        this.flush();
        const a = this.v('a');
        this.emit(`{ const ${a} = ${x}; if (${a} != null) {`);
        if (isU8(node.elem)) {
          this.emit(`u8.set(${a}, o); o += ${a}.length;`);
        } else if (node.elem.size !== undefined) {
          const i = this.v('i'), es = node.elem.size;
          this.emit(`for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`);
          this.inBase(`o + ${i} * ${es}`, () => this.write(node.elem, `${a}[${i}]`, idx(p, i), undefined));
          this.emit(`} o += ${a}.length * ${es};`);
        } else {
          const i = this.v('i');
          this.emit(`for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`);
          this.write(node.elem, `${a}[${i}]`, idx(p, i), undefined);
          this.flush();
          this.emit('}');
        }
        this.emit('} }');
        return;
      }
      case 'struct': this.struct(node, x, p); return;
      case 'union': {
        this.union(node, x, p, undefined);
        return;
      }
    }
  }

  private union(node: UnionNode, x: string, p: string, key: string | undefined): void {
    const k = key ?? this.v('k');
    this.emit(`if (${x} != null) {`);
    if (!key) this.emit(`const ${k} = H.unionKey(${x}, ${p}, ${this.k(new Set(node.arms.map((a) => a.name)))}, ${q(node.name)});`);
    this.emit(`switch (${k}) {`);
    const startOff = this.off;
    for (const arm of node.arms) {
      this.emit(`case ${q(arm.name)}: {`);
      this.off = startOff;
      this.write(arm.node, `${x}[${q(arm.name)}]`, sub(p, arm.name), undefined);
      this.emit('break; }');
    }
    this.emit('} }');
    this.off = startOff + node.size;
  }

  private struct(node: StructNode, x: string, p: string): void {
    const s = this.v('s');
    const known = this.k(new Set(node.fields.map((f) => f.name)));
    this.emit(`{ const ${s} = H.obj(${x}, ${p});`);
    this.emit(`for (const key in ${s}) if (!${known}.has(key)) H.unknownField(${p}, key);`);
    const counts = new Map<string, string>();
    const keys = new Map<string, string>();
    for (const f of node.fields) {
      if (f.node.kind === 'vla') {
        const c = this.v('n');
        const lenExpr = isU8(f.node.elem) ? `${s}[${q(f.name)}].length` : `${s}[${q(f.name)}].length`;
        this.emit(`const ${c} = ${s}[${q(f.name)}] == null ? 0 : ${lenExpr};`);
        counts.set(f.name, c);
      }
      if (f.discriminator && f.node.kind === 'union') {
        const kk = this.v('k');
        const arms = this.k(new Set(f.node.arms.map((a) => a.name)));
        this.emit(`const ${kk} = ${s}[${q(f.name)}] == null ? undefined : H.unionKey(${s}[${q(f.name)}], ${sub(p, f.name)}, ${arms}, ${q(f.node.name)});`);
        keys.set(f.name, kk);
      }
    }
    for (const f of node.fields) {
      const fx = `${s}[${q(f.name)}]`;
      const fp = sub(p, f.name);
      if (f.countOf.length) this.lengthField(f, fx, fp, counts, node);
      else if (f.discriminates.length) this.discField(f, fx, fp, keys, node);
      else if (f.node.kind === 'union' && keys.has(f.name)) this.union(f.node, fx, fp, keys.get(f.name));
      else this.write(f.node, fx, fp, f.dflt);
    }
    this.emit('}');
  }

  /** A VLA count: filled from the array when left out, else must match it. */
  private lengthField(f: FieldNode, fx: string, fp: string, counts: Map<string, string>, _s: StructNode): void {
    const t = this.v('t');
    const first = counts.get(f.countOf[0]!)!;
    const all = f.countOf.map((name) => `[${q(name)}, ${counts.get(name)}]`).join(', ');
    const mismatch = f.countOf.map((name) => `${counts.get(name)} !== Number(${t})`).join(' || ');
    this.emit(`{ let ${t} = ${fx};`);
    this.emit(`if (${t} == null) ${t} = ${first};`);
    this.emit(`if ((typeof ${t} === 'number' || typeof ${t} === 'bigint') && (${mismatch})) H.badCount(${fp}, ${q(f.name)}, ${t}, [${all}]);`);
    this.write(f.node, t, fp, undefined);
    this.emit('}');
  }

  /** A union discriminator: filled from the chosen arm when left out, else must agree with it. */
  private discField(f: FieldNode, fx: string, fp: string, keys: Map<string, string>, s: StructNode): void {
    const t = this.v('t');
    this.emit(`{ let ${t} = ${fx};`);
    for (const uname of f.discriminates) {
      const u = s.fields.find((x) => x.name === uname)!;
      const cases = this.k(Object.fromEntries(u.discriminator!.cases));
      const kk = keys.get(uname)!;
      this.emit(`if (${kk} !== undefined && Object.prototype.hasOwnProperty.call(${cases}, ${kk})) {`);
      this.emit(`if (${t} == null) ${t} = ${cases}[${kk}]; else if (${t} !== ${cases}[${kk}]) H.badDisc(${fp}, ${t}, ${kk}, ${q(uname)}, ${cases}[${kk}]); }`);
    }
    this.write(f.node, t, fp, f.dflt);
    this.emit('}');
  }
}

class DecGen extends Gen {
  compile(root: Node, name: string, state: { pos: number }): Decoder {
    const st = this.k(state);
    const p = q(name);
    this.emit('return function decode(u8, dv, o, end) {');
    let r: string;
    if (root.size !== undefined) {
      this.emit(`if (o + ${root.size} > end) H.trunc(${p}, ${this.k(this.table(root))}, o, end);`);
      r = this.fixed(root, p);
      this.flush();
    } else {
      r = this.variable(root, p);
      this.flush();
    }
    this.emit(`${st}.pos = o;`);
    this.emit(`return ${r};`);
    this.emit('};');
    return this.build<Decoder>(this.lines.join('\n'));
  }

  private table(node: Node): [string, number][] {
    if (node.kind === 'struct') {
      let e = 0;
      return node.fields.map((f) => { e += f.node.size ?? 0; return ['.' + f.name, e] as [string, number]; });
    }
    return [['', node.size ?? 0]];
  }

  /** Reads a fixed-size node at base+off; bounds already checked by the caller. */
  private fixed(node: Node, p: string, disc?: Disc): string {
    const r = this.v();
    switch (node.kind) {
      case 'int': case 'enum':
        this.emit(`const ${r} = dv.${GET[node.t]}(${this.pos()});`);
        break;
      case 'bigint':
        this.emit(`const ${r} = dv.${node.t === 'u64' ? 'getBigUint64' : 'getBigInt64'}(${this.pos()});`);
        break;
      case 'f64':
        this.emit(`const ${r} = dv.getFloat64(${this.pos()}, true);`);
        break;
      case 'bool':
        this.emit(`const ${r} = u8[${this.pos()}] !== 0;`);
        break;
      case 'bytes':
        this.emit(`const ${r} = u8.slice(${this.pos()}, ${this.pos()} + ${node.n});`);
        break;
      case 'fstring':
        this.emit(`const ${r} = H.readCStr(u8, ${this.pos()}, ${node.n});`);
        break;
      case 'farray': {
        const i = this.v('i'), es = node.elem.size!;
        this.emit(`const ${r} = new Array(${node.n});`);
        this.emit(`for (let ${i} = 0; ${i} < ${node.n}; ${i}++) {`);
        const e = this.inBase(`${this.pos()} + ${i} * ${es}`, () => this.fixed(node.elem, idx(p, i)));
        this.emit(`${r}[${i}] = ${e}; }`);
        this.off += node.size!;
        return r;
      }
      case 'struct': {
        const loc = new Map<string, string>();
        for (const f of node.fields) loc.set(f.name, this.fixed(f.node, sub(p, f.name), discFor(f, loc)));
        this.emit(`const ${r} = {${node.fields.map((f) => `${q(f.name)}: ${loc.get(f.name)}`).join(', ')}};`);
        return r;
      }
      case 'union': {
        this.unionAt(node, r, p, disc);
        return r;
      }
      default:
        throw new ApiCodecError(p, `internal: ${node.kind} is not fixed`);
    }
    this.off += node.size!;
    return r;
  }

  private unionAt(node: UnionNode, r: string, p: string, disc: Disc | undefined): void {
    const rt = this.k(this.unionRt(node));
    this.emit(`let ${r};`);
    const start = this.off;
    if (disc && disc.cases.size) {
      this.emit(`switch (${disc.local}) {`);
      const seen = new Set<number>();
      for (const arm of node.arms) {
        const c = disc.cases.get(arm.name);
        if (c === undefined || seen.has(c)) continue;
        seen.add(c);
        this.emit(`case ${c}: {`);
        this.off = start;
        const v = this.fixed(arm.node, sub(p, arm.name));
        this.emit(`${r} = {${q(arm.name)}: ${v}}; break; }`);
      }
      this.off = start;
      this.emit(`default: ${r} = H.guessArm(${rt}, u8, dv, ${this.pos()}); }`);
    } else {
      this.emit(`${r} = H.guessArm(${rt}, u8, dv, ${this.pos()});`);
    }
    this.off = start + node.size;
  }

  /** Reads a variable-size node at o (flushed), checking bounds itself. */
  private variable(node: Node, p: string): string {
    this.flush();
    const r = this.v();
    switch (node.kind) {
      case 'vstring': {
        const L = this.v('L');
        this.emit(`if (end - o < 4) H.short(${p}, 'the string length prefix would', 4, end - o);`);
        this.emit(`const ${L} = dv.getUint32(o); o += 4;`);
        this.emit(`if (${L} > end - o) H.short(${p}, 'string of length ' + ${L} + ' would', ${L}, end - o);`);
        this.emit(`const ${r} = H.readStr(u8, o, o + ${L}); o += ${L};`);
        return r;
      }
      case 'farray': {
        const i = this.v('i');
        this.emit(`const ${r} = new Array(${node.n});`);
        this.emit(`for (let ${i} = 0; ${i} < ${node.n}; ${i}++) {`);
        const e = this.any(node.elem, idx(p, i));
        this.flush();
        this.emit(`${r}[${i}] = ${e}; }`);
        return r;
      }
      case 'struct': return this.struct(node, p);
      default:
        throw new ApiCodecError(p, `internal: ${node.kind} needs a count`);
    }
  }

  /** A node of either size class at the current position. */
  private any(node: Node, p: string): string {
    if (node.size === undefined) return this.variable(node, p);
    this.flush();
    this.emit(`if (o + ${node.size} > end) H.trunc(${p}, ${this.k(this.table(node))}, o, end);`);
    return this.fixed(node, p);
  }

  /** Elements of a VLA (count known) or legacy array (runs to end). */
  private array(node: Node & { kind: 'vla' | 'legacy' }, count: string | undefined, p: string): string {
    this.flush();
    const r = this.v(), elem = node.elem, es = elem.size;
    const n = this.v('n');
    if (count === undefined) {
      // Legacy x[0]: everything that is left.
      if (es !== undefined) {
        this.emit(`if ((end - o) % ${es} !== 0) H.fail(${p}, 'legacy array: ' + (end - o) + ' remaining bytes are not a multiple of ${es}');`);
        this.emit(`const ${n} = (end - o) / ${es};`);
      } else {
        this.emit(`const ${n} = -1;`);
      }
    } else {
      this.emit(`const ${n} = Number(${count});`);
    }
    if (isU8(elem)) {
      this.emit(`if (${n} > end - o) H.short(${p}, ${n} + ' bytes would', ${n}, end - o);`);
      this.emit(`const ${r} = u8.slice(o, o + ${n}); o += ${n};`);
      return r;
    }
    if (es !== undefined) {
      this.emit(`if (${n} * ${es} > end - o) H.short(${p}, ${n} + ' elements would', ${n} * ${es}, end - o);`);
      this.emit(`const ${r} = new Array(${n});`);
      const i = this.v('i');
      this.emit(`for (let ${i} = 0; ${i} < ${n}; ${i}++) {`);
      const e = this.inBase(`o + ${i} * ${es}`, () => this.fixed(elem, idx(p, i)));
      this.emit(`${r}[${i}] = ${e}; }`);
      this.emit(`o += ${n} * ${es};`);
      return r;
    }
    const min = elem.min;
    const i = this.v('i');
    if (count === undefined) {
      this.emit(`const ${r} = [];`);
      this.emit(`for (let ${i} = 0; o < end; ${i}++) {`);
      const e = this.variable(elem, idx(p, i));
      this.flush();
      this.emit(`${r}.push(${e}); }`);
      return r;
    }
    if (min > 0) this.emit(`if (${n} * ${min} > end - o) H.short(${p}, ${n} + ' elements would', ${n} * ${min}, end - o);`);
    this.emit(`const ${r} = new Array(${n});`);
    this.emit(`for (let ${i} = 0; ${i} < ${n}; ${i}++) {`);
    const e = this.variable(elem, idx(p, i));
    this.flush();
    this.emit(`${r}[${i}] = ${e}; }`);
    return r;
  }

  private struct(node: StructNode, p: string): string {
    const loc = new Map<string, string>();
    const fields = node.fields;
    for (let i = 0; i < fields.length;) {
      const f = fields[i]!;
      if (f.node.size === undefined) {
        const fp = sub(p, f.name);
        if (f.node.kind === 'vla') loc.set(f.name, this.array(f.node, loc.get(f.node.lengthField), fp));
        else if (f.node.kind === 'legacy') loc.set(f.name, this.array(f.node, undefined, fp));
        else loc.set(f.name, this.variable(f.node, fp));
        i++;
        continue;
      }
      // A run of fixed fields: one bounds check, then constant offsets.
      let j = i, e = 0;
      const table: [string, number][] = [];
      while (j < fields.length && fields[j]!.node.size !== undefined) {
        e += fields[j]!.node.size!;
        table.push(['.' + fields[j]!.name, e]);
        j++;
      }
      this.flush();
      this.emit(`if (o + ${e} > end) H.trunc(${p}, ${this.k(table)}, o, end);`);
      for (; i < j; i++) {
        const g = fields[i]!;
        loc.set(g.name, this.fixed(g.node, sub(p, g.name), discFor(g, loc)));
      }
    }
    const r = this.v();
    this.emit(`const ${r} = {${fields.map((f) => `${q(f.name)}: ${loc.get(f.name)}`).join(', ')}};`);
    return r;
  }
}

/** The decoded discriminator of a union field, when it was read earlier in the same struct. */
interface Disc { local: string; cases: Map<string, number> }
function discFor(f: FieldNode, loc: Map<string, string>): Disc | undefined {
  if (!f.discriminator) return undefined;
  const local = loc.get(f.discriminator.field);
  return local === undefined ? undefined : { local, cases: f.discriminator.cases };
}

export function compileNode(root: Node, name: string, unionRt: (u: UnionNode) => UnionRuntime): Compiled {
  const state = { pos: 0 };
  const { enc, into } = new EncGen(unionRt).compile(root, name);
  const dec = new DecGen(unionRt).compile(root, name, state);
  return { enc, into, dec, state };
}
