// The testpmd launcher lives with the perf harness (tsvpp perf --peer dpdk uses it); tests import it from here.
export * from '../../perf/peers/testpmd.js';
