/**
 * Fuzz target `cni-invocation`: the agent's reader of what the tsvpp-cni shim sends over loopback
 * TCP (src/cni/invocation.ts), which any local process can connect to and write.
 *  - any bytes, in any chunks: InvocationReader throws nothing but InvocationError;
 *  - it yields an invocation only after the right token line, with nothing but CNI_* variables,
 *    and exactly the stdin bytes the header announced, whatever the chunking;
 *  - after it threw or yielded, the same bytes in other chunks give the same outcome.
 */
import fc from 'fast-check';
import { INVOCATION_ENV, INVOCATION_MAGIC, InvocationError, InvocationReader, type Invocation } from '../src/cni/invocation.js';
import { runProperties, type FuzzProperty, type FuzzResult, type FuzzRunOptions } from './common.js';

export const TARGET = 'cni-invocation';
const TOKEN = '5e'.repeat(32);

/** Request-shaped bytes: pieces of the wire mixed with hostile ones. */
const piece = fc.oneof(
  fc.constantFrom(`${INVOCATION_MAGIC} 1 ${TOKEN}\n`, `${INVOCATION_MAGIC} 1 ${TOKEN.slice(1)}0\n`, `${INVOCATION_MAGIC} 2 ${TOKEN}\n`, `${INVOCATION_MAGIC} 1 `, TOKEN,
    '\n', '\n\n', '0\n', '2\n', '7\n', '99999999\n', '-1\n', '=', ...INVOCATION_ENV.map((v) => `${v}=`), 'HOME=/root\n', '{}', '\0', 'é', '\r\n', ' '),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.nat(300).map((n) => `${n}\n`),
);
/** A request as the shim would write it, with any variable names and values and a stdin length a little off or not. */
const shaped = fc.record({
  head: fc.constantFrom(`${INVOCATION_MAGIC} 1 ${TOKEN}\n`, `${INVOCATION_MAGIC} 1 ${TOKEN}\n`, `${INVOCATION_MAGIC} 1 ${'0'.repeat(64)}\n`, `${INVOCATION_MAGIC} 3 ${TOKEN}\n`),
  vars: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...INVOCATION_ENV), fc.string({ maxLength: 10 })), fc.string({ maxLength: 12 })), { maxLength: 8 }),
  stdin: fc.string({ unit: 'grapheme', maxLength: 30 }),
  off: fc.constantFrom(0, 0, 0, -1, 1, 5),
}).map(({ head, vars, stdin, off }) => head + `${Buffer.byteLength(stdin) + off}\n` + vars.map(([k, v]) => `${k}=${v}\n`).join('') + '\n' + stdin);

export interface InvocationCase { hex: string; cuts: number[] }
export const invocationCase: fc.Arbitrary<InvocationCase> = fc.record({
  hex: fc.oneof(
    shaped.map((t) => Buffer.from(t, 'utf8').toString('hex')),
    fc.array(piece, { maxLength: 16 }).map((p) => Buffer.from(p.join(''), 'utf8').toString('hex')),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('hex')),
  ),
  cuts: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }),
});

type Outcome = { kind: 'more' } | { kind: 'error'; msg: string } | { kind: 'invocation'; inv: Invocation; consumed: number };

function feed(bytes: Buffer, cuts: number[]): Outcome {
  const r = new InvocationReader(Buffer.from(TOKEN, 'latin1'));
  for (let i = 0, k = 0; i < bytes.length;) {
    const n = cuts[k++ % cuts.length]!;
    let inv: Invocation | undefined;
    try { inv = r.push(bytes.subarray(i, i + n)); } catch (e) {
      if (!(e instanceof InvocationError)) throw new Error(`push threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
      return { kind: 'error', msg: e.message };
    }
    i += n;
    if (inv) return { kind: 'invocation', inv, consumed: Math.min(i, bytes.length) };
  }
  return { kind: 'more' };
}

/** Throws unless the case meets the properties. */
export function checkInvocation(c: InvocationCase): void {
  const bytes = Buffer.from(c.hex, 'hex');
  const a = feed(bytes, c.cuts), b = feed(bytes, [bytes.length || 1]);
  if (a.kind === 'invocation') {
    const head = `${INVOCATION_MAGIC} 1 ${TOKEN}\n`;
    if (!bytes.subarray(0, head.length).equals(Buffer.from(head, 'latin1'))) throw new Error('an invocation without the token line');
    for (const k of Object.keys(a.inv.env)) if (!(INVOCATION_ENV as readonly string[]).includes(k)) throw new Error(`variable ${k} let through`);
    const end = bytes.indexOf('\n\n', head.length - 1);
    const announced = Number(bytes.toString('latin1', head.length, bytes.indexOf(10, head.length)));
    if (a.consumed - (end + 2) !== announced) throw new Error(`stdin of ${a.consumed - (end + 2)} bytes where the header announced ${announced}`);
  }
  // One chunk or many: the same outcome (an error may name a different byte count only when the
  // chunking delivered more than the header announced).
  if (a.kind !== b.kind && !(a.kind === 'invocation' && b.kind === 'error' && /bytes of stdin where the header said/.test(b.msg))) {
    throw new Error(`chunks ${JSON.stringify(c.cuts)} gave ${a.kind}${a.kind === 'error' ? ` (${a.msg})` : ''}, one chunk ${b.kind}${b.kind === 'error' ? ` (${b.msg})` : ''}`);
  }
  if (a.kind === 'invocation' && b.kind === 'invocation' && JSON.stringify(a.inv) !== JSON.stringify(b.inv)) throw new Error('chunking changed the invocation');
}

export const properties: FuzzProperty<InvocationCase>[] = [
  { name: 'read', runs: 2000, arbitrary: invocationCase, check: checkInvocation, entry: (input, error) => ({ case: input, error }) },
];

/** Checks one saved entry; returns the problem, or undefined when it holds now. */
export function replay(entry: Record<string, unknown>): string | undefined {
  try { checkInvocation(entry.case as InvocationCase); return undefined; } catch (e) { return (e as Error).message; }
}

export function runCniInvocationFuzz(o: FuzzRunOptions): Promise<FuzzResult> {
  return runProperties(TARGET, properties, o);
}
