import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockIssuer, type RunningRelay, startRelay } from '@lightsout/relay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/exit-codes.js';
import { run } from '../src/main.js';

/**
 * `lightsout login` against a relay whose external issuer has no device
 * grant (oauth2-mock-server publishes no device_authorization_endpoint, like
 * many providers): the command signs in with authorization code + PKCE
 * through "the system browser" and a loopback redirect instead of failing,
 * stores the session, and the next command uses it. The browser is $BROWSER:
 * a script that opens the URL as a browser would (following the issuer's
 * redirect back to the CLI's loopback port).
 */
const AUDIENCE = 'https://relay.lightsout.test/v1';
let directory: string;
let issuer: MockIssuer;
let relay: RunningRelay;
let env: NodeJS.ProcessEnv;

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { env, output: { out: (text) => (stdout += text), err: (text) => (stderr += text) } });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-cli-login-external-'));
  issuer = await MockIssuer.create();
  // Access tokens as a provider set up for Lightsout mints them: the API audience, tenant and role claims.
  issuer.server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    const accessToken = token.payload['aud'] === undefined;
    Object.assign(token.payload, { sub: 'noc-operator', preferred_username: 'noc-operator' }, accessToken ? { aud: AUDIENCE, tenant: 'provider', role: 'operator' } : {});
  });
  relay = await startRelay({ config: { identity: { mode: 'external', audience: AUDIENCE, external: { issuer: issuer.url, accessTokenTypes: ['JWT'] } } } });
  const browser = join(directory, 'browser');
  writeFileSync(browser, `#!/bin/sh\nexec "${process.execPath}" -e 'fetch(process.argv[1]).then((answer) => answer.text()).then(() => process.exit(0), () => process.exit(1))' "$1"\n`);
  chmodSync(browser, 0o755);
  env = { LIGHTSOUT_CONFIG_DIR: join(directory, 'config'), LIGHTSOUT_RELAY: relay.url, BROWSER: browser, PATH: process.env['PATH'] };
}, 90_000);
afterAll(async () => {
  await relay?.close();
  await issuer?.stop();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

describe('lightsout login with an issuer that has no device grant', () => {
  it('falls back to a loopback redirect with PKCE in the browser, stores the session, and the next command uses it', async () => {
    const login = await cli(['login']);
    expect(login.stderr).toContain('sign in in your browser');
    expect(login.stderr).not.toContain('confirm the code');
    expect(login).toMatchObject({ code: ExitCode.OK });
    expect(login.stderr).toContain(`Logged in to ${relay.url} as noc-operator (tenant provider, role operator)`);
    const whoami = await cli(['whoami', '--json']);
    expect(whoami.code).toBe(ExitCode.OK);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ username: 'noc-operator', tenant: 'provider', role: 'operator', issuer: issuer.url });
  }, 60_000);
});
