import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LightsoutError, type Role } from '@lightsout/shared';
import type { Principal } from '../identity/verifier.js';
import type { Store } from '../store/open.js';
import type { ApiTokenTable } from '../store/database.js';

/**
 * Service-account API tokens: `lso_` + 32 random bytes (base64url). High
 * entropy, so a plain SHA-256 at rest is enough (no password hashing needed:
 * there is nothing to brute-force). The secret is returned once, at creation.
 */
export const API_TOKEN_PREFIX = 'lso_';
export const API_TOKEN_ISSUER = 'lightsout-api-token';

export function isApiToken(token: string): boolean {
  return token.startsWith(API_TOKEN_PREFIX);
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export async function createApiToken(store: Store, options: { tenant: string; name: string; role: Role; ttlSeconds: number; createdBy: string }): Promise<{ token: string; row: ApiTokenTable }> {
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const now = Date.now();
  const row: ApiTokenTable = {
    id: `tok_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
    tenant_id: options.tenant,
    name: options.name,
    role: options.role,
    token_hash: hashApiToken(token),
    created_by: options.createdBy,
    created_at: now,
    expires_at: now + options.ttlSeconds * 1000,
    revoked_at: null,
    last_used_at: null,
  };
  await store.insertInto('api_tokens').values(row).execute();
  return { token, row };
}

/** The service account behind a presented token; TOKEN_INVALID / TOKEN_EXPIRED otherwise. */
export async function apiTokenPrincipal(store: Store, token: string): Promise<Principal> {
  if (token.length > 128) throw new LightsoutError('TOKEN_INVALID', 'API token rejected');
  const row = await store.selectFrom('api_tokens').selectAll().where('token_hash', '=', hashApiToken(token)).executeTakeFirst();
  const now = Date.now();
  if (row === undefined || row.revoked_at !== null) throw new LightsoutError('TOKEN_INVALID', 'API token rejected', { hint: 'create a new token: lightsout tokens create' });
  if (row.expires_at <= now) throw new LightsoutError('TOKEN_EXPIRED', 'API token expired', { hint: 'create a new token: lightsout tokens create' });
  // Recorded at most once a minute: a busy automation must not turn every call into a write.
  if (row.last_used_at === null || now - row.last_used_at > 60_000) {
    await store.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  return {
    subject: `svc:${row.id}`,
    username: `token:${row.name}`,
    tenant: row.tenant_id,
    role: row.role as Role,
    issuer: API_TOKEN_ISSUER,
    expiresAt: Math.floor(row.expires_at / 1000),
    kind: 'service-account',
  };
}
