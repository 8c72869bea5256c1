/**
 * `@lightsout/bmcsim/testing`: the simulator's test support — a simulated
 * IPMI BMC on a loopback port, third-party clients run as processes or in a
 * pseudo-terminal, a free low UDP port. Test files only; the simulator
 * itself never imports this.
 */
export { startIpmiBmc, ipmiBmcFixtures, waitForState } from './ipmi-bmc.js';
export { freeLowUdpPort } from './ports.js';
export { PtyClient } from './pty.js';
export { run, decodeImage, type RunResult } from './run.js';
