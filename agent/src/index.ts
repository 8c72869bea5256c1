export { startAgent, controlUrlOf, type AgentContext, type AgentExtension, type AgentExtensionFactory, type RunningAgent } from './agent.js';
export { createDispatcher, type OperationHandler, type OperationHandlers } from './control/dispatcher.js';
export { loadConfig, resolveConfig, JOIN_TOKEN_ENV } from './config/load.js';
export type { AgentConfig, IpmiEndpoint, RedfishEndpoint, SerialEndpoint, ServerEntry, VncEndpoint } from './config/types.js';
export { DriverRegistry, type DriverContext, type DriverFactories } from './drivers/registry.js';
export type { BmcCredentials, BmcDriver } from './drivers/types.js';
export { registrationOf, capabilitiesOf } from './inventory.js';
