import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { LightsoutError } from '@lightsout/shared';
import { ensureIdentity } from './enroll.js';
import { AGENT_JWT_LIFETIME_SECONDS, signAgentJwt } from './jwt.js';
import { loadOrCreateKeyPair } from './keys.js';
import { ensureStateDir, IDENTITY_FILE, KEY_FILE } from './state.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-agent-identity-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A real HTTP server answering the enroll route the way the relay does. */
async function enrollServer(answer: (body: Record<string, unknown>) => { status: number; body: unknown }): Promise<{ url: string; server: Server; requests: Record<string, unknown>[] }> {
  const requests: Record<string, unknown>[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      requests.push(body);
      const { status, body: reply } = answer(body);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests };
}

describe('agent identity', () => {
  it('creates the key once with mode 0600 in a 0700 directory and reuses it', async () => {
    const stateDir = join(directory, 'keys');
    await ensureStateDir(stateDir);
    const first = await loadOrCreateKeyPair(stateDir);
    chmodSync(join(stateDir, KEY_FILE), 0o644);
    const second = await loadOrCreateKeyPair(stateDir);
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.keyPair.publicJwk).toEqual(first.keyPair.publicJwk);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(first.keyPair.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  });

  it('signs a short-lived EdDSA JWT that jose verifies with the registered public key', async () => {
    const stateDir = join(directory, 'jwt');
    await ensureStateDir(stateDir);
    const { keyPair } = await loadOrCreateKeyPair(stateDir);
    const now = Math.floor(Date.now() / 1000);
    const token = await signAgentJwt(keyPair.privateKey, { agentId: 'agt_123', audience: 'lightsout-agents' }, now);
    const publicKey = await importJWK(keyPair.publicJwk, 'EdDSA');
    const { payload } = await jwtVerify(token, publicKey, { algorithms: ['EdDSA'], audience: 'lightsout-agents', issuer: 'agt_123', subject: 'agt_123' });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: 'agt_123', typ: 'JWT' });
    expect(payload.exp! - payload.iat!).toBe(AGENT_JWT_LIFETIME_SECONDS);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    const again = await signAgentJwt(keyPair.privateKey, { agentId: 'agt_123', audience: 'lightsout-agents' }, now);
    expect((await jwtVerify(again, publicKey)).payload.jti).not.toBe(payload.jti);
    // A different key must not verify: the signature is real.
    const other = await loadOrCreateKeyPair(join(directory, 'keys'));
    await expect(jwtVerify(token, await importJWK(other.keyPair.publicJwk, 'EdDSA'))).rejects.toThrow();
  });

  it('enrolls once through the first gateway that answers, stores the identity 0600, and does not enroll again', async () => {
    const stateDir = join(directory, 'enroll');
    await ensureStateDir(stateDir);
    const { keyPair } = await loadOrCreateKeyPair(stateDir);
    const relay = await enrollServer(() => ({ status: 201, body: { agentId: 'agt_1', region: 'eu', datacenter: 'fra1', audience: 'aud' } }));
    try {
      const options = { relays: ['http://127.0.0.1:1', relay.url], name: 'fra1-agent', stateDir, joinToken: 'jt_0123456789abcdef', keyPair };
      const first = await ensureIdentity(options);
      const second = await ensureIdentity({ ...options, joinToken: undefined });
      expect(first).toEqual({ enrolled: true, identity: { agentId: 'agt_1', region: 'eu', datacenter: 'fra1', audience: 'aud', relay: relay.url } });
      expect(second).toEqual({ enrolled: false, identity: first.identity });
      expect(relay.requests).toEqual([{ joinToken: 'jt_0123456789abcdef', name: 'fra1-agent', publicKey: keyPair.publicJwk }]);
      expect(statSync(join(stateDir, IDENTITY_FILE)).mode & 0o777).toBe(0o600);
      // Enrolled once per deployment: another gateway URL of the same deployment uses the same identity.
      expect(await ensureIdentity({ ...options, relays: ['http://127.0.0.1:2'], joinToken: undefined })).toEqual({ enrolled: false, identity: first.identity });
      expect(relay.requests).toHaveLength(1);
    } finally {
      relay.server.close();
    }
  });

  it('turns a refused join token into its code with a hint, without retrying', async () => {
    const stateDir = join(directory, 'refused');
    await ensureStateDir(stateDir);
    const { keyPair } = await loadOrCreateKeyPair(stateDir);
    const relay = await enrollServer(() => ({ status: 401, body: { code: 'JOIN_TOKEN_USED', message: 'join token already used' } }));
    try {
      const error = await ensureIdentity({ relays: [relay.url, relay.url], name: 'a', stateDir, joinToken: 'jt_0123456789abcdef', keyPair }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LightsoutError);
      expect((error as LightsoutError).code).toBe('JOIN_TOKEN_USED');
      expect((error as LightsoutError).hint).toMatch(/lightsout agents token create/);
      expect(relay.requests).toHaveLength(1);
    } finally {
      relay.server.close();
    }
  });

  it('asks for a join token when there is no identity yet', async () => {
    const stateDir = join(directory, 'no-token');
    await ensureStateDir(stateDir);
    const { keyPair } = await loadOrCreateKeyPair(stateDir);
    await expect(ensureIdentity({ relays: ['http://127.0.0.1:1'], name: 'a', stateDir, joinToken: undefined, keyPair })).rejects.toMatchObject({ code: 'JOIN_TOKEN_INVALID' });
  });
});
