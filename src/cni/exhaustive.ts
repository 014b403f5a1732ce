/**
 * Ends a switch over a closed union: the call compiles only when every member has its case, and at
 * run time (a value from an old state file, a cast) it fails naming what was not handled.
 */
export function exhaustive(x: never, what: string): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(x)}`);
}
