import { createHash, randomBytes } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';
import type { Store } from '../store/open.js';

/** A join token is a bearer secret: 32 random bytes, stored only as its SHA-256. */
export function hashJoinToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export async function createJoinToken(store: Store, options: { region: string; datacenter: string; tenants?: string[]; ttlSeconds: number; createdBy: string }): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const expiresAt = now + options.ttlSeconds * 1000;
  await store
    .insertInto('join_tokens')
    .values({ token_hash: hashJoinToken(token), region: options.region, datacenter: options.datacenter, created_by: options.createdBy, created_at: now, expires_at: expiresAt, used_at: null, used_by_agent: null, tenants: options.tenants === undefined ? null : JSON.stringify(options.tenants) })
    .execute();
  return { token, expiresAt: new Date(expiresAt) };
}

/**
 * Mark the token used, atomically: one conditional UPDATE, so two agents
 * racing with the same token cannot both win. Then tell the loser why.
 */
export async function consumeJoinToken(store: Store, token: string, agentId: string): Promise<{ region: string; datacenter: string; tenants: string | null }> {
  const tokenHash = hashJoinToken(token);
  const now = Date.now();
  const result = await store
    .updateTable('join_tokens')
    .set({ used_at: now, used_by_agent: agentId })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  const row = await store.selectFrom('join_tokens').select(['region', 'datacenter', 'used_at', 'used_by_agent', 'expires_at', 'tenants']).where('token_hash', '=', tokenHash).executeTakeFirst();
  if (Number(result.numUpdatedRows) === 1 && row !== undefined) return { region: row.region, datacenter: row.datacenter, tenants: row.tenants };
  const hint = 'ask a provider admin for a new one: lightsout agents token create --region R --datacenter D';
  if (row === undefined) throw new LightsoutError('JOIN_TOKEN_INVALID', 'join token not recognised', { hint });
  if (row.used_at !== null) throw new LightsoutError('JOIN_TOKEN_USED', 'join token was already used', { hint });
  throw new LightsoutError('JOIN_TOKEN_EXPIRED', 'join token expired', { hint });
}
