/**
 * @lightsout/bmc-wire/rfb: pure RFB (RFC 6143) codecs and handshake state
 * machines over Uint8Array, for both roles: the agent is a client toward the
 * BMC (BmcHandshake) and a server toward the user's viewer (ClientHandshake);
 * bmcsim is a server. Streaming decoders return `needMore` until a message is
 * complete and throw a LightsoutError for bytes no peer may send. VNC
 * authentication's DES is implemented here (OpenSSL 3 may lack single DES).
 */
export * from './wire.js';
export * from './version.js';
export * from './security-messages.js';
export * from './init-messages.js';
export * from './client-messages.js';
export * from './server-messages.js';
export { desEcbEncrypt } from './des.js';
export * from './security/types.js';
export { noneSecurity } from './security/none.js';
export * from './security/vnc-auth.js';
export * from './security/registry.js';
export * from './bmc-handshake.js';
export * from './client-handshake.js';
export * from './fanout.js';
export { bytesEqual } from '../constant-time.js';
