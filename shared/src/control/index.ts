export * from './messages.js';
export * from './codec.js';
export * from './operations.js';
export * from './inventory-parts.js';
