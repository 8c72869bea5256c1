import { type ClientConfig, STREAM_SUBPROTOCOL } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loginWithPassword, postgresForThisFile } from '@lightsout/relay/testing';
import { STACK_PASSWORD, type Stack, startStack } from '../lib/stack.js';

/**
 * Two relay processes of one deployment on one PostgreSQL store: what one
 * replica issues or counts, the other accepts or sees. One issuer and one set
 * of signing keys for the deployment (kept in the store), so an API access
 * token or a stream token from either relay opens the other.
 */
const postgres = postgresForThisFile();

async function me(relayUrl: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relayUrl}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Open a stream connection; the HTTP status of a refused upgrade, or 101 and the socket. */
function streamConnect(url: string, token: string): Promise<{ status: number; socket?: WebSocket }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, [STREAM_SUBPROTOCOL, `bearer.${token}`], { perMessageDeflate: false });
    socket.on('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0 });
      response.resume();
      socket.terminate();
    });
    socket.on('error', () => {});
    socket.once('open', () => resolve({ status: 101, socket }));
  });
}

describe('state shared by the relays of one deployment', () => {
  let stack: Stack;

  beforeAll(async () => {
    // The console port is never opened: the token checks come before anything reaches the agent.
    stack = await startStack([{ id: 'web-01', serial: { url: 'tcp://127.0.0.1:9' } }], { relays: 2, postgresUrl: postgres().url });
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('an API access token issued through one relay is accepted by the other, both ways', async () => {
    const [first, second] = stack.relayUrls as [string, string];
    expect(await me(first, stack.operatorToken)).toMatchObject({ status: 200, body: { username: 'operator' } });
    expect(await me(second, stack.operatorToken)).toMatchObject({ status: 200, body: { username: 'operator', tenant: 'demo' } });
    // Both relays name the same issuer and API audience.
    const configs = (await Promise.all([first, second].map(async (url) => (await fetch(`${url}/v1/client-config`)).json()))) as [ClientConfig, ClientConfig];
    expect(configs[1]).toEqual(configs[0]);
    // The second relay's own OP endpoint mints a token (a refresh of a sign-in made at the first): the first accepts it.
    const signIn = await loginWithPassword(first, 'admin', STACK_PASSWORD);
    const refreshed = await fetch(`${second}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: signIn.refreshToken!, client_id: configs[0].clientId, resource: configs[0].audience }).toString(),
    });
    expect(refreshed.status).toBe(200);
    const fromSecond = ((await refreshed.json()) as { access_token: string }).access_token;
    expect(await me(first, fromSecond)).toMatchObject({ status: 200, body: { username: 'admin' } });
  });

  it('a stream connect token issued through one relay is accepted by the other', async () => {
    const [first, second] = stack.relayUrls as [string, string];
    const response = await fetch(`${first}/v1/servers/web-01/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'serial' }),
    });
    expect(response.status).toBe(201);
    const session = (await response.json()) as { sessionId: string; token: string };
    const attempt = await streamConnect(`${second.replace(/^http/, 'ws')}/v1/streams/${session.sessionId}`, session.token);
    attempt.socket?.terminate();
    // Refused tokens are refused before the upgrade (401); an accepted one is upgraded.
    expect(attempt.status).toBe(101);
  });

  it('wrong passwords at one relay count at the other: the sign-in throttle is one for the deployment', async () => {
    const [first, second] = stack.relayUrls as [string, string];
    const change = async (relayUrl: string, attempt: number) => {
      const response = await fetch(`${relayUrl}/v1/me/password`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.operatorToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ currentPassword: `wrong-guess-${attempt}`, newPassword: 'A-new-and-long-passphrase-7' }),
      });
      return { status: response.status, code: ((await response.json()) as { code?: string }).code };
    };
    // Five wrong guesses are allowed to one client on one account; the sixth locks it.
    for (let attempt = 0; attempt < 6; attempt += 1) expect(await change(first, attempt)).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await change(second, 6)).toEqual({ status: 429, code: 'RATE_LIMITED' });
  });
});
