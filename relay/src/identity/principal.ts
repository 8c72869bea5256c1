import { LightsoutError, type Role } from '@lightsout/shared';
import type { RelayConfig } from '../config/schema.js';
import type { Store } from '../store/open.js';
import { findAccountById } from './accounts.js';
import { grantIsLive } from './oidc-adapter.js';
import { GRANT_CLAIM } from './provider.js';
import type { Principal, VerifiedToken } from './verifier.js';

const ROLES: readonly Role[] = ['provider-admin', 'tenant-admin', 'operator', 'viewer'];

function claimAt(claims: Record<string, unknown>, path: string): unknown {
  // Dotted paths reach nested claims (Keycloak's realm_access.roles and the like).
  return path.split('.').reduce<unknown>((value, key) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined), claims);
}

/** The strongest known role in a claim that may be a string or a list. */
function roleFromClaim(value: unknown): Role | undefined {
  const values = Array.isArray(value) ? value : [value];
  return ROLES.find((role) => values.includes(role));
}

/** auth_time and amr from the token, when it carries them. */
function authenticationOf(claims: Record<string, unknown>): Pick<Principal, 'authTime' | 'amr'> {
  const authTime = claims['auth_time'];
  const amr = claims['amr'];
  return {
    ...(typeof authTime === 'number' && Number.isFinite(authTime) ? { authTime } : {}),
    ...(Array.isArray(amr) && amr.every((method) => typeof method === 'string') ? { amr: amr as string[] } : {}),
  };
}

const unknownUser = () => new LightsoutError('UNAUTHENTICATED', 'the token\'s subject is not an active Lightsout user', { hint: 'ask an administrator to enable your account, then log in again' });

/**
 * Turn a verified token into a Principal. Embedded OP: `sub` is a user id
 * in our store, so disabling a user takes effect on their next request.
 * External issuer: tenant, role and username come from configurable claims,
 * and the tenant must exist here.
 */
export async function principalFor(token: VerifiedToken, config: RelayConfig, store: Store): Promise<Principal> {
  if (config.identity.mode === 'embedded') {
    const account = await findAccountById(store, token.subject);
    if (account === undefined) throw unknownUser();
    // Tokens of this OP name their grant; one whose grant is gone was signed out or revoked.
    const grantId = (token.claims as Record<string, unknown>)[GRANT_CLAIM];
    if (typeof grantId === 'string' && !(await grantIsLive(store, grantId))) {
      throw new LightsoutError('TOKEN_INVALID', 'the sign-in behind this token has ended (signed out, password changed or account disabled)', { hint: 'sign in again' });
    }
    return { subject: account.id, username: account.username, tenant: account.tenant, role: account.role, issuer: token.issuer, expiresAt: token.expiresAt, kind: 'user', ...authenticationOf(token.claims as Record<string, unknown>) };
  }
  const mapping = config.identity.external!.claims;
  const claims = token.claims as Record<string, unknown>;
  const tenant = claimAt(claims, mapping.tenant);
  const role = roleFromClaim(claimAt(claims, mapping.role));
  const username = claimAt(claims, mapping.username);
  if (typeof tenant !== 'string' || role === undefined) {
    throw new LightsoutError('FORBIDDEN', 'the token carries no Lightsout tenant or role', { hint: `map claims "${mapping.tenant}" and "${mapping.role}" in your identity provider` });
  }
  const known = await store.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst();
  if (known === undefined) throw new LightsoutError('FORBIDDEN', 'the token\'s tenant is not known to this relay');
  return { subject: token.subject, username: typeof username === 'string' ? username : token.subject, tenant, role, issuer: token.issuer, expiresAt: token.expiresAt, kind: 'user', ...authenticationOf(claims) };
}
