// The wire tables against memif.h (libmemif src/memif.h, DPDK drivers/net/memif/memif.h): every
// message field inside the 128-byte memif_msg_t without overlap, the ring and descriptor indexes
// the data path uses, and the error codes (closed, with text, libmemif's numbers where shared).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DESC_LAYOUT, DESC_REGION_SHIFT, DESC_SIZE, DESC_U16, DESC_U32, DESC_WORDS, FIELD_BYTES, MEMIF_ERROR_TEXT, MEMIF_MSG_SIZE,
  MSG_LAYOUT, MSG_TYPE_FIELD, MemifErrorCode, MsgType, RING_HEADER_SIZE, RING_LAYOUT, RING_U16, RING_U32_COOKIE,
  isMemifErrorCode, memifErrorName, peerFault, type Field,
} from '../../src/memif/wire.js';

/** Bytes [start, end) of each field, sorted. */
const spans = (fields: Field[]) => fields.map((f) => [f.at, f.at + FIELD_BYTES[f.kind], f.label] as const).sort((a, b) => a[0] - b[0]);

test('every message field lies in the 128-byte memif_msg_t, after the u16 type, without overlap', () => {
  for (const [t, layout] of Object.entries(MSG_LAYOUT)) {
    const s = spans([MSG_TYPE_FIELD, ...Object.values(layout as Record<string, Field>)]);
    for (let i = 0; i < s.length; i++) {
      assert.ok(s[i]![1] <= MEMIF_MSG_SIZE, `type ${t}: ${s[i]![2]} ends at ${s[i]![1]}`);
      if (i > 0) assert.ok(s[i]![0] >= s[i - 1]![1], `type ${t}: ${s[i]![2]} overlaps ${s[i - 1]![2]}`);
    }
  }
});

test('the union members end where memif.h packs them (type + member size)', () => {
  const end = (t: keyof typeof MSG_LAYOUT) => Math.max(2, ...Object.values(MSG_LAYOUT[t] as Record<string, Field>).map((f) => f.at + FIELD_BYTES[f.kind]));
  assert.equal(
    [MsgType.ACK, MsgType.HELLO, MsgType.INIT, MsgType.ADD_REGION, MsgType.ADD_RING, MsgType.CONNECT, MsgType.CONNECTED, MsgType.DISCONNECT].map(end),
    [2, 2 + 43, 2 + 63, 2 + 10, 2 + 13, 2 + 32, 2 + 32, 2 + 100],
  );
});

test('ring header and descriptor: memif.h offsets and the typed-array indexes derived from them', () => {
  assert.equal(Object.values(RING_LAYOUT).map((f) => f.at), [0, 4, 6, 64]);
  assert.is(RING_HEADER_SIZE, 128);
  assert.ok(RING_LAYOUT.tail.at - RING_LAYOUT.head.at >= 64 - 6, 'head and tail on different 64-byte cache lines');
  assert.equal(RING_U16, { flags: 2, head: 3, tail: 32 });
  assert.is(RING_U32_COOKIE, 0);
  assert.equal(Object.values(DESC_LAYOUT).map((f) => [f.at, f.kind]), [[0, 'u16'], [2, 'u16'], [4, 'u32'], [8, 'u32'], [12, 'u32']]);
  assert.is(DESC_SIZE, 16);
  assert.is(DESC_WORDS, 4);
  assert.is(DESC_U16, 8);
  assert.equal(DESC_U32, { flagsRegion: 0, length: 1, offset: 2, metadata: 3 });
  assert.is(DESC_REGION_SHIFT, 16);
});

test('error codes: a closed set, each with a text; libmemif memif_err_t numbers where the meaning is shared', () => {
  const codes = Object.values(MemifErrorCode);
  assert.is(new Set(codes).size, codes.length, 'no number used twice');
  for (const c of codes) {
    assert.ok(MEMIF_ERROR_TEXT[c].length > 0, `text for ${c}`);
    assert.ok(isMemifErrorCode(c));
  }
  assert.is(Object.keys(MEMIF_ERROR_TEXT).length, codes.length, 'no text without a code');
  // From libmemif.h (memif_err_t counts from MEMIF_ERR_SUCCESS = 0).
  assert.equal(
    [MemifErrorCode.NO_SHMFD, MemifErrorCode.COOKIE, MemifErrorCode.MFMSG, MemifErrorCode.PROTO, MemifErrorCode.ID,
      MemifErrorCode.ALRCONN, MemifErrorCode.MODE, MemifErrorCode.SECRET, MemifErrorCode.NOSECRET, MemifErrorCode.MAXREG,
      MemifErrorCode.MAXRING, MemifErrorCode.NO_INTFD, MemifErrorCode.DISCONNECT, MemifErrorCode.DISCONNECTED,
      MemifErrorCode.UNKNOWN_MSG, MemifErrorCode.MAX_RING, MemifErrorCode.PRIVHDR],
    [16, 17, 22, 24, 25, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 38, 39],
  );
  assert.ok(codes.filter((c) => c >= 256).length > 0 && codes.every((c) => c < 40 || c >= 256), 'our own codes start at 256');
  assert.not.ok(isMemifErrorCode(0));
  assert.not.ok(isMemifErrorCode(7));
  assert.is(memifErrorName(MemifErrorCode.SECRET), 'SECRET (29)');
});

test('a received DISCONNECT: our codes are kept, 0 and unknown numbers read as DISCONNECT, an empty string gets the text', () => {
  assert.equal(peerFault({ type: MsgType.DISCONNECT, code: MemifErrorCode.SECRET, reason: 'Incorrect secret' }), { code: MemifErrorCode.SECRET, reason: 'Incorrect secret' });
  assert.equal(peerFault({ type: MsgType.DISCONNECT, code: 0, reason: 'Incorrect secret' }), { code: MemifErrorCode.DISCONNECT, reason: 'Incorrect secret' });
  assert.equal(peerFault({ type: MsgType.DISCONNECT, code: 1000, reason: '' }), { code: MemifErrorCode.DISCONNECT, reason: MEMIF_ERROR_TEXT[MemifErrorCode.DISCONNECT] });
});

test.run();
