export * from './session.js';
export * from './messages.js';
export * from './byte-ring.js';
export * from './replay-buffer.js';
export * from './endpoint.js';
export * from './client.js';
export * from './read-gate.js';
export * from './recording.js';
