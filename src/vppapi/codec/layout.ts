/**
 * Resolved wire layout: every field type reduced to one of a few node kinds that mirror the
 * wire format. Codegen (encode/decode), the JSON form and the value generator all walk these.
 */
import { ApiCodecError } from './errors.js';
import type { AliasDef, Def, EnumDef, RawField, Schema, StructDef } from './schema.js';

export type IntType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32';
export type BigType = 'u64' | 'i64';

export const INT_RANGE: Record<IntType, [number, number, number]> = {
  // [min, max, bytes]
  u8: [0, 0xff, 1], i8: [-0x80, 0x7f, 1],
  u16: [0, 0xffff, 2], i16: [-0x8000, 0x7fff, 2],
  u32: [0, 0xffffffff, 4], i32: [-0x80000000, 0x7fffffff, 4],
};

export type Node =
  | { kind: 'int'; t: IntType; size: number; min: number; max: number; alias?: string }
  | { kind: 'bigint'; t: BigType; size: 8; alias?: string }
  | { kind: 'f64'; size: 8; alias?: string }
  | { kind: 'bool'; size: 1; alias?: string }
  | EnumNode
  /** Fixed u8[N] (also aliases such as ip4_address): a Uint8Array of exactly N bytes. */
  | { kind: 'bytes'; n: number; size: number; alias?: string }
  /** string[N]: NUL padded to N bytes, at most `max` bytes of text. */
  | { kind: 'fstring'; n: number; max: number; size: number; alias?: string }
  /** string[]: u32 BE byte count + bytes; `max` bytes of text at most when limited. */
  | { kind: 'vstring'; max?: number; size?: undefined; min: 4; alias?: string }
  | { kind: 'farray'; elem: Node; n: number; size?: number; min: number; alias?: string }
  /** T x[len]: count held by the earlier sibling `lengthField`. */
  | { kind: 'vla'; elem: Node; lengthField: string; max?: number; size?: undefined; min: 0; alias?: string }
  /** Legacy T x[0] without a length field: runs to the end of the input. */
  | { kind: 'legacy'; elem: Node; size?: undefined; min: 0; alias?: string }
  | StructNode
  | UnionNode;

export interface EnumNode {
  kind: 'enum'; name: string; flags: boolean; t: IntType; size: number;
  members: [string, number][]; values: Set<number>; mask: number; alias?: string;
}

export interface FieldNode {
  name: string;
  /** Type as in the JSON, e.g. "vl_api_address_t". */
  type: string;
  node: Node;
  /** Native default from the JSON `default` option (scalars only). */
  dflt?: unknown;
  /** This field is the count of these later VLA fields. */
  countOf: string[];
  /** For a union field marked {discriminator: "af"}: the sibling and each arm's case value. */
  discriminator?: { field: string; cases: Map<string, number> };
  /** This field is the discriminator of these union fields. */
  discriminates: string[];
  options: Record<string, unknown>;
  raw: RawField;
}

export interface StructNode {
  kind: 'struct'; name: string; fields: FieldNode[]; size?: number; min: number;
  /** True when a union without discriminator sits somewhere inside (decode cannot always tell the arm). */
  ambiguous: boolean; alias?: string;
}

export interface UnionArm { name: string; type: string; node: Node; case?: string }
export interface UnionNode { kind: 'union'; name: string; arms: UnionArm[]; size: number; alias?: string }

const BASE = new Set(['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64', 'f64', 'bool', 'string']);

/** "vl_api_address_t" -> "address"; base types unchanged. */
export function typeName(t: string): string {
  const m = /^vl_api_(.+)_t$/.exec(t);
  return m ? m[1]! : t;
}

/** Smallest possible encoded size (used to bound counts before allocating on decode). */
export function minSize(n: Node): number {
  return n.size ?? n.min;
}

export class Layout {
  private readonly cache = new Map<string, Node>();
  private readonly building = new Set<string>();

  constructor(private readonly schema: Schema) {}

  /** Node of a named type (typedef, union, enum, enumflag, alias) by bare name. */
  named(name: string): Node {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const loc = this.schema.types.get(name);
    if (!loc) throw new ApiCodecError(name, `unknown type ${name}`);
    if (this.building.has(name)) throw new ApiCodecError(name, 'recursive type definition');
    this.building.add(name);
    try {
      const n = this.build(loc.def);
      this.cache.set(name, n);
      return n;
    } finally {
      this.building.delete(name);
    }
  }

  message(def: StructDef): StructNode {
    return this.struct(def.name, def.fields);
  }

  private build(def: Def): Node {
    switch (def.kind) {
      case 'typedef': case 'message': return this.struct(def.name, def.fields);
      case 'union': return this.union(def);
      case 'enum': case 'enumflag': return enumNode(def);
      case 'alias': return this.alias(def);
    }
  }

  private alias(def: AliasDef): Node {
    const where = def.name;
    let n: Node;
    if (def.length !== undefined) {
      if (def.length === 0) throw new ApiCodecError(where, 'alias with length 0');
      n = this.array({ type: def.type, name: def.name, length: def.length, options: {} }, where);
    } else {
      n = this.scalar(def.type, where);
    }
    // Same node shape, remembered under the alias name for the bindings generator.
    return { ...n, alias: def.name } as Node;
  }

  /** A field type without array-ness. */
  scalar(type: string, where: string): Node {
    switch (type) {
      case 'u8': case 'i8': case 'u16': case 'i16': case 'u32': case 'i32': {
        const [min, max, size] = INT_RANGE[type];
        return { kind: 'int', t: type, size, min, max };
      }
      case 'u64': case 'i64': return { kind: 'bigint', t: type, size: 8 };
      case 'f64': return { kind: 'f64', size: 8 };
      case 'bool': return { kind: 'bool', size: 1 };
      case 'string': return { kind: 'vstring', min: 4 };
    }
    const name = typeName(type);
    if (BASE.has(name) && name !== type) return this.scalar(name, where);
    if (!this.schema.types.has(name)) throw new ApiCodecError(where, `unknown type ${type}`);
    return this.named(name);
  }

  private array(f: RawField, where: string): Node {
    const len = f.length!;
    const limit = typeof f.options.limit === 'number' ? f.options.limit : undefined;
    if (f.type === 'string') {
      if (len === 0) return limit !== undefined ? { kind: 'vstring', min: 4, max: Math.max(0, limit - 1) } : { kind: 'vstring', min: 4 };
      // vpp_papi allows N-1 characters (room for the NUL C expects); a limit can only lower that.
      const max = Math.min(len, limit ?? len) - 1;
      return { kind: 'fstring', n: len, size: len, max: Math.max(0, max) };
    }
    const elem = this.scalar(f.type, where);
    if (f.lengthField !== undefined) {
      const n: Node = { kind: 'vla', elem, lengthField: f.lengthField, min: 0 };
      if (limit !== undefined) n.max = limit;
      return n;
    }
    if (len === 0) {
      if (elem.size === undefined && elem.kind !== 'struct') throw new ApiCodecError(where, 'legacy variable array of variable-size elements');
      return { kind: 'legacy', elem, min: 0 };
    }
    if (elem.kind === 'int' && elem.t === 'u8' && !elem.alias) return { kind: 'bytes', n: len, size: len };
    const es = elem.size;
    return es === undefined
      ? { kind: 'farray', elem, n: len, min: minSize(elem) * len }
      : { kind: 'farray', elem, n: len, size: es * len, min: es * len };
  }

  private struct(name: string, raw: RawField[]): StructNode {
    const fields: FieldNode[] = [];
    const byName = new Map<string, FieldNode>();
    let size: number | undefined = 0, min = 0, ambiguous = false;
    for (const f of raw) {
      const where = `${name}.${f.name}`;
      if (byName.has(f.name)) throw new ApiCodecError(where, 'duplicate field name');
      const node = f.length !== undefined ? this.array(f, where) : this.scalar(f.type, where);
      const fn: FieldNode = { name: f.name, type: f.type, node, countOf: [], discriminates: [], options: f.options, raw: f };
      if (node.kind === 'vla') {
        const lf = byName.get(node.lengthField);
        if (!lf) throw new ApiCodecError(where, `length field ${node.lengthField} is not an earlier field`);
        if (lf.node.kind !== 'int' && lf.node.kind !== 'bigint') throw new ApiCodecError(where, `length field ${node.lengthField} is not an integer`);
        lf.countOf.push(f.name);
      }
      if ('default' in f.options && f.options.default !== null) fn.dflt = nativeDefault(node, f.options.default, where);
      if (node.kind === 'union') {
        const disc = f.options.discriminator;
        if (typeof disc === 'string' && byName.has(disc)) {
          const d = byName.get(disc)!;
          const cases = new Map<string, number>();
          if (d.node.kind === 'enum') {
            const members = new Map(d.node.members);
            for (const arm of node.arms) {
              if (arm.case !== undefined && members.has(arm.case)) cases.set(arm.name, members.get(arm.case)!);
            }
          }
          fn.discriminator = { field: disc, cases };
          d.discriminates.push(f.name);
          // An arm without a case value can only be guessed from the bytes.
          if (cases.size < node.arms.length) ambiguous = true;
        } else {
          ambiguous = true;
        }
      }
      if (node.kind !== 'union' && containsAmbiguity(node)) ambiguous = true;
      fields.push(fn);
      byName.set(f.name, fn);
      size = size !== undefined && node.size !== undefined ? size + node.size : undefined;
      min += minSize(node);
    }
    return size === undefined
      ? { kind: 'struct', name, fields, min, ambiguous }
      : { kind: 'struct', name, fields, size, min: size, ambiguous };
  }

  private union(def: StructDef): UnionNode {
    let size = 0;
    const arms: UnionArm[] = [];
    for (const f of def.fields) {
      const where = `${def.name}.${f.name}`;
      const node = f.length !== undefined ? this.array(f, where) : this.scalar(f.type, where);
      if (node.size === undefined) throw new ApiCodecError(where, 'union arm of variable size');
      size = Math.max(size, node.size);
      const arm: UnionArm = { name: f.name, type: f.type, node };
      if (typeof f.options.case === 'string') arm.case = f.options.case;
      arms.push(arm);
    }
    if (arms.length === 0) throw new ApiCodecError(def.name, 'union without arms');
    return { kind: 'union', name: def.name, arms, size };
  }
}

/**
 * True when decoding may pick another union arm than the one encoded (a union without a usable
 * discriminator somewhere inside): bytes still round-trip, the value may not.
 */
export function containsAmbiguity(n: Node): boolean {
  switch (n.kind) {
    case 'struct': return n.ambiguous;
    case 'union': return true; // decoded on its own (standalone or inside arrays) the arm is guessed
    case 'farray': case 'vla': case 'legacy': return containsAmbiguity(n.elem);
    default: return false;
  }
}

function enumNode(def: EnumDef): Node {
  const t = def.enumtype;
  if (!(t in INT_RANGE)) throw new ApiCodecError(def.name, `unsupported enumtype ${t}`);
  const [min, max, size] = INT_RANGE[t as IntType];
  // Many VPP bit sets are declared `enum x_flags` rather than `enumflag` (if_status_flags,
  // tap_flags, ip_neighbor_flags...) and VPP sends and expects ORs of them; vpp_papi treats
  // every enum as an IntFlag. So *_flags enums validate like enumflags.
  const flags = def.kind === 'enumflag' || /_flags$/.test(def.name);
  let mask = 0;
  for (const [mname, v] of def.members) {
    if (v < min || v > max) throw new ApiCodecError(def.name, `member ${mname}=${v} out of range for ${t}`);
    if (flags) mask |= v;
  }
  return {
    kind: 'enum', name: def.name, flags, t: t as IntType, size,
    members: def.members, values: new Set(def.members.map((m) => m[1])), mask: mask >>> 0,
  };
}

/** Wraps an integer to the two's-complement range of `t` (C semantics for e.g. u16 x [default=0xffffffff]). */
export function wrapInt(v: number, t: IntType): number {
  const [min, , bytes] = INT_RANGE[t];
  const bits = bytes * 8;
  const m = 2 ** bits;
  let r = ((Math.trunc(v) % m) + m) % m;
  if (min < 0 && r >= m / 2) r -= m;
  return r;
}

/**
 * A JSON `default` as a native value. vppapigen writes `true` as the string "true"; numeric
 * defaults wider than the field (u16 with 4294967295) are truncated as C would.
 */
function nativeDefault(node: Node, d: unknown, where: string): unknown {
  const num = (): number => {
    if (d === 'true' || d === true) return 1;
    if (d === 'false' || d === false) return 0;
    const n = Number(d);
    if (!Number.isFinite(n)) throw new ApiCodecError(where, `default ${JSON.stringify(d)} is not a number`);
    return n;
  };
  switch (node.kind) {
    case 'int': case 'enum': return wrapInt(num(), node.t);
    case 'bool': return num() !== 0;
    case 'f64': return num();
    case 'bigint': {
      const bits = 64n;
      const v = BigInt.asUintN(Number(bits), BigInt(Math.trunc(num())));
      return node.t === 'i64' ? BigInt.asIntN(64, v) : v;
    }
    case 'vstring': case 'fstring': return typeof d === 'string' ? d : undefined;
    default: return undefined; // defaults on aggregates are not meaningful on the wire
  }
}
