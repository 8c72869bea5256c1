export * from './errors.js';
export * from './ids.js';
export * from './control/index.js';
export * from './schemas/index.js';
export * from './streams/index.js';
export * from './audit/chain.js';
export * from './media/upload-routes.js';
export * from './loopback.js';
