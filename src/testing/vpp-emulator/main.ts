// Standalone VPP emulator process (a TEST DOUBLE, not VPP), for restart tests and manual use:
//   node dist/src/testing/vpp-emulator/main.js --socket PATH [--api-dir DIR] [--runtime-dir DIR]
//        [--omit msg1,msg2] [--crc msg=0x12345678,...] [--vhost-net yes|no]
// --api-dir defaults to the .api.json files tsvpp ships. Prints one JSON line {"ready":PATH,"pid":N}
// on stdout once listening; exits 0 on SIGTERM/SIGINT.
import { startVppEmulator } from './emulator.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const socketPath = arg('--socket') ?? '/run/vpp/api.sock';
const apiDir = arg('--api-dir');
const crcOverride: Record<string, string> = {};
for (const kv of (arg('--crc') ?? '').split(',').filter(Boolean)) {
  const [k, v] = kv.split('=');
  if (k && v) crcOverride[k] = v;
}
const emu = await startVppEmulator({
  socketPath, apiDir, runtimeDir: arg('--runtime-dir'),
  ...(arg('--vhost-net') ? { vhostNet: arg('--vhost-net') === 'yes' } : {}),
  table: { omit: (arg('--omit') ?? '').split(',').filter(Boolean), crcOverride },
  log: process.env.VPP_EMULATOR_LOG ? (l) => process.stderr.write(`vpp-emulator: ${l}\n`) : undefined,
});
process.stdout.write(JSON.stringify({ ready: socketPath, pid: process.pid }) + '\n');
const stop = (): void => { void emu.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
