/**
 * `@lightsout/relay/testing`: helpers for tests in other packages (CLI, agent
 * integration tests) to run a real relay and log in through its real OP.
 * Test files only; the relay itself never imports this.
 */
export { startRelay, sharedAtRestKeyFile, TEST_PASSWORD, type RunningRelay, type StartRelayOptions } from './relay.js';
export { loginWithDeviceFlow, loginWithPassword, approveAuthorization, approveDeviceCode, refreshTokens, signInAgainWith, endOpSession, revokeRefreshToken, fetchClientConfig, createJoinTokenAs, type TokenSet } from './login.js';
export { TestBrowser, parseForm, type HtmlForm } from './browser.js';
export { enrollTestAgent, agentConnectToken, TestControlClient, isRefusal, type TestAgentIdentity, type UpgradeRefusal } from './control-client.js';
export { createScopeIdentities, type ScopeIdentities } from './scope-identities.js';
export { startAnsweringAgent, type AnsweringAgent } from './answering-agent.js';
export { MockIssuer } from './mock-issuer.js';
export { postgresForThisFile, storeDialects, type StoreDialect } from './dialects.js';
export { generateEd25519Key } from '../ssh/ed25519-key.js';
