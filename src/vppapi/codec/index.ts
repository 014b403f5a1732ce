/** VPP binary API codec: load .api.json definitions, encode/decode messages and types. */
export { ApiRegistry } from './registry.js';
export type { MessageCodec, TypeCodec, ValueCodec, FieldInfo } from './registry.js';
export { ApiCodecError } from './errors.js';
export type { ModuleInfo } from './schema.js';
export { toHex, fromHex } from './json-form.js';
export { checkVector, sameJson } from './vectors.js';
export type { Vector, VectorResult } from './vectors.js';
export type { MessageInput } from './types.js';
export type { EncodeTarget } from './compile.js';
