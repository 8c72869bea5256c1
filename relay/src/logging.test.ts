import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitAfterLoggingWithoutReader } from '@lightsout/lab/tracked-process';
import { redactUrl } from './logging.js';
import {
  type RunningRelay,
  TestControlClient,
  agentConnectToken,
  createJoinTokenAs,
  enrollTestAgent,
  isRefusal,
  loginWithDeviceFlow,
  loginWithPassword,
  startRelay,
} from './testing/index.js';

const lines: string[] = [];
let relay: RunningRelay;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  relay = await startRelay({ config: { logLevel: 'debug' }, logDestination: sink, demoPassword: 'Very-Secret-Demo-Password-42' });
});
afterAll(async () => {
  await relay.close();
});

describe('logs never contain secrets', () => {
  it('redacts OAuth codes and tokens in logged URLs', () => {
    expect(redactUrl('/?code=abc&state=xyz&iss=http%3A%2F%2Fx')).toBe('/?code=%5BRedacted%5D&state=%5BRedacted%5D&iss=http%3A%2F%2Fx');
    expect(redactUrl('/oidc/device?user_code=ABCD-EFGH')).not.toContain('ABCD');
    expect(redactUrl('/v1/servers')).toBe('/v1/servers');
  });

  it('after logins, a join token, an enrollment and a control session, no secret appears in any log line', async () => {
    const operator = await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password);
    const admin = await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password);
    await expect(loginWithPassword(relay.url, 'admin', 'Wrong-Password-That-Must-Not-Leak')).rejects.toThrow();
    const { token } = await createJoinTokenAs(relay.url, admin.accessToken, { region: 'eu', datacenter: 'fra1' });
    const identity = await enrollTestAgent(relay.url, token);
    const connectToken = await agentConnectToken(identity);
    const client = await TestControlClient.connect(relay.url, connectToken);
    if (isRefusal(client)) throw new Error(client.body.code);
    await client.next('welcome');
    await fetch(`${relay.url}/v1/me`, { headers: { authorization: `Bearer ${operator.accessToken}` } });
    await client.close();

    const log = lines.join('');
    expect(log).toContain('"url"'); // the capture works: request lines are there
    const secrets = [relay.credentials.admin.password, 'Wrong-Password-That-Must-Not-Leak', operator.accessToken, operator.refreshToken!, admin.accessToken, admin.refreshToken!, token, connectToken];
    for (const secret of secrets) {
      expect(log.includes(secret), `secret ${secret.slice(0, 6)}… leaked into the log`).toBe(false);
    }
    // The signature alone must not leak either (a JWT logged in pieces).
    expect(log.includes(operator.accessToken.split('.')[2]!)).toBe(false);
  });
});

describe('the stdout log destination', () => {
  it('lets the process exit when nobody reads its stdout any more', async () => {
    // Lines logged just before exit(), after the reader went away (a killed supervisor): an asynchronous
    // destination would still hold them at exit and retry writing them forever.
    expect(await exitAfterLoggingWithoutReader(new URL('./logging.ts', import.meta.url))).toBe(0);
  }, 30_000);
});
