import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_CLIENT_ID } from '../../identity/provider.js';
import { type RunningRelay, approveAuthorization, startRelay } from '../../testing/index.js';

/**
 * The MCP authorization flow with the SDK's own client and its OAuth
 * provider interface: a 401 from /mcp names the protected-resource metadata,
 * which names the relay's OpenID Provider; the SDK discovers it, sends the
 * person to sign in (authorization code + PKCE S256, the MCP endpoint as
 * RFC 8707 resource), exchanges the code, and the same client then lists
 * the tools with the token it obtained. No token of ours is handed over.
 */
let relay: RunningRelay;

/** What an MCP client keeps: a pre-registered public client, a loopback redirect, the tokens and the PKCE verifier. */
class MemoryProvider implements OAuthClientProvider {
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  readonly redirectUrl = 'http://127.0.0.1:53682/callback';
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'test MCP client', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: MCP_CLIENT_ID };
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
  relay = await startRelay();
}, 60_000);

afterAll(async () => {
  await relay?.close();
});

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
