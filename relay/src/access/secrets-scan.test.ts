import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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
} from '../testing/index.js';

/**
 * Logs and the database never hold a secret. A full flow at log level
 * trace — logins (good and bad passwords), tokens of every kind, an agent
 * enrolling and connecting, an API token, a console session — and then every
 * captured log line and every byte of the database files are searched for
 * each secret the flow handled.
 */
let relay: RunningRelay;
const logLines: string[] = [];
const secrets = new Map<string, string>();
let dataDir: string;

beforeAll(async () => {
  relay = await startRelay({ config: { logLevel: 'trace' }, demoPassword: 'Demo-Password-Secret-7f1c', logDestination: { write: (line: string) => (logLines.push(line), true) } });
  dataDir = relay.dataDir;
  secrets.set('seeded password', 'Demo-Password-Secret-7f1c');
  const admin = await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password);
  secrets.set('admin access token', admin.accessToken);
  if (admin.refreshToken !== undefined) secrets.set('admin refresh token', admin.refreshToken);
  if (admin.idToken !== undefined) secrets.set('admin id token', admin.idToken);
  const cli = await loginWithDeviceFlow(relay.url, 'operator', relay.credentials.operator.password);
  secrets.set('operator access token', cli.accessToken);
  if (cli.refreshToken !== undefined) secrets.set('operator refresh token', cli.refreshToken);

  // A failed login with a password that must not be logged either.
  const wrong = 'Wrong-Password-Secret-93ab';
  secrets.set('mistyped password', wrong);
  await expect(loginWithPassword(relay.url, 'admin', wrong)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

  const created = await fetch(`${relay.url}/v1/users`, { method: 'POST', headers: { authorization: `Bearer ${admin.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'scan-user', password: 'New-User-Password-Secret-51d0', role: 'operator', tenant: 'demo' }) });
  expect(created.status).toBe(201);
  secrets.set('new user password', 'New-User-Password-Secret-51d0');

  const join = await createJoinTokenAs(relay.url, admin.accessToken, { region: 'eu', datacenter: 'fra1' });
  secrets.set('join token', join.token);
  const agent = await enrollTestAgent(relay.url, join.token);
  const connectToken = await agentConnectToken(agent);
  secrets.set('agent connect JWT', connectToken);
  const control = await TestControlClient.connect(relay.url, connectToken);
  if (isRefusal(control)) throw new Error('agent refused');
  await control.next('welcome');
  control.send({ v: 1, type: 'inventory', servers: [{ id: 'scan-1', name: 'scan-1', tenant: 'demo', rack: 'r1', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] }] });
  await control.next('inventory-ack');

  const apiToken = (await (await fetch(`${relay.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${admin.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'scan', role: 'operator', tenant: 'demo' }) })).json()) as { token: string };
  secrets.set('API token', apiToken.token);
  expect((await fetch(`${relay.url}/v1/servers`, { headers: { authorization: `Bearer ${apiToken.token}` } })).status).toBe(200);
  // A power request the (scripted) agent never answers within the test: audited as a failure, token in the header.
  const power = fetch(`${relay.url}/v1/servers/scan-1/power`, { method: 'POST', headers: { authorization: `Bearer ${cli.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'cycle' }) });
  const request = await control.next('request');
  control.send({ v: 1, type: 'response', id: request.id, ok: false, error: { code: 'BMC_UNREACHABLE', message: 'no BMC in this test' } });
  expect((await power).status).toBe(502);

  const session = (await (await fetch(`${relay.url}/v1/servers/scan-1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${cli.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'sol' }) })).json()) as { token: string; streamUrl: string };
  secrets.set('stream token', session.token);
  // Connect with the token in the query string (the other accepted form); the agent is told to open, the test closes.
  const client = new WebSocket(`${session.streamUrl}?token=${session.token}`);
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.once('open', () => resolve()));
  await control.next('request');
  client.terminate();
  await control.close();
  await relay.app.close(); // flush: every log line and database page is written
}, 120_000);
afterAll(async () => {
  await relay.close().catch(() => undefined);
});

function findings(haystack: string): string[] {
  const hits: string[] = [];
  for (const [name, secret] of secrets) {
    // A JWT's signature alone is enough to count as the secret being there.
    const needles = secret.split('.').length === 3 ? [secret, secret.split('.')[2]!] : [secret];
    if (needles.some((needle) => needle.length >= 16 && haystack.includes(needle))) hits.push(name);
  }
  return hits;
}

describe('no secret in logs or the database', () => {
  it('captured log lines (level trace) contain none of the secrets', () => {
    expect(logLines.length).toBeGreaterThan(50);
    expect(findings(logLines.join(''))).toEqual([]);
  });

  it('the database files contain none of the secrets', () => {
    const files = readdirSync(dataDir).filter((name) => name.startsWith('relay.sqlite'));
    expect(files).toContain('relay.sqlite');
    const bytes = files.map((name) => readFileSync(join(dataDir, name)).toString('latin1')).join('\n');
    expect(findings(bytes)).toEqual([]);
  });
});
