// Compile-time checked requests from the generated bindings, as GoVPP's binapi gives Go:
//
//   import { memif } from 'tsvpp/vppapi/bindings';
//   const api = typed<memif.Messages, typeof memif.replies>(client);
//   const r = await api.request('memif_create', { role: memif.MemifRole.MEMIF_ROLE_API_MASTER, id: 1 });
//   r.sw_if_index;               // number; a misspelt field or message name does not compile
//
// It adds no runtime behaviour: calls go to the VppClient as they are.
import type { MessageInput } from '../codec/types.js';
import type { RequestOptions, VppClient } from './client.js';

type Filled = '_vl_msg_id' | 'client_index' | 'context';
type Input<T> = MessageInput<Omit<T, Filled>>;
type ReplyOf<M, R, N extends keyof R> = R[N] extends keyof M ? M[R[N]] : never;

export interface TypedVppClient<M, R extends Record<string, string>> {
  readonly client: VppClient;
  request<N extends keyof R & keyof M & string>(name: N, value?: Input<M[N]>, opts?: RequestOptions): Promise<ReplyOf<M, R, N>>;
  dump<N extends keyof R & keyof M & `${string}_dump`>(name: N, value?: Input<M[N]>, opts?: { timeoutMs?: number }): Promise<ReplyOf<M, R, N>[]>;
}

export function typed<M, R extends Record<string, string>>(client: VppClient): TypedVppClient<M, R> {
  return {
    client,
    request: (name, value, opts) => client.request(name, (value ?? {}) as Record<string, unknown>, opts ?? {}),
    dump: (name, value, opts) => client.dump(name, (value ?? {}) as Record<string, unknown>, opts ?? {}),
  };
}
