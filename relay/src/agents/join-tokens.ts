import { createHash, randomBytes } from 'node:crypto';
import { type JoinTokenView, LightsoutError } from '@lightsout/shared';
import type { Store } from '../store/open.js';

/** A join token is a bearer secret: 32 random bytes, stored only as its SHA-256. */
export function hashJoinToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A join token names the tenants its agent may register servers into, at
 * least one: an agent that could register anywhere could put servers (and
 * the consoles it dials back) into any customer's inventory.
 */
export async function createJoinToken(store: Store, options: { region: string; datacenter: string; tenants: string[]; ttlSeconds: number; createdBy: string }): Promise<{ token: string; expiresAt: Date }> {
  await requireTenants(store, options.tenants);
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const expiresAt = now + options.ttlSeconds * 1000;
  await store
    .insertInto('join_tokens')
    .values({ token_hash: hashJoinToken(token), region: options.region, datacenter: options.datacenter, created_by: options.createdBy, created_at: now, expires_at: expiresAt, used_at: null, used_by_agent: null, tenants: JSON.stringify(options.tenants) })
    .execute();
  return { token, expiresAt: new Date(expiresAt) };
}

/** At least one tenant, each existing: VALIDATION_FAILED or NOT_FOUND otherwise. */
export async function requireTenants(store: Store, tenants: readonly string[]): Promise<void> {
  if (tenants.length === 0) throw new LightsoutError('VALIDATION_FAILED', 'name at least one tenant the agent may register servers into', { hint: 'lightsout agents token create --region R --datacenter D --tenant T' });
  const known = new Set((await store.selectFrom('tenants').select('id').where('id', 'in', [...tenants]).execute()).map((row) => row.id));
  const unknown = tenants.filter((tenant) => !known.has(tenant));
  if (unknown.length > 0) throw new LightsoutError('NOT_FOUND', `tenant ${unknown.join(', ')} does not exist`, { hint: 'create the tenant first: POST /v1/tenants' });
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
  const hint = 'ask a provider admin for a new one: lightsout agents token create --region R --datacenter D --tenant T';
  if (row === undefined) throw new LightsoutError('JOIN_TOKEN_INVALID', 'join token not recognised', { hint });
  if (row.used_at !== null) throw new LightsoutError('JOIN_TOKEN_USED', 'join token was already used', { hint });
  throw new LightsoutError('JOIN_TOKEN_EXPIRED', 'join token expired', { hint });
}

/** The tokens made, newest first, with what became of each; never the value (only its hash is kept). */
export async function listJoinTokens(store: Store, now = Date.now()): Promise<JoinTokenView[]> {
  const rows = await store.selectFrom('join_tokens').leftJoin('users', 'users.id', 'join_tokens.created_by').select(['join_tokens.token_hash', 'join_tokens.region', 'join_tokens.datacenter', 'join_tokens.tenants', 'join_tokens.created_by', 'join_tokens.created_at', 'join_tokens.expires_at', 'join_tokens.used_at', 'join_tokens.used_by_agent', 'users.username']).orderBy('join_tokens.created_at', 'desc').execute();
  const iso = (milliseconds: number | null) => (milliseconds === null ? null : new Date(Number(milliseconds)).toISOString());
  return rows.map((row) => ({
    id: row.token_hash,
    region: row.region,
    datacenter: row.datacenter,
    tenants: row.tenants === null ? [] : (JSON.parse(row.tenants) as string[]),
    state: row.used_at !== null ? 'used' : Number(row.expires_at) <= now ? 'expired' : 'pending',
    createdBy: row.created_by,
    createdByName: row.username,
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at)!,
    usedAt: iso(row.used_at),
    usedByAgent: row.used_by_agent,
  }));
}

/**
 * Revoke a token not used yet: its row goes, so an enrollment with it is
 * JOIN_TOKEN_INVALID. A used one is history (its agent is revoked instead):
 * CONFLICT. The delete is conditional on `used_at` so an enrollment racing
 * the revoke either wins (CONFLICT here) or finds no token.
 */
export async function revokeJoinToken(store: Store, id: string): Promise<{ region: string; datacenter: string }> {
  const row = await store.selectFrom('join_tokens').select(['region', 'datacenter', 'used_at']).where('token_hash', '=', id).executeTakeFirst();
  if (row === undefined) throw new LightsoutError('NOT_FOUND', `no join token ${id}`);
  const result = await store.deleteFrom('join_tokens').where('token_hash', '=', id).where('used_at', 'is', null).executeTakeFirst();
  if (Number(result.numDeletedRows) !== 1) throw new LightsoutError('CONFLICT', 'this join token was already used to enroll an agent', { hint: 'revoke the agent instead: lightsout agents revoke AGENT' });
  return { region: row.region, datacenter: row.datacenter };
}
