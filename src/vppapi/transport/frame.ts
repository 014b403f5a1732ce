// Framing of VPP binary API messages on the AF_UNIX stream socket (/run/vpp/api.sock).
//
// Every message travels behind VPP's msgbuf_t header (src/vlibapi/api_common.h):
//
//   struct msgbuf_ { svm_queue_t *q; u32 data_len; u32 gc_mark_timestamp; u8 data[0]; }
//
// On a 64-bit host that is 16 bytes: an 8-byte pointer slot `q` (sent as 0), data_len
// big-endian (VPP reads it with ntohl), and gc_mark_timestamp (0). vpp_papi packs it as
// struct '>QII' and GoVPP writes data_len at bytes 8..12, which agrees. data_len counts the
// message bytes only, not the header.

export const FRAME_HEADER_SIZE = 16;
const DATA_LEN_OFFSET = 8;

/** Frames larger than this are refused (the stream is considered corrupt). 64 MiB: a full
 *  get_api_json_reply is a few MiB, sockclnt_create_reply ~150 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FrameError extends Error {
  constructor(message: string, readonly kind: 'oversized' | 'truncated') {
    super(message);
    this.name = 'FrameError';
  }
}

/** Header + payload in one buffer (one write keeps concurrent senders from interleaving). */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  out.fill(0, 0, FRAME_HEADER_SIZE);
  out.writeUInt32BE(payload.length, DATA_LEN_OFFSET);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/**
 * Reassembles frames from arbitrary stream chunks: a chunk may hold part of a header, several
 * whole frames, or a frame split over many reads. push() returns the complete payloads, in order.
 * After an oversized header the decoder is poisoned: framing is lost for good.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1; // payload length of the frame being assembled, -1 while reading a header
  private poisoned: FrameError | null = null;

  constructor(readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (this.poisoned) throw this.poisoned;
    if (chunk.length) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < FRAME_HEADER_SIZE) break;
        const header = this.take(FRAME_HEADER_SIZE);
        const len = header.readUInt32BE(DATA_LEN_OFFSET);
        if (len > this.maxFrameBytes) {
          this.poisoned = new FrameError(
            `frame header announces ${len} bytes, more than the limit of ${this.maxFrameBytes}`, 'oversized');
          this.chunks = [];
          this.buffered = 0;
          throw this.poisoned;
        }
        this.need = len;
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** Call when the stream ended: returns an error if it ended inside a frame. */
  end(): FrameError | null {
    if (this.poisoned) return null;
    if (this.need >= 0) {
      return new FrameError(`stream ended inside a frame: got ${this.buffered} of ${this.need} payload bytes`, 'truncated');
    }
    if (this.buffered > 0) {
      return new FrameError(`stream ended inside a frame header: got ${this.buffered} of ${FRAME_HEADER_SIZE} bytes`, 'truncated');
    }
    return null;
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      // Common case: served from the first chunk; copy so the caller may keep it.
      const part = Buffer.from(first.subarray(0, n));
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return part;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
