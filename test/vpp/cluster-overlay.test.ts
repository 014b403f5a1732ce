// The two-node test on real VPP (cluster.test.ts) again with nodeInterconnect vxlan: node b on a
// subnet of its own behind a router, the default network between the hosts in the Linux VXLAN
// overlay, CustomNetworks' VPP tunnels inside it. Every test of that file runs; see its header.
process.env.TSVPP_TEST_INTERCONNECT = 'vxlan';
await import('./cluster.test.js');
