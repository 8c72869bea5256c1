import { createHash } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Store } from '../store/open.js';
import { UNUSED_REGISTRATION_TTL_SECONDS, isRegisteredClientId } from './client-registration.js';

/**
 * oidc-provider storage in the relay's own database (table oidc_payloads),
 * so sessions, device codes, grants and refresh tokens survive a restart and
 * work the same on SQLite and PostgreSQL. One row per (model kind, id).
 */
/**
 * Opaque bearer values (refresh tokens, codes) are the row ids: stored as
 * their SHA-256, never as they are, so reading the database does not yield a
 * usable token (secrets-scan.test.ts). Models found only by id also
 * have their `jti` (the same value) dropped from the stored payload and put
 * back from the id presented on find.
 */
const storedId = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');
const FOUND_BY_ID_ONLY = new Set(['RefreshToken', 'AuthorizationCode', 'AccessToken', 'ClientCredentials', 'BackchannelAuthenticationRequest']);

export function kyselyAdapterFactory(store: Store): new (kind: string) => Adapter {
  return class KyselyOidcAdapter implements Adapter {
    constructor(private readonly kind: string) {}

    async upsert(presentedId: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const id = storedId(presentedId);
      const stored: AdapterPayload = { ...payload };
      if (FOUND_BY_ID_ONLY.has(this.kind) && stored['jti'] === presentedId) delete stored['jti'];
      const row = {
        kind: this.kind,
        id,
        payload: JSON.stringify(stored),
        grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
        user_code: typeof payload.userCode === 'string' ? payload.userCode : null,
        uid: typeof payload.uid === 'string' ? payload.uid : null,
        account_id: typeof payload.accountId === 'string' ? payload.accountId : null,
        expires_at: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : this.kind === 'Client' && isRegisteredClientId(presentedId) ? Date.now() + UNUSED_REGISTRATION_TTL_SECONDS * 1000 : null,
      };
      await store
        .insertInto('oidc_payloads')
        .values({ ...row, consumed_at: null })
        .onConflict((conflict) => conflict.columns(['kind', 'id']).doUpdateSet(row))
        .execute();
      // A registered client lives as long as what it was granted (client-registration.ts).
      if ((this.kind === 'Grant' || this.kind === 'RefreshToken') && isRegisteredClientId(payload['clientId']) && row.expires_at !== null) {
        await store.updateTable('oidc_payloads').set({ expires_at: row.expires_at }).where('kind', '=', 'Client').where('id', '=', storedId(payload['clientId'])).where('expires_at', '<', row.expires_at).execute();
      }
    }

    private async findWhere(column: 'id' | 'user_code' | 'uid', presented: string): Promise<AdapterPayload | undefined> {
      const value = column === 'id' ? storedId(presented) : presented;
      const row = await store.selectFrom('oidc_payloads').selectAll().where('kind', '=', this.kind).where(column, '=', value).executeTakeFirst();
      if (row === undefined) return undefined;
      if (row.expires_at !== null && row.expires_at <= Date.now()) {
        await store.deleteFrom('oidc_payloads').where('kind', '=', this.kind).where('id', '=', row.id).execute();
        return undefined;
      }
      const payload = JSON.parse(row.payload) as AdapterPayload;
      if (column === 'id' && FOUND_BY_ID_ONLY.has(this.kind) && payload['jti'] === undefined) payload['jti'] = presented;
      return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(row.consumed_at / 1000) };
    }

    find(id: string) {
      return this.findWhere('id', id);
    }

    findByUserCode(userCode: string) {
      return this.findWhere('user_code', userCode);
    }

    findByUid(uid: string) {
      return this.findWhere('uid', uid);
    }

    async consume(id: string): Promise<void> {
      await store.updateTable('oidc_payloads').set({ consumed_at: Date.now() }).where('kind', '=', this.kind).where('id', '=', storedId(id)).execute();
    }

    async destroy(id: string): Promise<void> {
      await store.deleteFrom('oidc_payloads').where('kind', '=', this.kind).where('id', '=', storedId(id)).execute();
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute();
    }
  };
}

/**
 * Every OIDC artefact of one account — sessions, grants, refresh tokens,
 * codes — gone: what a password change or a disable does, so no refresh
 * token or browser session outlives the credentials it came from.
 */
export async function revokeAccountArtefacts(store: Store, accountId: string): Promise<number> {
  // Each of these models carries accountId in its payload (the adapter copies it to account_id).
  const result = await store.deleteFrom('oidc_payloads').where('account_id', '=', accountId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * The grants one client got through one OP browser session (found through the
 * refresh tokens and codes issued under them), deleted with everything
 * issued under them. RP-initiated logout calls this for the client that
 * asked to sign out: oidc-provider keeps `offline_access` grants across a
 * logout, and the console's sign-out must end its refresh token too.
 */
export async function revokeSessionGrants(store: Store, session: { accountId: string; sessionUid: string; clientId: string }): Promise<number> {
  const rows = await store.selectFrom('oidc_payloads').select(['payload', 'grant_id']).where('account_id', '=', session.accountId).where('kind', 'in', ['RefreshToken', 'AuthorizationCode']).execute();
  const grants = new Set<string>();
  for (const row of rows) {
    const payload = JSON.parse(row.payload) as { sessionUid?: unknown; clientId?: unknown };
    if (row.grant_id !== null && payload.sessionUid === session.sessionUid && payload.clientId === session.clientId) grants.add(row.grant_id);
  }
  for (const grantId of grants) {
    await store.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute();
    await store.deleteFrom('oidc_payloads').where('kind', '=', 'Grant').where('id', '=', storedId(grantId)).execute();
  }
  return grants.size;
}

/** Whether the grant an access token names still exists (not revoked, not expired). */
export async function grantIsLive(store: Store, grantId: string): Promise<boolean> {
  const row = await store.selectFrom('oidc_payloads').select('expires_at').where('kind', '=', 'Grant').where('id', '=', storedId(grantId)).executeTakeFirst();
  return row !== undefined && (row.expires_at === null || row.expires_at > Date.now());
}

/** Drop expired rows; run at startup and periodically. */
export async function pruneExpiredOidcPayloads(store: Store): Promise<void> {
  await store.deleteFrom('oidc_payloads').where('expires_at', 'is not', null).where('expires_at', '<=', Date.now()).execute();
}

/** Registered clients (RFC 7591) the store keeps now, expired ones not counted. */
export async function registeredClientCount(store: Store): Promise<number> {
  const row = await store.selectFrom('oidc_payloads').select((eb) => eb.fn.countAll<number>().as('count')).where('kind', '=', 'Client').where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', Date.now())])).executeTakeFirst();
  return Number(row?.count ?? 0);
}
