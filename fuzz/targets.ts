/** The fuzz targets by name: how to run one for a while, and how to replay a saved counterexample. */
import { join } from 'node:path';
import { CORPUS_ROOT, type FuzzResult, type FuzzRunOptions } from './common.js';
import * as annotations from './cni-annotations.js';
import * as invocation from './cni-invocation.js';
import * as memifMsg from './memif-msg.js';
import * as memifRing from './memif-ring.js';
import * as vppapi from './vppapi-target.js';

export interface FuzzTarget {
  name: string;
  what: string;
  run(o: FuzzRunOptions): Promise<FuzzResult>;
  /** The problem a corpus entry still shows, or undefined when it holds now. */
  replay(entry: Record<string, unknown>): string | undefined | Promise<string | undefined>;
  corpusDir: string;
}

export const TARGETS: readonly FuzzTarget[] = [
  { name: 'memif-msg', what: 'memif control messages: decoder, encoder, master state machine over a real socket', run: memifMsg.runMemifMsgFuzz, replay: memifMsg.replay, corpusDir: join(CORPUS_ROOT, 'memif-msg') },
  { name: 'memif-ring', what: 'memif shared rings under a hostile peer', run: memifRing.runMemifRingFuzz, replay: memifRing.replay, corpusDir: join(CORPUS_ROOT, 'memif-ring') },
  { name: 'vppapi', what: 'VPP binary API codec: decode of arbitrary bytes, encode/decode identity', run: vppapi.runVppapiTargetFuzz, replay: vppapi.replay, corpusDir: join(CORPUS_ROOT, 'vppapi') },
  { name: 'cni-annotations', what: 'pod annotation parser', run: annotations.runCniAnnotationsFuzz, replay: annotations.replay, corpusDir: join(CORPUS_ROOT, 'cni-annotations') },
  { name: 'cni-invocation', what: 'the agent\'s reader of the tsvpp-cni shim\'s requests (loopback TCP, any local process)', run: invocation.runCniInvocationFuzz, replay: invocation.replay, corpusDir: join(CORPUS_ROOT, 'cni-invocation') },
];

export function target(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}

