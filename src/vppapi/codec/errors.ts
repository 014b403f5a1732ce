/**
 * The one error type of the codec. `path` names the message or type and the field inside it
 * ("memif_create.secret", "ip_route_add_del.route.paths[1].nh"), `detail` says what was wrong.
 */
export class ApiCodecError extends Error {
  override readonly name = 'ApiCodecError';
  constructor(
    /** "message.field.sub[3]" or just the message/type name for whole-value problems. */
    readonly path: string,
    /** What was wrong, without the path. */
    readonly detail: string,
  ) {
    super(path ? `${path}: ${detail}` : detail);
  }
}

/** Short, bounded rendering of an offending value for error messages. */
export function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  return String(v);
}
