/**
 * ApiRegistry: the loaded .api.json definitions and a compiled codec per message and type.
 * Layouts are resolved when loading (so a broken definition fails early); encoders/decoders are
 * generated on first use and kept.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiCodecError } from './errors.js';
import { Schema, type DefKind, type ModuleInfo, type StructDef } from './schema.js';
import { Layout, typeName, type Node, type StructNode, type UnionNode } from './layout.js';
import { compileNode, type Compiled, type EncodeTarget } from './compile.js';
import { fromJsonConv, toJsonConv, type Conv } from './json-form.js';
import type { UnionRuntime } from './runtime.js';

export interface FieldInfo {
  name: string;
  /** Type as written in the JSON ("u32", "string", "vl_api_address_t"). */
  type: string;
  /** Wire shape: int, bigint, f64, bool, enum, bytes, fstring, vstring, farray, vla, legacy, struct, union. */
  kind: Node['kind'];
  /** Fixed array / string length N (absent for scalars; 0 for variable strings and legacy arrays). */
  length?: number;
  /** For variable arrays: the field holding the count. */
  lengthField?: string;
  /** Native default from the JSON `default` option. */
  default?: unknown;
  options: Readonly<Record<string, unknown>>;
}

/** What MessageCodec and TypeCodec share. */
export interface ValueCodec {
  name: string;
  /** Module (file stem) that defines it. */
  module: string;
  /** Fixed encoded size, or undefined when variable. */
  size: number | undefined;
  /** Resolved wire layout (read-only; for tools such as the value generator). */
  readonly node: Node;
  encode(value: unknown): Uint8Array;
  /**
   * Encodes into a caller's buffer (a socket's output, say) instead of a new array: asks
   * target.room(size) for space, writes there and returns that offset.
   */
  encodeInto(value: unknown, target: EncodeTarget): number;
  decode(bytes: Uint8Array, offset?: number): { value: any; size: number };
  /**
   * Decodes the value at bytes[start..end) (a message inside a larger read) and returns it alone;
   * dv, when given, is a DataView over bytes, index for index (one per read instead of one per
   * message).
   */
  decodeRange(bytes: Uint8Array, start: number, end: number, dv?: DataView): any;
  toJson(value: unknown): unknown;
  fromJson(json: unknown): any;
}

export interface MessageCodec extends ValueCodec {
  crc: string;
  nameCrc: string;
  fields: readonly FieldInfo[];
  readonly node: StructNode;
  encode(value: Record<string, unknown>): Uint8Array;
  decode(bytes: Uint8Array, offset?: number): { value: Record<string, any>; size: number };
  fromJson(json: unknown): Record<string, unknown>;
}

export interface TypeCodec extends ValueCodec {
  kind: Exclude<DefKind, 'message'>;
}

class Codec implements ValueCodec {
  private compiled?: Compiled;
  private toJ?: Conv;
  private fromJ?: Conv;
  readonly size: number | undefined;
  constructor(readonly name: string, readonly module: string, readonly node: Node, private readonly reg: ApiRegistry) {
    this.size = node.size;
  }
  private get c(): Compiled {
    return (this.compiled ??= this.reg.compile(this.node, this.name));
  }
  encode(value: unknown): Uint8Array {
    return this.c.enc(value);
  }
  encodeInto(value: unknown, target: EncodeTarget): number {
    return this.c.into(value, target);
  }
  decode(bytes: Uint8Array, offset = 0): { value: any; size: number } {
    const value = this.decodeRange(bytes, offset, bytes?.length);
    return { value, size: this.c.state.pos - offset };
  }
  decodeRange(bytes: Uint8Array, start: number, end: number, dv?: DataView): any {
    if (!(bytes instanceof Uint8Array)) throw new ApiCodecError(this.name, 'decode needs a Uint8Array');
    if (!Number.isInteger(start) || start < 0 || start > bytes.length) throw new ApiCodecError(this.name, `bad offset ${start}`);
    if (!Number.isInteger(end) || end < start || end > bytes.length) throw new ApiCodecError(this.name, `bad end ${end}`);
    try {
      return this.c.dec(bytes, dv ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), start, end);
    } catch (e) {
      if (e instanceof ApiCodecError) throw e;
      // Bounds are checked before every read; this is a safety net, not a code path.
      throw new ApiCodecError(this.name, `malformed input (${(e as Error).message})`);
    }
  }
  toJson(value: unknown): unknown {
    return (this.toJ ??= toJsonConv(this.node))(value, this.name);
  }
  fromJson(json: unknown): any {
    return (this.fromJ ??= fromJsonConv(this.node))(json, this.name);
  }
}

class MessageCodecImpl extends Codec implements MessageCodec {
  readonly crc: string;
  readonly nameCrc: string;
  readonly fields: readonly FieldInfo[];
  declare readonly node: StructNode;
  constructor(def: StructDef, module: string, node: StructNode, reg: ApiRegistry) {
    super(def.name, module, node, reg);
    this.crc = def.crc!;
    this.nameCrc = `${def.name}_${def.crc!.replace(/^0x/, '')}`;
    this.fields = Object.freeze(node.fields.map((f): FieldInfo => {
      const info: FieldInfo = { name: f.name, type: f.type, kind: f.node.kind, options: Object.freeze({ ...f.options }) };
      if (f.raw.length !== undefined) info.length = f.raw.length;
      if (f.raw.lengthField !== undefined) info.lengthField = f.raw.lengthField;
      if (f.dflt !== undefined) info.default = f.dflt;
      return Object.freeze(info);
    }));
  }
  override encode(value: Record<string, unknown>): Uint8Array { return super.encode(value); }
}

class TypeCodecImpl extends Codec implements TypeCodec {
  constructor(name: string, module: string, node: Node, reg: ApiRegistry, readonly kind: Exclude<DefKind, 'message'>) {
    super(name, module, node, reg);
  }
}

export class ApiRegistry {
  private readonly layout: Layout;
  private readonly msgs = new Map<string, MessageCodecImpl>();
  private readonly byNameCrc = new Map<string, MessageCodecImpl>();
  private readonly typeCodecs = new Map<string, TypeCodecImpl>();
  private readonly unionRts = new Map<UnionNode, UnionRuntime>();
  private owners?: Map<string, string>;

  private constructor(private readonly schema: Schema) {
    this.layout = new Layout(schema);
    for (const [name, loc] of schema.messages) {
      const def = loc.def;
      const first = def.fields[0];
      if (!first || first.name !== '_vl_msg_id' || first.type !== 'u16') {
        throw new ApiCodecError(name, `${loc.file}: first field is not u16 _vl_msg_id`);
      }
      const m = new MessageCodecImpl(def, loc.module, this.layout.message(def), this);
      this.msgs.set(name, m);
      this.byNameCrc.set(m.nameCrc, m);
    }
    // Resolve every type too, so that a broken definition fails at load time.
    for (const name of schema.types.keys()) this.layout.named(name);
  }

  /** Loads every *.api.json below dir (recursively: handles core/ and plugins/). */
  static fromDir(dir: string): ApiRegistry {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.api.json')) files.push(p);
      }
    };
    walk(dir);
    if (files.length === 0) throw new ApiCodecError('', `no *.api.json files below ${dir}`);
    return ApiRegistry.fromFiles(files);
  }

  static fromFiles(files: string[]): ApiRegistry {
    return ApiRegistry.fromJson(files.map((file) => {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new ApiCodecError('', `${file}: ${(e as Error).message}`);
      }
      return { file, json };
    }));
  }

  static fromJson(docs: { file: string; json: unknown }[]): ApiRegistry {
    const schema = new Schema();
    for (const d of docs) schema.add(d.file, d.json);
    return new ApiRegistry(schema);
  }

  message(name: string): MessageCodec {
    const m = this.msgs.get(name);
    if (!m) throw new ApiCodecError(name, `unknown message ${name}`);
    return m;
  }

  hasMessage(name: string): boolean {
    return this.msgs.has(name);
  }

  /** By VPP's message-table key "<name>_<crc>" (crc without 0x). */
  messageByNameCrc(nameCrc: string): MessageCodec | undefined {
    return this.byNameCrc.get(nameCrc);
  }

  messages(): MessageCodec[] {
    return [...this.msgs.values()];
  }

  /** A typedef, union, alias, enum or enumflag by bare name ("address") or "vl_api_address_t". */
  type(name: string): TypeCodec {
    const bare = typeName(name);
    let t = this.typeCodecs.get(bare);
    if (t) return t;
    const loc = this.schema.types.get(bare);
    if (!loc) throw new ApiCodecError(name, `unknown type ${name}`);
    t = new TypeCodecImpl(bare, this.typeModule(bare), this.layout.named(bare), this, loc.def.kind as TypeCodec['kind']);
    this.typeCodecs.set(bare, t);
    return t;
  }

  hasType(name: string): boolean {
    return this.schema.types.has(typeName(name));
  }

  typeNames(): string[] {
    return [...this.schema.types.keys()];
  }

  modules(): ModuleInfo[] {
    return [...this.schema.modules.values()];
  }

  /** Raw definition (for the bindings generator). */
  definition(name: string): { kind: DefKind; file: string; def: unknown } | undefined {
    const loc = this.schema.types.get(name) ?? this.schema.messages.get(name);
    return loc && { kind: loc.def.kind, file: loc.file, def: loc.def };
  }

  /**
   * The module that defines a type. Each file repeats the types it imports; the owner is the
   * module listing the type that imports (transitively) no other module listing it.
   */
  typeModule(name: string): string {
    if (!this.owners) {
      const owners = new Map<string, string>();
      const mods = this.schema.modules;
      const closure = new Map<string, Set<string>>();
      const imports = (m: string): Set<string> => {
        let s = closure.get(m);
        if (s) return s;
        s = new Set();
        closure.set(m, s);
        for (const i of mods.get(m)?.imports ?? []) {
          s.add(i);
          for (const j of imports(i)) s.add(j);
        }
        return s;
      };
      const listing = new Map<string, string[]>();
      for (const m of mods.values()) for (const t of m.types) {
        const l = listing.get(t) ?? [];
        if (!l.includes(m.name)) l.push(m.name);
        listing.set(t, l);
      }
      for (const [t, l] of listing) {
        const own = l.find((m) => !l.some((o) => o !== m && imports(m).has(o))) ?? l[0]!;
        owners.set(t, own);
      }
      this.owners = owners;
    }
    return this.owners.get(name) ?? this.schema.types.get(name)?.module ?? '';
  }

  /** @internal Compiles a node (used by codecs and union arm guessing). */
  compile(node: Node, name: string): Compiled {
    return compileNode(node, name, (u) => this.unionRuntime(u));
  }

  private unionRuntime(u: UnionNode): UnionRuntime {
    let rt = this.unionRts.get(u);
    if (rt) return rt;
    const compiled = new Map<number, Compiled>();
    const arm = (i: number): Compiled => {
      let c = compiled.get(i);
      if (!c) { c = this.compile(u.arms[i]!.node, `${u.name}.${u.arms[i]!.name}`); compiled.set(i, c); }
      return c;
    };
    rt = {
      name: u.name,
      size: u.size,
      arms: u.arms.map((a, i) => ({
        name: a.name,
        size: a.node.size!,
        // Every byte pattern of these is some value that encodes back to it.
        canonical: a.node.kind === 'bytes' || (a.node.kind === 'int' && !a.node.alias) || a.node.kind === 'bigint',
        dec: (u8: Uint8Array, dv: DataView, pos: number) => arm(i).dec(u8, dv, pos, pos + a.node.size!),
        enc: (v: unknown) => arm(i).enc(v),
      })),
    };
    this.unionRts.set(u, rt);
    return rt;
  }
}
