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

/**
 * The strongest known role in a claim that may be a string or a list.
 * `provider-admin` only for a login of the provider tenant (docs/security.md,
 * Roles): the same word in another tenant's token — a group a tenant's own
 * administrators can name at the identity provider — would otherwise read
 * every tenant; such a token has the strongest of its other roles.
 */
function roleFromClaim(value: unknown, tenant: string, providerTenant: string): Role | undefined {
  const values = Array.isArray(value) ? value : [value];
  return ROLES.find((role) => values.includes(role) && (role !== 'provider-admin' || tenant === providerTenant));
}

function epochSeconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** auth_time and amr from the token, when it carries them. */
function authenticationOf(claims: Record<string, unknown>): Pick<Principal, 'authTime' | 'amr'> {
  const authTime = epochSeconds(claims['auth_time']);
  const amr = claims['amr'];
  return {
    ...(authTime === undefined ? {} : { authTime }),
    ...(Array.isArray(amr) && amr.every((method) => typeof method === 'string') ? { amr: amr as string[] } : {}),
  };
}

type ExternalIssuerConfig = NonNullable<RelayConfig['identity']['external']>;

/**
 * The sign-in time and methods of an external issuer's token. Many providers
 * leave `auth_time` out of access tokens (it is an ID-token claim, OIDC Core
 * §2), so, in order: `auth_time`; the configured claim; and, when the
 * operator says the issuer mints these tokens only at an interactive sign-in,
 * the token's own `iat`. An `acr` the operator lists as multi-factor counts
 * as a second factor (RFC 8176 has no `amr` for "the IdP decided it was MFA").
 */
function externalAuthenticationOf(claims: Record<string, unknown>, external: ExternalIssuerConfig): Pick<Principal, 'authTime' | 'amr'> {
  const fromToken = authenticationOf(claims);
  const authTime =
    fromToken.authTime ??
    (external.claims.authTime === undefined ? undefined : epochSeconds(claimAt(claims, external.claims.authTime))) ??
    (external.authTimeFromIssuedAt ? epochSeconds(claims['iat']) : undefined);
  const acr = claims['acr'];
  const mfaByAcr = typeof acr === 'string' && external.mfaAcrValues.includes(acr);
  const amr = mfaByAcr ? [...(fromToken.amr ?? []), 'mfa'] : fromToken.amr;
  return { ...(authTime === undefined ? {} : { authTime }), ...(amr === undefined ? {} : { amr }) };
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
  const providerTenant = config.identity.external!.providerTenant;
  const role = typeof tenant === 'string' ? roleFromClaim(claimAt(claims, mapping.role), tenant, providerTenant) : undefined;
  const username = claimAt(claims, mapping.username);
  if (typeof tenant !== 'string' || role === undefined) {
    const onlyProviderAdmin = typeof tenant === 'string' && roleFromClaim(claimAt(claims, mapping.role), providerTenant, providerTenant) === 'provider-admin';
    if (onlyProviderAdmin) {
      throw new LightsoutError('FORBIDDEN', `provider-admin is a role of the provider tenant "${providerTenant}" only; this token's tenant is "${tenant}"`, {
        hint: `give provider administrators the tenant claim "${providerTenant}" in your identity provider, or a tenant role`,
      });
    }
    throw new LightsoutError('FORBIDDEN', 'the token carries no Lightsout tenant or role', { hint: `map claims "${mapping.tenant}" and "${mapping.role}" in your identity provider` });
  }
  const known = await store.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst();
  if (known === undefined) throw new LightsoutError('FORBIDDEN', 'the token\'s tenant is not known to this relay');
  return { subject: token.subject, username: typeof username === 'string' ? username : token.subject, tenant, role, issuer: token.issuer, expiresAt: token.expiresAt, kind: 'user', ...externalAuthenticationOf(claims, config.identity.external!) };
}
