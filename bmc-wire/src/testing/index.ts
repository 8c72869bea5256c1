export * from './ipmi.js';
export * from './node-crypto.js';
export * from './captures.js';
