import { afterEach, describe, expect, it, vi } from 'vitest';

// The OIDC client library is replaced at the boundary: what matters here is what the console asks of it.
const calls: string[] = [];
vi.mock('oidc-client-ts', () => ({
  WebStorageStateStore: class {},
  UserManager: class {
    constructor(readonly settings: Record<string, unknown>) {
      calls.push(`settings post_logout_redirect_uri=${String(settings['post_logout_redirect_uri'])}`);
    }
    async getUser() {
      return { id_token: 'id-token-1', refresh_token: 'refresh-1', expired: false, profile: { sub: 'u1' } };
    }
    async revokeTokens(types: string[]) {
      calls.push(`revokeTokens ${types.join(',')}`);
    }
    async signoutRedirect(args: { id_token_hint?: string }) {
      calls.push(`signoutRedirect id_token_hint=${String(args.id_token_hint)}`);
    }
    async removeUser() {
      calls.push('removeUser');
    }
  },
}));

afterEach(() => {
  vi.unstubAllGlobals();
  calls.length = 0;
});

describe('the web console signs out at the OP', () => {
  it('revokes the refresh token (RFC 7009), then RP-initiated logout with the ID token as hint', async () => {
    vi.stubGlobal('window', { location: { origin: 'https://relay.example', search: '' }, sessionStorage: {} });
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ issuer: 'https://relay.example/oidc', clientId: 'lightsout-web', cliClientId: 'lightsout-cli', scopes: 'openid profile offline_access', audience: 'https://relay.example/v1' }), { status: 200 }));
    const { createWebPlatform } = await import('./web.js');
    await createWebPlatform().auth.logout();
    expect(calls).toEqual(['settings post_logout_redirect_uri=https://relay.example/', 'revokeTokens refresh_token', 'signoutRedirect id_token_hint=id-token-1']);
  });
});
