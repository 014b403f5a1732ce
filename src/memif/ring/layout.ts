/**
 * The slave's memory plan (the ring and descriptor layouts themselves are in ../wire.ts).
 *
 * planRegions() reproduces what the slave (the side that owns all memory) allocates:
 *   - layout 'libmemif' (libmemif >= 4, memif_init_regions_and_queues/memif_add_region/
 *     memif_init_queues): region 0 holds only the rings, region 1 holds only the buffers
 *     (buffer_offset 0). Descriptors say region 1.
 *   - layout 'dpdk' (DPDK net_memif memif_region_init_shm/memif_init_rings without zero-copy, and
 *     VPP's memif plugin memif_init_regions_and_queues): one region 0, rings first, buffers from
 *     buffer_offset = (n_s2m + n_m2s) * ring_bytes. Descriptors say region 0.
 * In both, rings are laid out S2M 0..n-1 then M2S 0..n-1 (memif_get_ring:
 * (ring_num + type * num_s2m) * ring_bytes), and slot j of ring i owns buffer number
 * (i * ring_size + j) for S2M and ((num_s2m + i) * ring_size + j) for M2S.
 * Region sizes are NOT page-rounded by any of them (ftruncate(fd, region_size) exactly; the peer
 * README measured region 0 = 33024 B for 1+1 rings of 1024). `size` is that exact value (send it
 * in ADD_REGION, ftruncate to it, and expose exactly that many bytes to MemifQueue); `mapSize` is
 * `size` rounded up to the page size, i.e. what mmap really maps.
 */

import { MEMIF_MAX_LOG2_RING_SIZE, MEMIF_MAX_M2S_RING, MEMIF_MAX_S2M_RING, RingType, ringBytes } from '../wire.js';

export type RegionLayout = 'libmemif' | 'dpdk';

/** Which buffer each slot of a ring owns (slave side), indexed by slot (0..ring size-1). */
export interface SlotTable {
  readonly region: Uint16Array;
  readonly offset: Uint32Array;
}

export interface RegionPlan {
  readonly index: number;
  /** Exact size: ftruncate to it and send it in ADD_REGION. */
  readonly size: number;
  /** size rounded up to pageSize (what mmap maps). */
  readonly mapSize: number;
  readonly holdsRings: boolean;
  readonly holdsBuffers: boolean;
  /** Offset of the first packet buffer in this region (0 when it holds no buffers). */
  readonly bufferOffset: number;
}

export interface RingPlan {
  readonly type: RingType;
  /** Queue index within its type (ADD_RING index). */
  readonly index: number;
  readonly region: number;
  readonly offset: number;
  readonly log2RingSize: number;
  readonly slots: SlotTable;
}

export interface MemoryPlan {
  readonly layout: RegionLayout;
  readonly log2RingSize: number;
  readonly ringSize: number;
  readonly bufferSize: number;
  readonly regions: readonly RegionPlan[];
  /** All rings in ADD_RING order: S2M rings first, then M2S. */
  readonly rings: readonly RingPlan[];
  readonly s2m: readonly RingPlan[];
  readonly m2s: readonly RingPlan[];
}

export interface PlanOptions {
  s2mRings: number;
  m2sRings: number;
  log2RingSize: number;
  bufferSize: number;
  /** Default 'libmemif' (rings in region 0, buffers in region 1). */
  layout?: RegionLayout;
  /** Only used for mapSize. Default 4096. */
  pageSize?: number;
}

function checkInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`planRegions: ${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** The slave's memory plan, laid out exactly like libmemif or DPDK/VPP (see file header). */
export function planRegions(opts: PlanOptions): MemoryPlan {
  const s2mRings = checkInt('s2mRings', opts.s2mRings, 0, MEMIF_MAX_S2M_RING);
  const m2sRings = checkInt('m2sRings', opts.m2sRings, 0, MEMIF_MAX_M2S_RING);
  if (s2mRings + m2sRings === 0) throw new RangeError('planRegions: s2mRings + m2sRings must be at least 1');
  const log2 = checkInt('log2RingSize', opts.log2RingSize, 0, MEMIF_MAX_LOG2_RING_SIZE);
  const bufferSize = checkInt('bufferSize', opts.bufferSize, 1, 0xffffffff);
  const pageSize = checkInt('pageSize', opts.pageSize ?? 4096, 1, 2 ** 30);
  const layout = opts.layout ?? 'libmemif';
  if (layout !== 'libmemif' && layout !== 'dpdk') {
    throw new RangeError(`planRegions: layout must be 'libmemif' or 'dpdk', got ${String(layout)}`);
  }
  const ringSize = 2 ** log2;
  const nRings = s2mRings + m2sRings;
  const ringsBytes = nRings * ringBytes(log2);
  const buffersBytes = nRings * ringSize * bufferSize;
  const bufRegion = layout === 'libmemif' ? 1 : 0;
  const bufferOffset = layout === 'libmemif' ? 0 : ringsBytes;
  // Descriptor offsets are u32: the last buffer must end at or below 2^32.
  if (bufferOffset + buffersBytes > 2 ** 32) {
    throw new RangeError(
      `planRegions: bufferSize ${bufferSize} x ${nRings * ringSize} buffers (+ ${bufferOffset} B of rings) ` +
        `exceeds the 4 GiB a u32 descriptor offset can address`,
    );
  }
  const round = (n: number) => Math.ceil(n / pageSize) * pageSize;
  const regions: RegionPlan[] =
    layout === 'libmemif'
      ? [
          { index: 0, size: ringsBytes, mapSize: round(ringsBytes), holdsRings: true, holdsBuffers: false, bufferOffset: 0 },
          { index: 1, size: buffersBytes, mapSize: round(buffersBytes), holdsRings: false, holdsBuffers: true, bufferOffset: 0 },
        ]
      : [
          {
            index: 0,
            size: ringsBytes + buffersBytes,
            mapSize: round(ringsBytes + buffersBytes),
            holdsRings: true,
            holdsBuffers: true,
            bufferOffset,
          },
        ];
  const rings: RingPlan[] = [];
  for (let n = 0; n < nRings; n++) {
    const type = n < s2mRings ? RingType.S2M : RingType.M2S;
    const index = type === RingType.S2M ? n : n - s2mRings;
    const region = new Uint16Array(ringSize).fill(bufRegion);
    const offset = new Uint32Array(ringSize);
    for (let j = 0; j < ringSize; j++) offset[j] = bufferOffset + (n * ringSize + j) * bufferSize;
    rings.push({ type, index, region: 0, offset: n * ringBytes(log2), log2RingSize: log2, slots: { region, offset } });
  }
  return {
    layout,
    log2RingSize: log2,
    ringSize,
    bufferSize,
    regions,
    rings,
    s2m: rings.filter((r) => r.type === RingType.S2M),
    m2s: rings.filter((r) => r.type === RingType.M2S),
  };
}
