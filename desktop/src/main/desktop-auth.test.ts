import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DesktopAuth } from './desktop-auth.js';
import { type Encryptor, TokenStore } from './token-store.js';

// A minimal OpenID Provider on loopback speaking exactly the wire the relay's
// embedded oidc-provider speaks for this flow: discovery, an authorization
// endpoint that redirects back with a code (the user "already logged in"),
// and a token endpoint that checks PKCE (RFC 7636 §4.6), the redirect URI and
// the resource indicator (RFC 8707) before issuing tokens.
interface FakeProvider {
  origin: string;
  server: Server;
  authorizeRequests: URL[];
  tokenRequests: URLSearchParams[];
  accessTokenLifetime: number;
  refused: Set<string>;
  revocations: URLSearchParams[];
  endSessionRequests: URL[];
}

const memoryEncryptor: Encryptor = {
  isEncryptionAvailable: () => false,
  encryptString: () => Buffer.alloc(0),
  decryptString: () => '',
};

function jwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(claims)}.`;
}

async function startProvider(): Promise<FakeProvider> {
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const provider = { authorizeRequests: [], tokenRequests: [], accessTokenLifetime: 600, refused: new Set<string>(), revocations: [], endSessionRequests: [] } as unknown as FakeProvider;
  provider.server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', provider.origin);
    const json = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/v1/client-config') {
      return json(200, { issuer: `${provider.origin}/oidc`, clientId: 'lightsout-web', cliClientId: 'lightsout-cli', scopes: 'openid profile offline_access', audience: `${provider.origin}/v1` });
    }
    if (url.pathname === '/oidc/.well-known/openid-configuration') {
      return json(200, {
        issuer: `${provider.origin}/oidc`,
        authorization_endpoint: `${provider.origin}/oidc/auth`,
        token_endpoint: `${provider.origin}/oidc/token`,
        revocation_endpoint: `${provider.origin}/oidc/token/revocation`,
        end_session_endpoint: `${provider.origin}/oidc/session/end`,
      });
    }
    if (url.pathname === '/oidc/token/revocation' && request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        provider.revocations.push(new URLSearchParams(body));
        response.writeHead(200).end();
      });
      return;
    }
    if (url.pathname === '/oidc/session/end') {
      provider.endSessionRequests.push(url);
      return response.writeHead(200, { 'content-type': 'text/html' }).end('<p>Sign out?</p>');
    }
    if (url.pathname === '/oidc/auth') {
      provider.authorizeRequests.push(url);
      const code = randomUUID();
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      codes.set(code, { challenge: url.searchParams.get('code_challenge') ?? '', redirectUri });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      return response.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/oidc/token' && request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const form = new URLSearchParams(body);
        provider.tokenRequests.push(form);
        if (form.get('resource') !== `${provider.origin}/v1`) return json(400, { error: 'invalid_target' });
        if (form.get('grant_type') === 'authorization_code') {
          const issued = codes.get(form.get('code') ?? '');
          codes.delete(form.get('code') ?? '');
          const verifier = form.get('code_verifier') ?? '';
          const challenge = createHash('sha256').update(verifier).digest('base64url');
          if (!issued || issued.challenge !== challenge || issued.redirectUri !== form.get('redirect_uri')) return json(400, { error: 'invalid_grant' });
        } else if (form.get('grant_type') === 'refresh_token') {
          if (provider.refused.has(form.get('refresh_token') ?? '')) return json(400, { error: 'invalid_grant' });
        } else {
          return json(400, { error: 'unsupported_grant_type' });
        }
        const serial = provider.tokenRequests.length;
        return json(200, {
          access_token: jwt({ sub: 'u1', preferred_username: 'operator', serial }),
          refresh_token: `refresh-${serial}`,
          id_token: jwt({ sub: 'u1', preferred_username: 'operator', iss: `${provider.origin}/oidc`, aud: 'lightsout-web' }),
          token_type: 'Bearer',
          expires_in: provider.accessTokenLifetime,
          scope: 'openid profile offline_access',
        });
      });
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => provider.server.listen(0, '127.0.0.1', resolve));
  provider.origin = `http://127.0.0.1:${(provider.server.address() as AddressInfo).port}`;
  return provider;
}

// The "system browser": follows the authorization redirect to the loopback listener.
const browser = async (url: string) => {
  const response = await fetch(url);
  await response.text();
};

describe('DesktopAuth (loopback login, refresh)', () => {
  let provider: FakeProvider;
  beforeEach(async () => {
    provider = await startProvider();
  });
  afterEach(async () => {
    provider.server.closeAllConnections();
    await new Promise((resolve) => provider.server.close(resolve));
  });

  it('logs in through a 127.0.0.1 loopback redirect with PKCE S256 and the resource indicator', async () => {
    const changes: unknown[] = [];
    const auth = new DesktopAuth({ store: new TokenStore('/nonexistent/x', memoryEncryptor), openBrowser: browser, onChanged: (state) => changes.push(state) });
    await auth.configure(provider.origin);
    expect(await auth.accessToken()).toBeNull();
    const state = await auth.login();
    expect(state.username).toBe('operator');
    const authorize = provider.authorizeRequests[0]!;
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('resource')).toBe(`${provider.origin}/v1`);
    expect(authorize.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    // offline_access is granted only with prompt=consent (OpenID Connect Core §11): without it no refresh token.
    expect(authorize.searchParams.get('scope')?.split(' ')).toContain('offline_access');
    expect(authorize.searchParams.get('prompt')).toBe('consent');
    const token = await auth.accessToken();
    expect(JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString()).serial).toBe(1);
    expect(changes.length).toBeGreaterThanOrEqual(2);
    // The loopback listener is gone once the login is done.
    await expect(fetch(authorize.searchParams.get('redirect_uri')!)).rejects.toThrow();
  });

  it('refreshes once near expiry, shared by concurrent callers, and logs out when refresh is refused', async () => {
    provider.accessTokenLifetime = 30; // inside the 60 s margin: every call wants a refresh
    const auth = new DesktopAuth({ store: new TokenStore('/nonexistent/x', memoryEncryptor), openBrowser: browser });
    await auth.configure(provider.origin);
    await auth.login();
    const [first, second] = await Promise.all([auth.accessToken(), auth.accessToken()]);
    expect(first).toBe(second);
    const refreshes = provider.tokenRequests.filter((form) => form.get('grant_type') === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]!.get('refresh_token')).toBe('refresh-1');
    provider.refused.add('refresh-2');
    expect(await auth.accessToken()).toBeNull();
    expect(auth.state().username).toBeNull();
  });

  it('signs out at the OP: revokes the refresh token (RFC 7009) and ends the OP session in the browser (RP-initiated logout)', async () => {
    const opened: string[] = [];
    const auth = new DesktopAuth({ store: new TokenStore('/nonexistent/x', memoryEncryptor), openBrowser: async (url) => {
      opened.push(url);
      await browser(url);
    } });
    await auth.configure(provider.origin);
    await auth.login();
    const state = await auth.logout();
    expect(state.username).toBeNull();
    expect(await auth.accessToken()).toBeNull();
    expect(provider.revocations.map((form) => Object.fromEntries(form))).toEqual([{ token: 'refresh-1', token_type_hint: 'refresh_token', client_id: 'lightsout-web' }]);
    expect(provider.endSessionRequests).toHaveLength(1);
    const endSession = provider.endSessionRequests[0]!;
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^[\w-]+\.[\w-]+\.$/);
    expect(opened.at(-1)).toBe(endSession.href);
  });

  it('still forgets the login when the relay cannot be reached to sign out', async () => {
    const auth = new DesktopAuth({ store: new TokenStore('/nonexistent/x', memoryEncryptor), openBrowser: browser });
    await auth.configure(provider.origin);
    await auth.login();
    provider.server.closeAllConnections();
    await new Promise((resolve) => provider.server.close(resolve));
    expect((await auth.logout()).username).toBeNull();
    provider = await startProvider(); // afterEach closes one
  });

  it('step-up forces a fresh login prompt', async () => {
    const auth = new DesktopAuth({ store: new TokenStore('/nonexistent/x', memoryEncryptor), openBrowser: browser });
    await auth.configure(provider.origin);
    await auth.stepUp();
    expect(provider.authorizeRequests[0]!.searchParams.get('prompt')).toBe('login consent');
    expect(provider.authorizeRequests[0]!.searchParams.get('max_age')).toBe('0');
    expect(provider.authorizeRequests[0]!.searchParams.has('acr_values')).toBe(false);
    await auth.stepUp(true);
    expect(provider.authorizeRequests[1]!.searchParams.get('acr_values')).toBe('mfa');
  });

  it('refuses plaintext http to a non-loopback relay', async () => {
    const auth = new DesktopAuth({ store: new TokenStore('/nonexistent/x', memoryEncryptor), openBrowser: browser });
    await expect(auth.configure('http://relay.example')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('fails with a clear error when the browser never comes back', async () => {
    const auth = new DesktopAuth({ store: new TokenStore('/nonexistent/x', memoryEncryptor), openBrowser: async () => {}, loginTimeoutMs: 200 });
    await auth.configure(provider.origin);
    await expect(auth.login()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
