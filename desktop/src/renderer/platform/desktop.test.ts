import { describe, expect, it } from 'vitest';
import { accountOfToken } from './desktop.js';

const base64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const jwt = (claims: Record<string, unknown>) => `${base64url('{"alg":"ES256"}')}.${base64url(JSON.stringify(claims))}.signature`;

describe('the desktop console\'s account key', () => {
  it('is the access token\'s issuer and subject, never the token', () => {
    const token = jwt({ iss: 'https://relay.example/oidc', sub: '7c1e0d2a-user', preferred_username: 'operator' });
    expect(accountOfToken(token)).toBe('https://relay.example/oidc 7c1e0d2a-user');
  });

  it('is unknown for a token that is not a JWT or names no subject', () => {
    expect(accountOfToken(null)).toBeNull();
    expect(accountOfToken('opaque-token')).toBeNull();
    expect(accountOfToken('a.%%%.c')).toBeNull();
    expect(accountOfToken(jwt({ iss: 'https://relay.example/oidc' }))).toBeNull();
  });
});
