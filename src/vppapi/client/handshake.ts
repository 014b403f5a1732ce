// Socket client registration: sockclnt_create → sockclnt_create_reply (with the message table).
//
// The first message cannot be looked up in a table we do not have yet, so its id is fixed:
// memclnt is the first API module VPP registers and its messages are numbered from 1 in .api
// order, which puts sockclnt_create at 15 and sockclnt_create_reply at 16. vpp_papi
// (vpp_transport_socket.py: '_vl_msg_id': 15, checks msgid 16) and GoVPP (socketclient.go:
// sockCreateMsgId = 15) hard-code the same numbers.
//
// VPP's handler (src/vlibmemory/socket_api.c) answers with index = registration pool index |
// 0x80000000; that value is the client_index to put in every later request, and the `index`
// to pass to sockclnt_delete.
import type { MessageCodec } from '../codec/index.js';
import { MessageTable, type LocalMessage, type VppTableEntry } from './message-table.js';
import { VppProtocolError } from './errors.js';

export const SOCKCLNT_CREATE_ID = 15;
export const SOCKCLNT_CREATE_REPLY_ID = 16;

/** Context of the registration request; any value works, VPP copies it into the reply. */
const CREATE_CONTEXT = 0x7473_7670; // "tsvp"

export interface HandshakeResult {
  clientIndex: number;
  table: MessageTable;
}

export function encodeSockclntCreate(codec: MessageCodec, clientName: string): Uint8Array {
  return codec.encode({ _vl_msg_id: SOCKCLNT_CREATE_ID, context: CREATE_CONTEXT, name: clientName });
}

/** Interpret VPP's first message on the socket. Throws VppProtocolError on anything unexpected. */
export function parseSockclntCreateReply(payload: Uint8Array, replyCodec: MessageCodec, local: readonly LocalMessage[]): HandshakeResult {
  if (payload.length < 2) throw new VppProtocolError(`handshake: first message from VPP has ${payload.length} bytes, no message id`);
  const id = (payload[0]! << 8) | payload[1]!;
  if (id !== SOCKCLNT_CREATE_REPLY_ID) {
    throw new VppProtocolError(`handshake: expected sockclnt_create_reply (id ${SOCKCLNT_CREATE_REPLY_ID}), got message id ${id}`, id);
  }
  let value: Record<string, any>;
  try {
    value = replyCodec.decode(payload).value;
  } catch (err) {
    throw new VppProtocolError(`handshake: cannot decode sockclnt_create_reply (${payload.length} bytes): ${(err as Error).message}`, id);
  }
  if (value.response !== 0) throw new VppProtocolError(`handshake: sockclnt_create_reply response ${value.response}`, id);
  const entries: VppTableEntry[] = (value.message_table as Array<{ index: number; name: string }>).map((e) => ({ index: e.index, name: e.name }));
  if (!entries.length) throw new VppProtocolError('handshake: VPP sent an empty message table', id);
  return { clientIndex: value.index >>> 0, table: new MessageTable(entries, local) };
}
