export * from './server.js';
export * from './agent.js';
export * from './identity.js';
export * from './error.js';
export * from './operations.js';
export * from './media.js';
export * from './access.js';
export * from './ssh.js';
