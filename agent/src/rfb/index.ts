export { openRfbProxy, type RfbProxy, type RfbProxyOptions } from './proxy.js';
export { parseBmcVncUrl, type BmcVncEndpoint, type WebSocketOptions } from './transport.js';
export { type BmcHandshakeResult } from './bmc-handshake.js';
export { SUPPORTED_SECURITY_TYPES, RECOGNISED_SECURITY_TYPES } from './security/registry.js';
export { openRfbPort, type RfbPort, type RfbPortEvents } from './console-port.js';
