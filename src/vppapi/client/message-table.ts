// VPP's message table (from sockclnt_create_reply) matched against the local definitions.
//
// VPP numbers its messages at start-up (memclnt first, then core modules and plugins in load
// order), so ids are only valid for one VPP process lifetime. The table maps "name_crc" keys
// ("show_version_51077d14") to ids; a message is usable only if VPP knows it with the CRC of
// the local definition, otherwise the bytes we would send are laid out differently.

export interface VppTableEntry {
  index: number;
  /** "name_crc" as VPP sends it, e.g. "control_ping_51077d14". */
  name: string;
}

/** The local side of the comparison: what the codec registry knows. */
export interface LocalMessage {
  name: string;
  /** "0x51077d14" */
  crc: string;
}

export interface CrcMismatch {
  name: string;
  localCrc: string;
  vppCrc: string;
}

export interface TableReport {
  /** Local messages VPP does not have under any CRC (plugin not loaded, newer message, ...). */
  missing: string[];
  /** Local messages VPP has with another CRC (definitions from another VPP version). */
  crcMismatch: CrcMismatch[];
  /** How many VPP messages have no local definition (harmless; VPP has more plugins). */
  unknownLocally: number;
  /** Entries in VPP's table. */
  vppMessages: number;
}

/** Split "name_crc" at the last underscore; the CRC part is 8 hex digits. */
export function splitNameCrc(nameCrc: string): { name: string; crc: string } | null {
  const m = /^(.+)_([0-9a-f]{8})$/i.exec(nameCrc);
  return m ? { name: m[1]!, crc: '0x' + m[2]!.toLowerCase() } : null;
}

export class MessageTable {
  private readonly idByName = new Map<string, number>();
  private readonly vppCrcByName = new Map<string, string>();
  private readonly nameById = new Map<number, string>();
  readonly report: TableReport;

  /** Messages that may be sent/received: known locally and in VPP with the same CRC. */
  constructor(entries: readonly VppTableEntry[], local: readonly LocalMessage[]) {
    const vppByKey = new Map<string, number>();
    for (const e of entries) {
      // GoVPP trims NULs (and a stray \x13) from names; a fixed string[64] decodes without them.
      const key = e.name.replace(/[\x00\x13]+$/g, '');
      vppByKey.set(key, e.index);
      const split = splitNameCrc(key);
      if (split) this.vppCrcByName.set(split.name, split.crc);
    }
    const missing: string[] = [];
    const crcMismatch: CrcMismatch[] = [];
    let matched = 0;
    for (const m of local) {
      const crc = m.crc.toLowerCase();
      const id = vppByKey.get(`${m.name}_${crc.replace(/^0x/, '')}`);
      if (id !== undefined) {
        this.idByName.set(m.name, id);
        this.nameById.set(id, m.name);
        matched++;
        continue;
      }
      const vppCrc = this.vppCrcByName.get(m.name);
      if (vppCrc) crcMismatch.push({ name: m.name, localCrc: crc, vppCrc });
      else missing.push(m.name);
    }
    missing.sort();
    crcMismatch.sort((a, b) => a.name.localeCompare(b.name));
    this.report = { missing, crcMismatch, unknownLocally: entries.length - matched, vppMessages: entries.length };
  }

  id(name: string): number | undefined {
    return this.idByName.get(name);
  }

  name(id: number): string | undefined {
    return this.nameById.get(id);
  }

  /** Why `name` cannot be used, or null if it can. */
  unavailable(name: string, localCrc: string): { reason: 'missing-in-vpp' | 'crc-mismatch'; detail: string } | null {
    if (this.idByName.has(name)) return null;
    const vppCrc = this.vppCrcByName.get(name);
    if (vppCrc) {
      return { reason: 'crc-mismatch', detail: `VPP has this message with CRC ${vppCrc}, the local definition has ${localCrc.toLowerCase()}; refusing to send a message laid out differently` };
    }
    return { reason: 'missing-in-vpp', detail: 'VPP does not know this message (plugin not loaded, or a message of another VPP version)' };
  }
}

/** A one-line summary for logs. */
export function formatTableReport(r: TableReport): string {
  const parts: string[] = [];
  if (r.missing.length) parts.push(`${r.missing.length} local messages missing in VPP (${preview(r.missing)})`);
  if (r.crcMismatch.length) {
    parts.push(`${r.crcMismatch.length} with another CRC in VPP (${preview(r.crcMismatch.map((m) => `${m.name} local ${m.localCrc} vpp ${m.vppCrc}`))})`);
  }
  return parts.length ? parts.join('; ') : 'all local messages match VPP';
}

function preview(xs: string[]): string {
  return xs.length > 5 ? `${xs.slice(0, 5).join(', ')}, …` : xs.join(', ');
}
