// TEST DOUBLE helper: encode a message whose top-level enum fields hold values outside the enum.
//
// VPP uses some enums as bit sets: if_status_flags is declared `enum` (ADMIN_UP = 1, LINK_UP = 2)
// yet sw_interface_details/sw_interface_event carry 0 and 3. The codec refuses such values on
// encode (it accepts them on decode), so the emulator encodes a declared member in their place and
// writes the real value over those bytes. The position is found by encoding two different members
// and diffing; enums are fixed-size big-endian integers.
import type { MessageCodec } from '../../../src/vppapi/codec/index.js';

export function encodeLenient(codec: MessageCodec, value: Record<string, any>): Uint8Array {
  const patches: Array<{ field: string; real: number; size: number; a: number; b: number }> = [];
  const v = { ...value };
  for (const f of codec.node.fields) {
    const n = f.node;
    if (n.kind !== 'enum' || typeof v[f.name] !== 'number' || n.values.has(v[f.name])) continue;
    const members = [...n.values];
    if (members.length < 2) continue;
    patches.push({ field: f.name, real: v[f.name], size: n.size, a: members[0]!, b: members[1]! });
    v[f.name] = members[0];
  }
  const bytes = codec.encode(v);
  for (const p of patches) {
    const other = codec.encode({ ...v, [p.field]: p.b });
    let last = -1;
    for (let k = 0; k < bytes.length; k++) if (bytes[k] !== other[k]) last = k;
    if (last < 0) continue;
    const start = last - p.size + 1;
    let x = p.real >>> 0;
    for (let k = p.size - 1; k >= 0; k--) {
      bytes[start + k] = x & 0xff;
      x >>>= 8;
    }
  }
  return bytes;
}
