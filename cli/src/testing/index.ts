/**
 * `@lightsout/cli/testing`: the CLI's test support — a relay stand-in over
 * loopback HTTP and the in-process command runner. Test files only.
 */
export { relayStub, relayStubs, runCli, type CliRun, type RelayStub, type SeenRequest, type StubAnswer } from './relay-stub.js';
export { startRelayProcess, startAgentProcess, cli, loginThroughDeviceFlow } from './stack.js';
