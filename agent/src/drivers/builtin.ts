import type { DriverFactories } from './registry.js';

/**
 * The drivers this build of the agent ships. A protocol appears here once its
 * driver lands (agent/src/ipmi, agent/src/redfish); until then servers that
 * only have that endpoint answer BMC_UNSUPPORTED and are not polled.
 */
export function builtinDriverFactories(): DriverFactories {
  return {};
}
