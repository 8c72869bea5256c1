import type { RunningRelay } from './relay.js';
import { loginWithPassword } from './login.js';

/** Signed-in tokens of the identities a tenant-scope test compares. */
export interface ScopeIdentities {
  adminToken: string;
  /** The seeded operator of tenant `demo`. */
  operatorToken: string;
  /** A viewer of tenant `demo`. */
  viewerToken: string;
  /** An operator of a second tenant, `bravo`. */
  bravoToken: string;
}

/**
 * Creates a viewer in `demo`, the tenant `bravo` and an operator of it
 * (user names prefixed with `prefix`, all with `password`), and signs each
 * in through the relay's OP, with its seeded admin and operator.
 */
export async function createScopeIdentities(relay: RunningRelay, prefix: string, password: string): Promise<ScopeIdentities> {
  const adminToken = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${relay.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (response.status !== 201) throw new Error(`POST ${path}: HTTP ${response.status} ${await response.text()}`);
  };
  await post('/v1/users', { username: `${prefix}-viewer`, password, role: 'viewer', tenant: 'demo' });
  await post('/v1/tenants', { id: 'bravo', name: 'Bravo' });
  await post('/v1/users', { username: `${prefix}-bravo-operator`, password, role: 'operator', tenant: 'bravo' });
  return {
    adminToken,
    operatorToken: (await loginWithPassword(relay.url, 'operator', relay.credentials.operator.password)).accessToken,
    viewerToken: (await loginWithPassword(relay.url, `${prefix}-viewer`, password)).accessToken,
    bravoToken: (await loginWithPassword(relay.url, `${prefix}-bravo-operator`, password)).accessToken,
  };
}
