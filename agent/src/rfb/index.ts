export { openRfbProxy, type RfbProxy, type RfbProxyOptions } from './proxy.js';
export { parseBmcVncUrl, type BmcVncEndpoint, type WebSocketOptions } from './transport.js';
export { type BmcHandshakeResult, SUPPORTED_SECURITY_TYPES, RECOGNISED_SECURITY_TYPES } from '@lightsout/bmc-wire/rfb';
export { openRfbPort, type RfbPort, type RfbPortEvents } from './console-port.js';
