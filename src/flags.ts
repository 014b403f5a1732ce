// A small, strict flag parser: `--name value`, `--name=value`, boolean `--flag`. Unknown flags and
// bad values are errors that name the flag, so a typo never silently runs the default.
// The tsvpp command (src/cli) and the tools' own processes (perf/harness/endpoint.ts) share it; it
// imports nothing, so any layer may use it.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  [name: string]: { type: 'string' | 'int' | 'number' | 'bool'; choices?: readonly string[]; default?: string | number | boolean };
}

export type Flags<S extends FlagSpec> = {
  [K in keyof S]: S[K]['type'] extends 'bool' ? boolean : S[K]['type'] extends 'string' ? string | undefined : number | undefined;
};

export function parseFlags<S extends FlagSpec>(argv: string[], spec: S): { flags: Flags<S>; rest: string[] } {
  const flags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) flags[k] = v.default ?? (v.type === 'bool' ? false : undefined);
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' && spec.help?.type === 'bool') { flags.help = true; continue; }
    if (!a.startsWith('--')) { rest.push(a); continue; }
    if (a === '--') { rest.push(...argv.slice(i + 1)); break; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown flag --${name}`);
    if (s.type === 'bool') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const raw = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    if (s.choices && !s.choices.includes(raw)) throw new UsageError(`--${name} must be one of ${s.choices.join(', ')}; got '${raw}'`);
    if (s.type === 'int') {
      if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer; got '${raw}'`);
      flags[name] = Number(raw);
    } else if (s.type === 'number') {
      const x = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${name} must be a number; got '${raw}'`);
      flags[name] = x;
    } else {
      flags[name] = raw;
    }
  }
  return { flags: flags as Flags<S>, rest };
}
