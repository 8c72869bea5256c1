export { buildApp, type BuildAppOptions } from './app.js';
export { loadConfig, resolveConfig, environmentOverrides, ENV_PREFIX, CONFIG_PATH_ENV } from './config/load.js';
export type { RelayConfig, RelayConfigInput } from './config/schema.js';
