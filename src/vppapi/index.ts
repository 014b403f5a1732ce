// tsvpp vppapi: VPP's binary API — the codec compiled from .api.json files and the socket client.
export * from './codec/index.js';
export * from './client/index.js';
