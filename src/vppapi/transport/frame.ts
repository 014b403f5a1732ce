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

/** A frame's payload: bytes[start..end). */
export type OnFrame = (bytes: Buffer, start: number, end: number) => void;

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
 * whole frames, or a frame split over many reads. A frame inside one chunk is handed on as a view
 * of that chunk (no copy: a socket's chunks are fresh buffers); only a frame split over chunks is
 * assembled into a new buffer. After an oversized header the decoder is poisoned: framing is lost
 * for good.
 */
export class FrameDecoder {
  /** The start of a frame that the chunks so far did not complete. */
  private held: Buffer[] = [];
  private buffered = 0;
  /** Payload length of that frame once its header is complete, else -1 (then buffered < 16). */
  private need = -1;
  private poisoned: FrameError | null = null;
  /** Chunks fed and frames handed on so far. */
  chunks = 0;
  frames = 0;

  constructor(readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** The complete payloads in chunk (and before it), in order. */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    this.feed(chunk, (b, start, end) => out.push(b.subarray(start, end)));
    return out;
  }

  /**
   * Calls onFrame(bytes, start, end) for each payload chunk completes, in order: bytes[start..end)
   * (bytes is chunk itself unless the frame was split); throws FrameError when poisoned.
   */
  feed(chunk: Uint8Array, onFrame: OnFrame): void {
    if (this.poisoned) throw this.poisoned;
    this.chunks++;
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let off = this.buffered || this.need >= 0 ? this.complete(b, onFrame) : 0;
    if (off < 0) return;
    const n = b.length;
    while (n - off >= FRAME_HEADER_SIZE) {
      const len = this.length(b, off);
      const end = off + FRAME_HEADER_SIZE + len;
      if (end > n) {
        // Header here, payload continues in the next chunks.
        this.need = len;
        off += FRAME_HEADER_SIZE;
        break;
      }
      this.frames++;
      onFrame(b, off + FRAME_HEADER_SIZE, end);
      off = end;
    }
    if (off < n) {
      this.held.push(b.subarray(off));
      this.buffered = n - off;
    }
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

  /** data_len of the header at off, refused (and the decoder poisoned) above the limit. */
  private length(b: Buffer, off: number): number {
    const len = b.readUInt32BE(off + DATA_LEN_OFFSET);
    if (len > this.maxFrameBytes) {
      this.poisoned = new FrameError(`frame header announces ${len} bytes, more than the limit of ${this.maxFrameBytes}`, 'oversized');
      this.held = [];
      this.buffered = 0;
      this.need = -1;
      throw this.poisoned;
    }
    return len;
  }

  /** Continues the held frame with b: returns where in b the next frame starts, or -1 when b is used up. */
  private complete(b: Buffer, onFrame: OnFrame): number {
    let off = 0;
    if (this.need < 0) {
      const missing = FRAME_HEADER_SIZE - this.buffered;
      if (b.length < missing) return this.hold(b);
      const header = Buffer.concat([...this.held, b.subarray(0, missing)], FRAME_HEADER_SIZE);
      this.held = [];
      this.buffered = 0;
      this.need = this.length(header, 0);
      off = missing;
    }
    const missing = this.need - this.buffered;
    if (b.length - off < missing) return this.hold(b.subarray(off));
    const whole = this.held.length > 0;
    const payload = whole ? Buffer.concat([...this.held, b.subarray(off, off + missing)], this.need) : b;
    this.held = [];
    this.buffered = 0;
    this.need = -1;
    this.frames++;
    if (whole) onFrame(payload, 0, payload.length);
    else onFrame(b, off, off + missing);
    return off + missing;
  }

  private hold(b: Buffer): -1 {
    if (b.length) {
      this.held.push(b);
      this.buffered += b.length;
    }
    return -1;
  }
}

/**
 * The sending side: frames are written into a slab (header and payload in place, nothing copied
 * per message) and the slab's new bytes go to the socket in one write per turn of the event loop
 * (process.nextTick), however many messages were queued in it, or as soon as 4 KiB are waiting
 * (the peer starts on a long batch while the rest is encoded). A slab is written over again only
 * once the socket has taken all of it; otherwise a full slab is replaced.
 */
export class FrameWriter {
  u8: Buffer;
  dv: DataView;
  /** Start of the bytes not yet handed to write(); end of the committed frames. */
  private flushed = 0;
  private end = 0;
  /** Payload offset and size of the frame being encoded (room() .. commit()). */
  private open = -1;
  private openSize = 0;
  private scheduled = false;
  /** Frames committed and writes made so far. */
  frames = 0;
  writes = 0;

  /**
   * write(bytes) hands bytes on and says whether it is done with them (a socket that took them all
   * at once); then the slab is reused from its start instead of moving on.
   */
  constructor(private readonly write: (bytes: Buffer) => boolean, private readonly slabBytes = 64 * 1024) {
    this.u8 = Buffer.allocUnsafe(slabBytes);
    this.dv = new DataView(this.u8.buffer, this.u8.byteOffset, this.u8.length);
  }

  /** Space for a payload of n bytes after its header; the frame counts only after commit(). */
  room(n: number): number {
    if (this.end + FRAME_HEADER_SIZE + n > this.u8.length) this.newSlab(n);
    this.open = this.end + FRAME_HEADER_SIZE;
    this.openSize = n;
    return this.open;
  }

  /** Payload offset of the frame being encoded (valid until commit). */
  get payloadOffset(): number {
    return this.open;
  }

  /** The frame given room() is complete: write its header and queue it. */
  commit(): void {
    const h = this.end;
    if (this.open !== h + FRAME_HEADER_SIZE) throw new Error('FrameWriter.commit without room()');
    this.dv.setUint32(h, 0);
    this.dv.setUint32(h + 4, 0);
    this.dv.setUint32(h + DATA_LEN_OFFSET, this.openSize);
    this.dv.setUint32(h + 12, 0);
    this.end = this.open + this.openSize;
    this.open = -1;
    this.frames++;
    if (this.end - this.flushed >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushTick, this);
    }
  }

  /** A frame whose payload is already encoded elsewhere (one copy). */
  frame(payload: Uint8Array): void {
    const at = this.room(payload.length); // first: room() may switch to a new slab
    this.u8.set(payload, at);
    this.commit();
  }

  /** Hand what is committed to write() now. */
  flush(): void {
    this.scheduled = false;
    if (this.end === this.flushed) return;
    const bytes = this.u8.subarray(this.flushed, this.end);
    this.writes++;
    if (this.write(bytes) && this.open < 0) this.flushed = this.end = 0;
    else this.flushed = this.end;
  }

  private newSlab(n: number): void {
    this.flush();
    this.u8 = Buffer.allocUnsafe(Math.max(this.slabBytes, FRAME_HEADER_SIZE + n));
    this.dv = new DataView(this.u8.buffer, this.u8.byteOffset, this.u8.length);
    this.flushed = this.end = 0;
  }
}

/** Bytes waiting that are written at once rather than at the end of the turn. */
const FLUSH_BYTES = 4096;

function flushTick(w: FrameWriter): void {
  w.flush();
}
