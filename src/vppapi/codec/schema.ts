/**
 * The .api.json documents, parsed into plain definitions and merged across files.
 *
 * vppapigen repeats every imported type in each importing file; identical repeats merge, a
 * differing redefinition of a name is an error naming both files.
 */
import { ApiCodecError } from './errors.js';

/** One field as written in the JSON: [type, name, (length | 0, lengthField)?, {options}?]. */
export interface RawField {
  /** Type as in the JSON: "u32", "string", "vl_api_address_t". */
  type: string;
  name: string;
  /** Present for arrays and strings: N for fixed, 0 for variable. */
  length?: number;
  /** For variable arrays: the earlier field that holds the element count. */
  lengthField?: string;
  options: Record<string, unknown>;
}

export type DefKind = 'message' | 'typedef' | 'union' | 'enum' | 'enumflag' | 'alias';

export interface StructDef { kind: 'message' | 'typedef' | 'union'; name: string; fields: RawField[]; crc?: string }
export interface EnumDef { kind: 'enum' | 'enumflag'; name: string; enumtype: string; members: [string, number][] }
export interface AliasDef { kind: 'alias'; name: string; type: string; length?: number }
export type Def = StructDef | EnumDef | AliasDef;

export interface ModuleInfo {
  name: string;
  file: string;
  /** Module names imported (file stems of the .api paths). */
  imports: string[];
  /** Names of messages, types, ... as listed in this module's document. */
  messages: string[];
  types: string[];
  services: Record<string, { reply: string; stream?: boolean; events?: string[]; stream_msg?: string }>;
  version?: string;
  vlApiVersion?: string;
}

export interface Located<T> { def: T; file: string; module: string; canon: string }

export class Schema {
  readonly messages = new Map<string, Located<StructDef>>();
  readonly types = new Map<string, Located<Def>>();
  readonly modules = new Map<string, ModuleInfo>();

  add(file: string, json: unknown): void {
    if (!isObj(json)) throw new ApiCodecError(file, 'not an .api.json object');
    const module = moduleName(file, json);
    const info: ModuleInfo = {
      name: module, file, messages: [], types: [], services: {},
      imports: Array.isArray(json.imports) ? json.imports.map((p) => stem(String(p))) : [],
      version: isObj(json.options) && typeof json.options.version === 'string' ? json.options.version : undefined,
      vlApiVersion: typeof json.vl_api_version === 'string' ? json.vl_api_version : undefined,
    };
    if (isObj(json.services)) info.services = json.services as ModuleInfo['services'];
    const put = (map: Map<string, Located<any>>, def: Def | StructDef, canon: string): void => {
      const prev = map.get(def.name);
      if (prev) {
        if (prev.canon !== canon) {
          throw new ApiCodecError(def.name, `conflicting definitions of ${def.kind} ${def.name} in ${prev.file} and ${file}`);
        }
        return;
      }
      map.set(def.name, { def, file, module, canon });
    };
    for (const m of list(json.messages, file, 'messages')) {
      const d = parseStruct('message', m, file);
      put(this.messages, d, JSON.stringify([d.fields, d.crc]));
      info.messages.push(d.name);
    }
    for (const t of list(json.types, file, 'types')) {
      const d = parseStruct('typedef', t, file);
      put(this.types, d, JSON.stringify(['typedef', d.fields]));
      info.types.push(d.name);
    }
    for (const t of list(json.unions, file, 'unions')) {
      const d = parseStruct('union', t, file);
      put(this.types, d, JSON.stringify(['union', d.fields]));
      info.types.push(d.name);
    }
    for (const [sect, kind] of [['enums', 'enum'], ['enumflags', 'enumflag']] as const) {
      for (const e of list(json[sect], file, sect)) {
        const d = parseEnum(kind, e, file);
        put(this.types, d, JSON.stringify([kind, d.enumtype, d.members]));
        info.types.push(d.name);
      }
    }
    if (json.aliases !== undefined) {
      if (!isObj(json.aliases)) throw new ApiCodecError(file, 'aliases is not an object');
      for (const [name, a] of Object.entries(json.aliases)) {
        if (!isObj(a) || typeof a.type !== 'string') throw new ApiCodecError(`${file}: alias ${name}`, 'needs a "type"');
        const d: AliasDef = { kind: 'alias', name, type: a.type };
        if (a.length !== undefined) d.length = int(a.length, `${file}: alias ${name}`);
        put(this.types, d, JSON.stringify(['alias', d.type, d.length]));
        info.types.push(name);
      }
    }
    const prev = this.modules.get(module);
    if (prev && prev.file !== file) {
      // The same module twice (e.g. core/ and a copy): merged above; keep the first record.
      return;
    }
    this.modules.set(module, info);
  }
}

function moduleName(file: string, json: Record<string, unknown>): string {
  const s = stem(file);
  if (s) return s;
  return typeof json.module === 'string' ? json.module : file;
}

/** "vnet/ip/ip_types.api" or ".../ip_types.api.json" -> "ip_types". */
export function stem(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.replace(/\.json$/, '').replace(/\.api$/, '');
}

function isObj(x: unknown): x is Record<string, any> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function list(x: unknown, file: string, what: string): unknown[] {
  if (x === undefined) return [];
  if (!Array.isArray(x)) throw new ApiCodecError(file, `${what} is not an array`);
  return x;
}

function int(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new ApiCodecError(where, `bad length ${String(x)}`);
  return x;
}

function parseStruct(kind: StructDef['kind'], raw: unknown, file: string): StructDef {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw new ApiCodecError(file, `malformed ${kind} entry`);
  const name = raw[0];
  const fields: RawField[] = [];
  let crc: string | undefined;
  for (const f of raw.slice(1)) {
    if (isObj(f)) {
      if (typeof f.crc === 'string') crc = f.crc;
      continue;
    }
    fields.push(parseField(f, `${file}: ${name}`));
  }
  if (kind === 'message' && crc === undefined) throw new ApiCodecError(`${file}: ${name}`, 'message without crc');
  return crc === undefined ? { kind, name, fields } : { kind, name, fields, crc };
}

function parseField(f: unknown, where: string): RawField {
  if (!Array.isArray(f) || f.length < 2 || typeof f[0] !== 'string' || typeof f[1] !== 'string') {
    throw new ApiCodecError(where, `malformed field ${JSON.stringify(f)}`);
  }
  const parts = f.slice();
  let options: Record<string, unknown> = {};
  if (parts.length > 2 && isObj(parts[parts.length - 1])) options = parts.pop();
  const out: RawField = { type: parts[0], name: parts[1], options };
  if (parts.length >= 3) out.length = int(parts[2], `${where}.${out.name}`);
  if (parts.length >= 4) {
    if (typeof parts[3] !== 'string') throw new ApiCodecError(`${where}.${out.name}`, 'length field name is not a string');
    out.lengthField = parts[3];
  }
  if (parts.length > 4) throw new ApiCodecError(`${where}.${out.name}`, `malformed field ${JSON.stringify(f)}`);
  return out;
}

function parseEnum(kind: EnumDef['kind'], raw: unknown, file: string): EnumDef {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw new ApiCodecError(file, `malformed ${kind} entry`);
  const name = raw[0];
  let enumtype = 'u32'; // vpp_papi's default when the JSON gives none
  const members: [string, number][] = [];
  for (const m of raw.slice(1)) {
    if (isObj(m)) {
      if (typeof m.enumtype === 'string') enumtype = m.enumtype;
      continue;
    }
    if (!Array.isArray(m) || typeof m[0] !== 'string' || typeof m[1] !== 'number' || !Number.isInteger(m[1])) {
      throw new ApiCodecError(`${file}: ${name}`, `malformed member ${JSON.stringify(m)}`);
    }
    members.push([m[0], m[1]]);
  }
  return { kind, name, enumtype, members };
}
