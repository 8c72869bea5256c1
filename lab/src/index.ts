export * from './ports.js';
export * from './vnc.js';
export * from './ipmi-sim.js';
export * from './ipmi-sim-config.js';
export * from './ipmi-sim-uart.js';
export * from './ipmi-sim-proxy.js';
export * from './postgres.js';
export * from './processes.js';
