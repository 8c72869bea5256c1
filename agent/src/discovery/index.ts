/** @lightsout/agent/discovery: the BMC scanner on its own (the bench and the chain tests drive it directly). */
export { scanRanges, type ScanHooks, type ScanResult, type ScanSettings } from './scanner.js';
export { addressesOf, parseCidr, scanTargets } from './cidr.js';
export { ProbePacer } from './pacer.js';
