import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { freeTcpPort } from '@lightsout/lab';
import { decodeJwt } from 'jose';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover } from './device-flow.js';
import { startLoopbackLogin } from './loopback-flow.js';

/**
 * An issuer without the device grant (oauth2-mock-server publishes no
 * device_authorization_endpoint): the CLI falls back to authorization code +
 * PKCE with a loopback redirect. The browser is played by fetch: follow the
 * issuer's redirect back to the CLI's port, as a browser would.
 */
let server: OAuth2Server;
let issuer: string;
const client = { clientId: 'lightsout-cli', scopes: 'openid profile offline_access', audience: 'https://relay.lightsout.test/v1' };

beforeAll(async () => {
  server = new OAuth2Server();
  const port = await freeTcpPort();
  issuer = `http://127.0.0.1:${port}`;
  server.issuer.url = issuer;
  await server.issuer.keys.generate('RS256');
  await server.start(port, '127.0.0.1');
});
afterAll(async () => {
  await server.stop();
});

describe('CLI login without the device grant', () => {
  it('discovery accepts an issuer that has only the authorization endpoint', async () => {
    const metadata = await discover(issuer);
    expect(metadata).toMatchObject({ deviceAuthorizationEndpoint: undefined, authorizationEndpoint: `${issuer}/authorize`, tokenEndpoint: `${issuer}/token` });
  });

  it('signs in through the browser and a loopback redirect with PKCE (S256) and state', async () => {
    const login = await startLoopbackLogin(await discover(issuer), client);
    const authorization = new URL(login.authorizationUrl);
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({ response_type: 'code', client_id: 'lightsout-cli', code_challenge_method: 'S256', redirect_uri: login.redirectUri, resource: client.audience });
    expect(login.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const atIssuer = await fetch(authorization, { redirect: 'manual' });
    const back = atIssuer.headers.get('location')!;
    expect(back.startsWith(login.redirectUri)).toBe(true);
    const page = await fetch(back);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Signed in');
    const tokens = await login.tokens;
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ iss: issuer });
    expect(tokens.refreshToken).toEqual(expect.any(String));
  });

  it('an answer with another state is ignored; the real one still completes the login', async () => {
    const login = await startLoopbackLogin(await discover(issuer), client);
    const forged = await fetch(`${login.redirectUri}?code=stolen&state=not-ours`);
    expect(forged.status).toBe(400);
    const back = (await fetch(login.authorizationUrl, { redirect: 'manual' })).headers.get('location')!;
    await fetch(back);
    expect((await login.tokens).accessToken).toEqual(expect.any(String));
  });

  it('the issuer refusing (error in the redirect) fails the login with UNAUTHENTICATED', async () => {
    const login = await startLoopbackLogin(await discover(issuer), client);
    const state = new URL(login.authorizationUrl).searchParams.get('state')!;
    await fetch(`${login.redirectUri}?error=access_denied&state=${state}`);
    await expect(login.tokens).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('a request whose target is not a URL is answered 400 and the login goes on', async () => {
    const login = await startLoopbackLogin(await discover(issuer), client);
    const socket = connect(Number(new URL(login.redirectUri).port), '127.0.0.1');
    socket.end('GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(socket, 'close');
    expect(Buffer.concat(chunks).toString('latin1').split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    const back = (await fetch(login.authorizationUrl, { redirect: 'manual' })).headers.get('location')!;
    expect((await fetch(back)).status).toBe(200);
    expect((await login.tokens).accessToken).toEqual(expect.any(String));
  });

  it('only the first answer with our state is redeemed: a second one while it is redeemed is refused (RFC 6749 §4.1.2)', async () => {
    // A token endpoint that holds each redemption until the test lets it answer.
    const held: Array<() => void> = [];
    const redeemed: Array<() => void> = [];
    const redemption = (count: number) => new Promise<void>((resolve) => (held.length >= count ? resolve() : redeemed.push(() => held.length >= count && resolve())));
    const tokenEndpoint = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        held.push(() => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `at${held.length}`, expires_in: 60 })));
        for (const notify of redeemed) notify();
      });
    });
    tokenEndpoint.listen(0, '127.0.0.1');
    await once(tokenEndpoint, 'listening');
    try {
      const metadata = { ...(await discover(issuer)), tokenEndpoint: `http://127.0.0.1:${(tokenEndpoint.address() as AddressInfo).port}/token` };
      const login = await startLoopbackLogin(metadata, client);
      const callback = `${login.redirectUri}?state=${new URL(login.authorizationUrl).searchParams.get('state')}&code=one-time`;
      const first = fetch(callback);
      await redemption(1);
      const second = await Promise.race([fetch(callback).then((response) => ({ answered: response.status })), redemption(2).then(() => 'redeemed twice')]);
      for (const answer of held) answer();
      expect(second).toEqual({ answered: 400 });
      expect((await first).status).toBe(200);
      expect((await login.tokens).accessToken).toBe('at1');
      expect(held).toHaveLength(1);
    } finally {
      tokenEndpoint.closeAllConnections();
      tokenEndpoint.close();
    }
  });
});
