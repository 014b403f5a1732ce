// Child-process helper shared with the perf harness.
export * from '../../perf/peers/procs.js';
