/**
 * @lightsout/bmc-wire/ipmi: pure IPMI v1.5 / v2.0 (RMCP+) and SOL codecs over
 * Uint8Array, usable by a client (the agent) and by a BMC (bmcsim). No I/O;
 * cryptography comes in through IpmiCrypto (`ipmiCryptoFrom(node:crypto)` builds one).
 */
export * from './errors.js';
export * from './bytes.js';
export * from './crypto.js';
export * from './rmcp.js';
export * from './message.js';
export * from './session-v15.js';
export * from './session-v20.js';
export * from './rakp.js';
export * from './sol-packet.js';
export * from './replay-window.js';
export * from './suites/algorithms.js';
export type { CipherSuite } from './suites/cipher-suite.js';
export * from './suites/registry.js';
export * from './commands/command.js';
export * from './commands/app.js';
export * from './commands/chassis.js';
export * from './commands/sdr.js';
export * from './commands/sdr-record.js';
export * from './commands/sensor-names.js';
export * from './commands/sensor-reading.js';
export * from './commands/sel.js';
export * from './commands/sel-text.js';
export * from './commands/fru.js';
export * from './commands/system-info.js';
