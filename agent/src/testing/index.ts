/**
 * `@lightsout/agent/testing`: test support other packages' tests use (the
 * benches' RFB viewer). Test files only; the agent never imports this.
 */
export { viewFirstFrame } from './rfb-test-client.js';
