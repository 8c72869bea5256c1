import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryKeyDocuments } from './access/key-documents.js';
import { type ProviderSecrets, loadOrCreateProviderSecrets, publicJwks, readProviderSecrets } from './identity/keys.js';
import {
  TestControlClient,
  agentConnectToken,
  createJoinTokenAs,
  enrollTestAgent,
  isRefusal,
  loginWithDeviceFlow,
  loginWithPassword,
  refreshTokens,
  startRelay,
} from './testing/index.js';
import { waitFor } from '@lightsout/lab/wait';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-restart-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('relay restart', () => {
  it('seeds once, keeps tokens and agents valid across a restart; the agent re-registers', async () => {
    const dataDir = join(directory, 'data');
    const port = await freeTcpPort();
    const printed: string[] = [];
    const first = await startRelay({ dataDir, port, onSeededCredentials: (text) => printed.push(text) });
    let second: Awaited<ReturnType<typeof startRelay>> | undefined;
    try {
      expect(printed).toHaveLength(1);
      expect(printed[0]).toContain('admin');
      // A password the caller chose (here the test's fixed one) is not printed back: printed text ends up in logs.
      expect(printed[0]).toContain('LIGHTSOUT_DEMO_PASSWORD');
      expect(printed[0]).not.toContain(first.credentials.admin.password);
      // The signing keys are in the store (every replica of a deployment reads them there), not in dataDir.
      expect(await readProviderSecrets(first.app.keyDocuments)).toMatchObject({ jwks: { keys: [expect.objectContaining({ alg: 'EdDSA' }), expect.objectContaining({ alg: 'RS256' })] } });
      expect(existsSync(join(dataDir, 'oidc-secrets.json'))).toBe(false);

      const operator = await loginWithDeviceFlow(first.url, 'operator', first.credentials.operator.password);
      const admin = await loginWithPassword(first.url, 'admin', first.credentials.admin.password);
      const { token } = await createJoinTokenAs(first.url, admin.accessToken, { region: 'eu', datacenter: 'fra1' });
      const identity = await enrollTestAgent(first.url, token);
      const beforeToken = await agentConnectToken(identity);
      const before = await TestControlClient.connect(first.url, beforeToken);
      if (isRefusal(before)) throw new Error(before.body.code);
      await before.next('welcome');
      before.send({ v: 1, type: 'inventory', servers: [{ id: 'web-01', name: 'web-01', tenant: 'demo', rack: 'r1', endpoints: {}, capabilities: ['power'] }] });
      await before.next('inventory-ack');

      await first.close();
      expect((await before.closed).code).toBe(1001);

      second = await startRelay({ dataDir, port, onSeededCredentials: (text) => printed.push(text) });
      expect(printed).toHaveLength(1); // not seeded again
      const me = await fetch(`${second.url}/v1/me`, { headers: { authorization: `Bearer ${operator.accessToken}` } });
      expect(me.status).toBe(200);
      const refreshed = await refreshTokens(second.url, operator.refreshToken!, 'lightsout-cli');
      expect((await fetch(`${second.url}/v1/me`, { headers: { authorization: `Bearer ${refreshed.accessToken}` } })).status).toBe(200);

      const servers = async () => (await (await fetch(`${second!.url}/v1/servers`, { headers: { authorization: `Bearer ${operator.accessToken}` } })).json()) as { servers: Array<{ id: string; agent: string }> };
      expect((await servers()).servers).toEqual([expect.objectContaining({ id: 'web-01', agent: 'offline' })]);

      // The agent JWT the first process accepted is spent in the store: replaying it to the new process fails.
      const replayed = await TestControlClient.connect(second.url, beforeToken);
      expect(isRefusal(replayed) && { status: replayed.status, code: replayed.body.code }).toEqual({ status: 401, code: 'TOKEN_INVALID' });
      const after = await TestControlClient.connect(second.url, await agentConnectToken(identity));
      if (isRefusal(after)) throw new Error(after.body.code);
      await after.next('welcome');
      after.send({ v: 1, type: 'inventory', servers: [{ id: 'web-01', name: 'web-01', tenant: 'demo', rack: 'r1', endpoints: {}, capabilities: ['power'] }] });
      expect((await after.next('inventory-ack')).accepted).toEqual(['web-01']);
      await waitFor('web-01 online again', async () => (await servers()).servers[0]?.agent === 'online');
      await after.close();
    } finally {
      await second?.close();
      await first.close().catch(() => undefined);
    }
  });

  it('an install that kept its signing keys in dataDir files keeps them: imported into the store on the first start, the files removed', async () => {
    const dataDir = join(directory, 'upgraded');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // What earlier versions wrote: the OP's secrets in a 0600 file (the stream ring's import: access/signing-keys.test.ts).
    const earlier: ProviderSecrets = await loadOrCreateProviderSecrets(memoryKeyDocuments());
    writeFileSync(join(dataDir, 'oidc-secrets.json'), JSON.stringify(earlier), { mode: 0o600 });
    const relay = await startRelay({ dataDir });
    try {
      const published = (await (await fetch(`${relay.url}/oidc/jwks`)).json()) as { keys: Array<{ kid: string }> };
      expect(published.keys.map((key) => key.kid).sort()).toEqual(publicJwks(earlier).keys.map((key) => key.kid).sort());
      expect(await readProviderSecrets(relay.app.keyDocuments)).toEqual(earlier);
      expect(existsSync(join(dataDir, 'oidc-secrets.json'))).toBe(false);
    } finally {
      await relay.close();
    }
  });
});
