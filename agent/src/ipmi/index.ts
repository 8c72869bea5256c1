/**
 * The agent's IPMI driver: RMCP+ / v1.5 sessions, chassis/boot/SDR/SEL
 * commands, and the SOL hub. Wire codecs live in @lightsout/bmc-wire/ipmi.
 * Design notes: docs/ipmi.md.
 */
export { IpmiDriver, createIpmiDriver, parseQuirks, type IpmiDriverOptions, type IpmiNegotiated } from './driver.js';
export { QUIRKS, QUIRK_ALIASES, quirkEnabled, type QuirkName, type QuirkSettings } from './quirks.js';
export { openIpmiSession, type IpmiSession, type IpmiSessionOptions } from './session/connect.js';
export { SuiteCache, defaultSuiteCache } from './session/suite-cache.js';
export { discoverBmc, type BmcDiscovery } from './session/discover.js';
export type { RmcpPlusSession as RmcpPlusSessionView } from './session/rmcp-plus-session.js';
export type { V15Session as V15SessionView } from './session/v15-session.js';
export { SessionPool, defaultSessionPool } from './pool.js';
export { SolHub, type SolHubEvent, type SolHubOptions, type SolAttachOptions, type SolViewer, type SolViewerListeners } from './sol/sol-hub.js';
export { SolSession, type SolEndReason, type SolTiming } from './sol/sol-session.js';
export * as ipmiCommands from './commands.js';
