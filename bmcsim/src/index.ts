/**
 * @lightsout/bmcsim: simulated BMCs (IPMI RMCP+ with SOL, Redfish, RFB, OpenBMC-style
 * /console0 and /kvm/0) for the demo, end-to-end tests and benchmarks.
 * Start reading at fleet.ts (many BMCs) and bmc/bmc.ts (one BMC).
 */
export { startFleet, addressOf, defaultPorts, type Fleet, type FleetBmc, type FleetOptions, type FleetPorts } from './fleet.js';
export { agentConfigFor, stringifyAgentConfig, ADMIN_PASSWORD_ENV, VNC_PASSWORD_ENV, type AgentConfigOptions } from './agent-config.js';
export { Bmc, type BmcEndpoints } from './bmc/bmc.js';
export { bmcConfig, DEFAULT_FAULTS, DEMO_USERS, type BmcConfig, type BmcFaults, type BmcUser, type RedfishFlavour } from './bmc/config.js';
export { Host, type BootDevice, type HostPowerState, type HostTimings } from './host/host.js';
export { ManualClock, systemClock, type Clock } from './host/clock.js';
export { IpmiLanServer } from './ipmi/lan-server.js';
export { selfSignedCertificate, type TlsMaterial } from './web/tls.js';
