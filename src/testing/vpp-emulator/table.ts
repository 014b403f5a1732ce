// The message table a VPP-like server hands out in sockclnt_create_reply: memclnt first, then
// every other module, numbered from 1 in .api order (as VPP registers them: sockclnt_create = 15).
// Shared by the emulator and perf's API reflector.
import type { ApiRegistry } from '../../vppapi/codec/index.js';

export interface TableOptions {
  /** Leave these messages out of the table (simulates a VPP without them). */
  omit?: string[];
  /** Advertise these messages with another CRC ("0x12345678"), i.e. another VPP version. */
  crcOverride?: Record<string, string>;
}

export interface MessageTable {
  /** As sent: index and name_crc. */
  entries: { index: number; name: string }[];
  idByName: Map<string, number>;
  nameById: Map<number, string>;
}

/** The handle bit VPP's socket API sets in a registration's client index. */
export const SOCK_API_REG_HANDLE_BIT = 0x8000_0000;

export function buildMessageTable(registry: ApiRegistry, t: TableOptions = {}): MessageTable {
  const omit = new Set(t.omit ?? []);
  const all = registry.messages();
  const ordered = [...all.filter((m) => m.module === 'memclnt'), ...all.filter((m) => m.module !== 'memclnt')];
  const table: MessageTable = { entries: [], idByName: new Map(), nameById: new Map() };
  let id = 1;
  for (const m of ordered) {
    const index = id++;
    if (omit.has(m.name)) continue;
    const crc = t.crcOverride?.[m.name] ?? m.crc;
    table.entries.push({ index, name: `${m.name}_${crc.replace(/^0x/, '')}` });
    table.idByName.set(m.name, index);
    table.nameById.set(index, m.name);
  }
  if (table.idByName.get('sockclnt_create') !== 15 || table.idByName.get('sockclnt_create_reply') !== 16) {
    throw new Error('memclnt.api.json must be loaded in .api order (sockclnt_create = 15)');
  }
  return table;
}
