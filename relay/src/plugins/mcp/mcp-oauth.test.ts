import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { ServerService } from '@lightsout/shared/rpc';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_CLIENT_ID } from '../../identity/provider.js';
import { registeredClientCount } from '../../identity/oidc-adapter.js';
import { ERROR_CODE_METADATA } from '../../rpc/errors.js';
import { type RunningRelay, approveAuthorization, startRelay } from '../../testing/index.js';

/**
 * The MCP authorization flow with the SDK's own client and its OAuth
 * provider interface: a 401 from /mcp names the protected-resource metadata,
 * which names the relay's OpenID Provider; the SDK discovers it, sends the
 * person to sign in and allow it on the relay's consent page (a loopback
 * redirect, RFC 8252 §8.6; approveAuthorization presses Allow), with
 * authorization code + PKCE S256 and the MCP endpoint as RFC 8707
 * resource, exchanges the code, and the same client then lists
 * the tools with the token it obtained. No token of ours is handed over.
 */
let relay: RunningRelay;
/** The tokens the self-registered client of the second test obtained (the address's registrations run out later in this file). */
let registeredClientTokens: OAuthTokens | undefined;

/** What an MCP client keeps: a pre-registered public client, a loopback redirect, the tokens and the PKCE verifier. */
class MemoryProvider implements OAuthClientProvider {
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  readonly redirectUrl = 'http://127.0.0.1:53682/callback';
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'test MCP client', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  registered: OAuthClientInformationMixed | undefined;
  /** `register`: no client id configured; the SDK registers one (RFC 7591) and keeps it here. */
  constructor(private readonly register = false) {}
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.register ? this.registered : { client_id: MCP_CLIENT_ID };
  }
  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.registered = information;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

beforeAll(async () => {
  relay = await startRelay({ config: { identity: { mcpClientRegistration: { perHourPerAddress: REGISTRATIONS_PER_HOUR } } } });
}, 60_000);

const REGISTRATIONS_PER_HOUR = 6;

async function register(metadata: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${relay.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

afterAll(async () => {
  await relay?.close();
});

/** When the store deletes a registered client (expires_at of its row). */
async function clientExpiry(clientId: string): Promise<number | null> {
  const row = await relay.app.store.selectFrom('oidc_payloads').select('expires_at').where('kind', '=', 'Client').where('id', '=', createHash('sha256').update(clientId, 'utf8').digest('base64url')).executeTakeFirstOrThrow();
  return row.expires_at;
}

describe('MCP authorization with the SDK client', () => {
  it('discovers the OP from the 401, signs in with PKCE for the MCP resource, and lists the tools with the token it got', async () => {
    const provider = new MemoryProvider();
    const endpoint = new URL(`${relay.url}/mcp`);
    const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider });
    await expect(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(first)).rejects.toThrow(/Unauthorized/i);

    const authorization = provider.authorizationUrl!;
    expect(authorization).toBeDefined();
    expect(authorization.origin + authorization.pathname).toMatch(new RegExp(`^${relay.url}/oidc/`));
    expect(authorization.searchParams.get('client_id')).toBe(MCP_CLIENT_ID);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('resource')).toBe(`${relay.url}/mcp`);
    expect(authorization.searchParams.get('scope')).toBe('openid profile offline_access');

    const callback = await approveAuthorization(authorization.href, 'operator', relay.credentials.operator.password);
    const code = callback.searchParams.get('code');
    expect(code, callback.href).not.toBeNull();
    await first.finishAuth(code!);
    expect(provider.saved?.refresh_token).toBeTruthy();
    // An API access token of the operator: the relay's API audience, their tenant and role.
    expect(decodeJwt(provider.saved!.access_token)).toMatchObject({ aud: relay.app.config.identity.audience, tenant: 'demo', role: 'operator' });

    const client = new Client({ name: 'oauth-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(endpoint, { authProvider: provider }));
    const tools = (await client.listTools()).tools.map((tool) => tool.name).sort();
    expect(tools).toEqual(['bulk_status', 'console_tail', 'get_server', 'list_servers', 'power_status', 'read_event_log', 'read_sensors']);
    const listed = await client.callTool({ name: 'list_servers', arguments: {} });
    expect(listed.isError).not.toBe(true);
    await client.close();
  });

  it('a client with no id registers itself (RFC 7591, found in the OP\'s metadata), signs in with PKCE and calls a tool; the registration is audited', async () => {
    const metadata = (await (await fetch(`${relay.url}/oidc/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata['registration_endpoint']).toBe(`${relay.url}/oidc/reg`);
    const provider = new MemoryProvider(true);
    const endpoint = new URL(`${relay.url}/mcp`);
    const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider });
    await expect(new Client({ name: 'dcr-test', version: '1.0.0' }).connect(first)).rejects.toThrow(/Unauthorized/i);
    const clientId = provider.registered?.client_id;
    expect(clientId).toMatch(/^mcp-dcr-/);
    expect(provider.registered).not.toHaveProperty('client_secret');
    expect(provider.authorizationUrl!.searchParams.get('client_id')).toBe(clientId);
    const callback = await approveAuthorization(provider.authorizationUrl!.href, 'operator', relay.credentials.operator.password);
    await first.finishAuth(callback.searchParams.get('code')!);
    const client = new Client({ name: 'dcr-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(endpoint, { authProvider: provider }));
    const listed = await client.callTool({ name: 'list_servers', arguments: {} });
    expect(listed.isError).not.toBe(true);
    await client.close();
    registeredClientTokens = provider.saved;
    const audit = await relay.app.store.selectFrom('audit').select(['outcome', 'details']).where('action', '=', 'oauth.client.register').execute();
    expect(audit.some((row) => row.outcome === 'success' && String(row.details).includes(clientId!))).toBe(true);
    // Signed in with: kept as long as its grant (14 days), not the day an unused registration is kept.
    expect(await clientExpiry(clientId!)).toBeGreaterThan(Date.now() + 13 * 86_400_000);
  });

  it("a registered client's token is for the MCP endpoint only: its aud is the endpoint, and the REST and RPC APIs refuse it with TOKEN_AUDIENCE", async () => {
    // RFC 8707 §2: audience-restricted to the resource it asked for; RFC 9068 §4: a resource server refuses another audience.
    const accessToken = registeredClientTokens!.access_token;
    expect(decodeJwt(accessToken)).toMatchObject({ aud: `${relay.app.config.deploymentUrl}/mcp`, tenant: 'demo', role: 'operator' });
    const rest = async (method: 'GET' | 'POST', url: string, payload?: object) => {
      const response = await relay.app.inject({ method, url, headers: { authorization: `Bearer ${accessToken}` }, ...(payload === undefined ? {} : { payload }) });
      return { status: response.statusCode, code: (response.json() as { code?: string }).code };
    };
    expect(await rest('GET', '/v1/me')).toEqual({ status: 401, code: 'TOKEN_AUDIENCE' });
    expect(await rest('POST', '/v1/tokens', { name: 'persist', role: 'operator', ttlSeconds: 3600 })).toEqual({ status: 401, code: 'TOKEN_AUDIENCE' });
    const rpc = await createClient(ServerService, createConnectTransport({ baseUrl: relay.url, httpVersion: '1.1' }))
      .listServers({}, { headers: { authorization: `Bearer ${accessToken}` } })
      .catch((error: unknown) => error);
    expect(rpc).toBeInstanceOf(ConnectError);
    expect({ status: (rpc as ConnectError).code, code: (rpc as ConnectError).metadata.get(ERROR_CODE_METADATA) }).toEqual({ status: Code.Unauthenticated, code: 'TOKEN_AUDIENCE' });
    // The endpoint it is for takes it.
    const client = new Client({ name: 'dcr-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } }));
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('list_servers');
    await client.close();
  });

  it('registration takes only a public client with loopback redirects and the code grant, and is rate-limited per address', async () => {
    const good = { redirect_uris: ['http://127.0.0.1:4711/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] };
    expect(await register({ ...good, redirect_uris: ['https://evil.example/callback'] })).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri' } });
    expect(await register({ ...good, token_endpoint_auth_method: 'client_secret_basic' })).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    expect(await register({ ...good, grant_types: ['client_credentials'] })).toMatchObject({ status: 400 });
    const refused = await relay.app.store.selectFrom('audit').select(['outcome']).where('action', '=', 'oauth.client.register').where('outcome', '=', 'failure').execute();
    expect(refused.length).toBeGreaterThanOrEqual(2);
    // The window holds REGISTRATIONS_PER_HOUR attempts from this address (the test above used one): the rest are 429.
    const answers: number[] = [];
    const unused = await register(good);
    answers.push(unused.status);
    // Nobody signed in with it: deleted a day after it was made.
    const expiry = await clientExpiry(String(unused.body['client_id']));
    expect(expiry).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(expiry).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
    for (let attempt = 1; attempt < REGISTRATIONS_PER_HOUR; attempt += 1) answers.push((await register(good)).status);
    expect(answers.at(-1)).toBe(429);
    expect(answers.filter((status) => status === 429).length).toBeGreaterThanOrEqual(1);
  });

  it('a registered client gets no token for the whole API, only for the MCP endpoint', async () => {
    // The previous test used up this address's registrations: the client registered by the SDK earlier asks again.
    const provider = new MemoryProvider(true);
    const rows = await relay.app.store.selectFrom('audit').select(['details']).where('action', '=', 'oauth.client.register').where('outcome', '=', 'success').execute();
    const clientId = (JSON.parse(String(rows[0]!.details)) as { clientId: string }).clientId;
    provider.registered = { client_id: clientId };
    const transport = new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { authProvider: provider });
    await expect(new Client({ name: 'dcr-test', version: '1.0.0' }).connect(transport)).rejects.toThrow(/Unauthorized/i);
    const api = new URL(provider.authorizationUrl!);
    api.searchParams.set('resource', relay.app.config.identity.audience);
    const callback = await approveAuthorization(api.href, 'operator', relay.credentials.operator.password).catch((error: unknown) => error);
    if (callback instanceof URL) expect(callback.searchParams.get('error')).toBe('invalid_target');
    else expect(String(callback)).toMatch(/invalid_target/);
  });

  it('the OP refuses a resource that is not this relay\'s API or MCP endpoint', async () => {
    const provider = new MemoryProvider();
    const transport = new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { authProvider: provider });
    await expect(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(transport)).rejects.toThrow(/Unauthorized/i);
    const foreign = new URL(provider.authorizationUrl!);
    foreign.searchParams.set('resource', 'https://elsewhere.example/mcp');
    const callback = await approveAuthorization(foreign.href, 'operator', relay.credentials.operator.password).catch((error: unknown) => error);
    // oidc-provider answers invalid_target (RFC 8707 §2) on its error page or to the callback, never a code.
    if (callback instanceof URL) expect(callback.searchParams.get('error')).toBe('invalid_target');
    else expect(String(callback)).toMatch(/invalid_target/);
  });
});

describe('registered clients in all', () => {
  it('keeps at most maxClients: one more registration is refused (429) and audited, the pre-registered client still signs in', async () => {
    const small = await startRelay({ config: { identity: { mcpClientRegistration: { maxClients: 2 } } } });
    try {
      const good = { redirect_uris: ['http://127.0.0.1:4711/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] };
      const post = async () => {
        const response = await fetch(`${small.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      expect((await post()).status).toBe(201);
      expect((await post()).status).toBe(201);
      expect(await post()).toMatchObject({ status: 429, body: { error: 'rate_limited', error_description: expect.stringMatching(/no more registered clients/) } });
      // Every spelling oidc-provider's router takes for its registration endpoint is held to the same bounds.
      for (const path of ['/oidc/reg/', '/oidc/REG', '/oidc/Reg//', '/oidc/reg/?x=1']) {
        const response = await fetch(`${small.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
        expect({ path, status: response.status }).toEqual({ path, status: 429 });
      }
      expect(await registeredClientCount(small.app.store)).toBe(2);
      const denied = await small.app.store.selectFrom('audit').select(['details']).where('action', '=', 'oauth.client.register').where('outcome', '=', 'denied').execute();
      expect(denied.map((row) => JSON.parse(String(row.details)) as { reason: string })).toEqual(Array.from({ length: 5 }, () => ({ reason: 'client limit reached' })));

      const provider = new MemoryProvider();
      const transport = new StreamableHTTPClientTransport(new URL(`${small.url}/mcp`), { authProvider: provider });
      await expect(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(transport)).rejects.toThrow(/Unauthorized/i);
      const callback = await approveAuthorization(provider.authorizationUrl!.href, 'operator', small.credentials.operator.password);
      expect(callback.searchParams.get('code')).toBeTruthy();
    } finally {
      await small.close();
    }
  }, 60_000);
});
