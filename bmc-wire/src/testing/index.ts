export * from './ipmi.js';
export * from './node-crypto.js';
