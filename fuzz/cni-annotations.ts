/**
 * Fuzz target `cni-annotations`: the pod annotation parser (src/cni/annotations.ts).
 *  - any input: fuzzAnnotations throws nothing but AnnotationError;
 *  - whatever parseCustomIf accepts names interfaces that cannot leave their directory or netns
 *    path (no '/', '.', '..', NUL, whitespace, ≤ 15 bytes) and prints back to the same list.
 */
import fc from 'fast-check';
import { AnnotationError, fuzzAnnotations, parseCustomIf, printCustomIf } from '../src/cni/annotations.js';
import { runProperties, type FuzzProperty, type FuzzResult, type FuzzRunOptions } from './common.js';

export const TARGET = 'cni-annotations';

/** Annotation-shaped text: pieces of the grammar mixed with hostile characters. */
const token = fc.oneof(
  fc.constantFrom('memif', 'tap', 'veth', 'default', 'stub', 'l2net', 'l3net', 'eth0', 'lo', '.', '..', '/', ',', ' ', '\t', '\n', ':', '\0', '=', '-', 'k', 'M', 'G', '1', '0', 'é', '\u{1F600}', '\u00a0', '\u2028'),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.nat(1e12).map(String),
);
export const annotationText = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(token, { maxLength: 24 }).map((t) => t.join('')),
);

/** Throws unless `input` meets both properties. */
export function checkAnnotation(input: string): void {
  try {
    fuzzAnnotations(input);
  } catch (e) {
    throw new Error(`fuzzAnnotations(${JSON.stringify(input)}) threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  let ifs;
  try { ifs = parseCustomIf(input); } catch (e) {
    if (e instanceof AnnotationError) return;
    throw e;
  }
  for (const i of ifs) {
    const n = i.name;
    if (n === '' || n === '.' || n === '..' || /[/\0\s:]/u.test(n) || Buffer.byteLength(n) > 15) {
      throw new Error(`parseCustomIf accepted interface name ${JSON.stringify(n)}`);
    }
    if (i.network.includes('/') || i.network.includes('\0')) throw new Error(`parseCustomIf accepted network ${JSON.stringify(i.network)}`);
  }
  const again = parseCustomIf(printCustomIf(ifs));
  if (JSON.stringify(again) !== JSON.stringify(ifs)) throw new Error(`print/parse changed ${JSON.stringify(ifs)} into ${JSON.stringify(again)}`);
}

export const properties: FuzzProperty<string>[] = [
  { name: 'parse', runs: 2000, arbitrary: annotationText, check: checkAnnotation, entry: (input, error) => ({ input, error }) },
];

/** Checks one saved entry; returns the problem, or undefined when it holds now. */
export function replay(entry: Record<string, unknown>): string | undefined {
  try { checkAnnotation(String(entry.input)); return undefined; } catch (e) { return (e as Error).message; }
}

export function runCniAnnotationsFuzz(o: FuzzRunOptions): Promise<FuzzResult> {
  return runProperties(TARGET, properties, o);
}
