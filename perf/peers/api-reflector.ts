// A VPP API peer that costs (almost) nothing per message, for measuring the client's own ceiling:
// it speaks VPP's socket protocol (msgbuf_t framing, the sockclnt_create handshake with the
// message table VPP would hand out), answers control_ping by copying the request's context into
// a reply encoded once, and show_version and sockclnt_delete through the codec. Anything else is
// dropped and counted. Not a test double of VPP (that is src/testing/vpp-emulator): nothing here
// has state, so the rate it allows is the client's, not VPP's and not the emulator's.
//   node dist/perf/peers/api-reflector.js --socket PATH [--api-dir DIR]
// Prints {"ready":PATH,"pid":N} once listening; exits 0 on SIGTERM/SIGINT.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { ApiRegistry } from '../../src/vppapi/codec/index.js';
import { shippedApiDir } from '../../src/vppapi/client/index.js';
import { FrameDecoder, FrameWriter } from '../../src/vppapi/transport/frame.js';
import { buildMessageTable, SOCK_API_REG_HANDLE_BIT } from '../../src/testing/vpp-emulator/table.js';

/** A request's context: after the u16 id and the u32 client_index (VPP's request header). */
const REQUEST_CONTEXT = 6;
/** A reply's context: right after the u16 id. */
const REPLY_CONTEXT = 2;

export async function startReflector(socketPath: string, apiDir = shippedApiDir()): Promise<net.Server> {
  const registry = ApiRegistry.fromDir(apiDir);
  const table = buildMessageTable(registry);
  const id = (name: string): number => table.idByName.get(name)!;
  const PING = id('control_ping');
  const encoded = (name: string, value: Record<string, unknown>): Buffer => {
    const b = Buffer.from(registry.message(name).encode(value));
    b.writeUInt16BE(id(name), 0);
    return b;
  };
  let next = 1;

  const server = net.createServer((sock) => {
    const handle = (next++ | SOCK_API_REG_HANDLE_BIT) >>> 0;
    const ping = encoded('control_ping_reply', { context: 0, retval: 0, client_index: handle, vpe_pid: process.pid });
    const writer = new FrameWriter((bytes) => {
      if (sock.destroyed) return true;
      sock.write(bytes);
      return sock.writableLength === 0;
    });
    const reply = (name: string, value: Record<string, unknown>): void => writer.frame(encoded(name, value));
    const decoder = new FrameDecoder();
    const onFrame = (b: Buffer, start: number, end: number): void => {
      if (end - start < REQUEST_CONTEXT + 4) return;
      const msg = b.readUInt16BE(start);
      if (msg === PING) {
        const at = writer.room(ping.length);
        writer.u8.set(ping, at);
        writer.u8.writeUInt32BE(b.readUInt32BE(start + REQUEST_CONTEXT), at + REPLY_CONTEXT);
        writer.commit();
        return;
      }
      const name = table.nameById.get(msg);
      const req = name ? (registry.message(name).decode(b.subarray(start, end)).value as Record<string, unknown>) : null;
      switch (name) {
        case 'sockclnt_create':
          return reply('sockclnt_create_reply', { client_index: 0, context: req!.context, response: 0, index: handle, count: table.entries.length, message_table: table.entries });
        case 'show_version':
          return reply('show_version_reply', { context: req!.context, retval: 0, program: 'tsvpp api-reflector', version: 'reflector', build_date: '', build_directory: '' });
        case 'sockclnt_delete':
          reply('sockclnt_delete_reply', { context: req!.context, response: 1 });
          writer.flush();
          sock.end();
          return;
        default:
          process.stderr.write(`api-reflector: ${name ?? `msg id ${msg}`} dropped (only control_ping, show_version and the handshake are answered)\n`);
      }
    };
    sock.on('data', (chunk: Buffer) => {
      try { decoder.feed(chunk, onFrame); } catch { sock.destroy(); }
    });
    sock.on('error', () => {});
  });
  try { if (fs.statSync(socketPath).isSocket()) fs.unlinkSync(socketPath); } catch { /* absent */ }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  return server;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const arg = (n: string): string | undefined => { const i = process.argv.indexOf(n); return i >= 0 ? process.argv[i + 1] : undefined; };
  const socketPath = arg('--socket');
  if (!socketPath) { process.stderr.write('api-reflector: --socket PATH is required\n'); process.exit(2); }
  const server = await startReflector(socketPath, arg('--api-dir'));
  process.stdout.write(JSON.stringify({ ready: socketPath, pid: process.pid }) + '\n');
  const stop = (): void => { server.close(() => { try { fs.unlinkSync(socketPath); } catch { /* gone */ } process.exit(0); }); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
