// TEST DOUBLE handlers: memif plugin (memif_api.c / memif.c, checked against VPP source):
//  - socket_filename_add_del: socket id 0 or ~0 → INVALID_ARGUMENT; id in use with another
//    filename → ENTRY_ALREADY_EXISTS (same filename is accepted); delete unknown → INVALID_ARGUMENT,
//    delete in use → UNEXPECTED_INTF_STATE; empty name → INVALID_ARGUMENT; relative names live in
//    the runtime dir (their directory is created, failing → SYSCALL_ERROR_1); an absolute name is
//    taken as it is (VPP checks nothing until it listens or connects).
//  - _v2: socket_id ~0 on add allocates an unused id as memif_get_unused_socket_id does (a random
//    walk from a static seed: 1013904223 first), returned in the reply.
//  - create: the first master on a socket binds it; a missing directory, or a path over 106 bytes
//    (clib_socket_init: its length with the NUL over sizeof(sun_path) - 1) → SYSCALL_ERROR_4.
//  - dump: ring_size and buffer_size are the running values (1 and 0 until a peer connected).
//  - create: unknown socket id → INVALID_ARGUMENT; id already on that socket, or master/slave mix
//    on one socket → SUBIF_ALREADY_EXISTS; ring_size not a power of 2 → INVALID_ARGUMENT.
//  - delete: not a memif → INVALID_SW_IF_INDEX.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Handler, HandlerContext, Value } from '../handler.js';
import { fail, isZero, randomMac, runHook, unusedId, Retval } from '../handler.js';
import { setAdmin } from './interface.js';

function socketFilenameAddDel(ctx: HandlerContext, isAdd: boolean, socketId: number, filename: string): void {
  const socks = ctx.state.memifSockets;
  if ((socketId === 0 && !isAdd) || socketId === 0xffffffff) fail('INVALID_ARGUMENT', `socket id ${socketId}`);
  if (!isAdd) {
    const s = socks.get(socketId);
    if (!s) fail('INVALID_ARGUMENT', `memif socket id ${socketId} does not exist`);
    if (s.refCnt > 0) fail('UNEXPECTED_INTF_STATE', `memif socket id ${socketId} is in use by ${s.refCnt} interfaces`);
    socks.delete(socketId);
    return;
  }
  if (!filename) fail('INVALID_ARGUMENT', 'empty socket filename');
  let full = filename;
  if (!filename.startsWith('/') && !filename.startsWith('@')) {
    full = path.join(ctx.runtimeDir, filename);
    try { fs.mkdirSync(path.dirname(full), { recursive: true }); } catch { fail('SYSCALL_ERROR_1', `unable to create socket dir ${path.dirname(full)}`); }
  }
  const have = socks.get(socketId);
  if (have) {
    if (have.filename === full) return;
    fail('ENTRY_ALREADY_EXISTS', `memif socket id ${socketId} already has filename ${have.filename}`);
  }
  socks.set(socketId, { socketId, filename: full, refCnt: 0, isListener: false, ids: new Set() });
}

async function memifCreate(req: Value, ctx: HandlerContext): Promise<Value> {
  const socketId = req.socket_id >>> 0;
  const s = ctx.state.memifSockets.get(socketId);
  const isMaster = req.role === 0;
  const ringSize = req.ring_size || 1024;
  if ((ringSize & (ringSize - 1)) !== 0) fail('INVALID_ARGUMENT', `ring_size ${ringSize} is not a power of 2`);
  if (!s) fail('INVALID_ARGUMENT', `memif socket id ${socketId} does not exist`);
  const id = req.id >>> 0;
  if (s.refCnt > 0) {
    if (s.isListener !== isMaster) fail('SUBIF_ALREADY_EXISTS', `memif socket ${socketId} is used as ${s.isListener ? 'master' : 'slave'}`);
    if (s.ids.has(id)) fail('SUBIF_ALREADY_EXISTS', `memif id ${id} already exists on socket ${socketId}`);
  } else if (isMaster && s.filename.startsWith('/') && Buffer.byteLength(s.filename) > 106) {
    fail('SYSCALL_ERROR_4', `File path '${s.filename}' too long`);
  } else if (isMaster && s.filename.startsWith('/') && !fs.existsSync(path.dirname(s.filename))) {
    // The first master binds the socket (clib_socket_init), which needs its directory.
    fail('SYSCALL_ERROR_4', `${s.filename}: bind: No such file or directory`);
  }
  await runHook('onMemifCreate', ctx.hooks.onMemifCreate && (() => ctx.hooks.onMemifCreate!({ request: req, socketId, socketFilename: s.filename, isMaster })));
  if (s.refCnt === 0) s.isListener = isMaster;
  s.refCnt++;
  s.ids.add(id);
  const i = ctx.state.addInterface({
    kind: 'memif', name: `memif${socketId}/${id}`, devType: 'memif', mac: isZero(req.hw_addr) ? randomMac() : req.hw_addr,
    mtu: req.mode === 1 ? 0 : 9000,
    memif: {
      id, socketId, role: req.role, mode: req.mode, ringSize, bufferSize: req.buffer_size || 2048,
      zeroCopy: !isMaster && !req.no_zero_copy, secret: req.secret ?? '', rxQueues: req.rx_queues || 1, txQueues: req.tx_queues || 1,
    },
  });
  return { sw_if_index: i.swIfIndex };
}

export const memifHandlers: Record<string, Handler> = {
  memif_socket_filename_add_del: (req, ctx) => {
    if (req.socket_id === 0) fail('INVALID_ARGUMENT', 'socket id 0 cannot be changed');
    socketFilenameAddDel(ctx, !!req.is_add, req.socket_id >>> 0, req.socket_filename ?? '');
    return {};
  },

  memif_socket_filename_add_del_v2: (req, ctx) => {
    let socketId = req.socket_id >>> 0;
    if (socketId === 0) fail('INVALID_ARGUMENT', 'socket id 0 cannot be changed');
    if (req.is_add && socketId === 0xffffffff) socketId = unusedId(ctx, 'memifSocket', 0xffffffff, 0xffffffff, (id) => ctx.state.memifSockets.has(id));
    try {
      socketFilenameAddDel(ctx, !!req.is_add, socketId, req.socket_filename ?? '');
    } catch (e) {
      if (e instanceof Retval) e.fields = { socket_id: socketId };
      throw e;
    }
    return { socket_id: socketId };
  },

  memif_create: memifCreate,
  memif_create_v2: memifCreate,

  memif_delete: async (req, ctx) => {
    const i = ctx.state.interfaces.get(req.sw_if_index);
    if (!i || i.kind !== 'memif') fail('INVALID_SW_IF_INDEX', `sw_if_index ${req.sw_if_index} is not a memif`);
    await runHook('onMemifDelete', ctx.hooks.onMemifDelete && (() => ctx.hooks.onMemifDelete!(i)));
    setAdmin(ctx, i, false);
    const s = ctx.state.memifSockets.get(i.memif!.socketId);
    if (s) {
      s.refCnt--;
      s.ids.delete(i.memif!.id);
    }
    ctx.state.removeInterface(i.swIfIndex);
    ctx.interfaceEvent(i, true);
    return {};
  },

  memif_dump: (_req, ctx) => {
    for (const i of ctx.state.interfaces.values()) {
      if (i.kind !== 'memif') continue;
      const m = i.memif!;
      ctx.details('memif_details', {
        sw_if_index: i.swIfIndex, hw_addr: i.mac, id: m.id, role: m.role, mode: m.mode, zero_copy: m.zeroCopy,
        socket_id: m.socketId, ring_size: i.linkUp ? m.ringSize : 1, buffer_size: i.linkUp ? m.bufferSize : 0,
        flags: (i.adminUp ? 1 : 0) | (i.linkUp ? 2 : 0), if_name: i.name,
      });
    }
    return undefined;
  },

  memif_socket_filename_dump: (_req, ctx) => {
    for (const s of ctx.state.memifSockets.values()) {
      ctx.details('memif_socket_filename_details', { socket_id: s.socketId, socket_filename: s.filename });
    }
    return undefined;
  },
};

