// Loaded with `node --import` into a tsvpp master process: plays a slave that truncates its region
// at the worst moment, right after the master measured the region's size. The master's fstat is
// wrapped so that, for a memfd named SHRINKING_REGION, the file is cut to 0 bytes as soon as it was
// measured; the outcome of that truncate (done, or refused by a seal) goes to stderr. The memfd's
// name comes from the environment (SHRINKING_REGION).
import { readlinkSync } from 'node:fs';
import { errno, libc } from '../../../src/sys/libc.js';
import { errnoName } from '../../../src/sys/errors.js';

const target = `/memfd:${process.env.SHRINKING_REGION}`;
if (!process.env.SHRINKING_REGION) throw new Error('shrink-after-measure: SHRINKING_REGION is not set');

const fstat = libc.fstat;
const name = (fd: number) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } };

Object.assign(libc, {
  fstat: (fd: number, buf: bigint): number => {
    const r = fstat(fd, buf);
    if (r === 0 && name(fd).startsWith(target)) {
      const cut = libc.ftruncate(fd, 0);
      process.stderr.write(`shrink-after-measure: fd ${fd} ${cut === 0 ? 'truncated to 0 bytes' : `truncate refused (${errnoName(errno())})`}\n`);
    }
    return r;
  },
});
