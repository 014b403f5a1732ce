// rtnetlink in one namespace object: the requests and parsers for links, addresses, routes, rules
// neighbours and traffic control, with the layouts and framing they share.
export * from './layout.js';
export * from './wire.js';
export * from './inet.js';
export * from './link.js';
export * from './address.js';
export * from './route.js';
export * from './neighbor.js';
export * from './rule.js';
export * from './tc.js';
