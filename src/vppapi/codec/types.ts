/**
 * Input form of a generated message/type interface for encode(): every field optional at every
 * depth (left-out fields take their JSON default or zero, VLA counts come from the arrays).
 */
export type MessageInput<T> =
  T extends Uint8Array ? T :
  T extends bigint ? bigint | number :
  T extends readonly (infer E)[] ? MessageInput<E>[] :
  T extends object ? { [K in keyof T]?: MessageInput<T[K]> } :
  T;
