import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Store } from '../store/open.js';

/**
 * oidc-provider storage in the relay's own database (table oidc_payloads),
 * so sessions, device codes, grants and refresh tokens survive a restart and
 * work the same on SQLite and PostgreSQL. One row per (model kind, id).
 */
export function kyselyAdapterFactory(store: Store): new (kind: string) => Adapter {
  return class KyselyOidcAdapter implements Adapter {
    constructor(private readonly kind: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const row = {
        kind: this.kind,
        id,
        payload: JSON.stringify(payload),
        grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
        user_code: typeof payload.userCode === 'string' ? payload.userCode : null,
        uid: typeof payload.uid === 'string' ? payload.uid : null,
        expires_at: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null,
      };
      await store
        .insertInto('oidc_payloads')
        .values({ ...row, consumed_at: null })
        .onConflict((conflict) => conflict.columns(['kind', 'id']).doUpdateSet(row))
        .execute();
    }

    private async findWhere(column: 'id' | 'user_code' | 'uid', value: string): Promise<AdapterPayload | undefined> {
      const row = await store.selectFrom('oidc_payloads').selectAll().where('kind', '=', this.kind).where(column, '=', value).executeTakeFirst();
      if (row === undefined) return undefined;
      if (row.expires_at !== null && row.expires_at <= Date.now()) {
        await store.deleteFrom('oidc_payloads').where('kind', '=', this.kind).where('id', '=', row.id).execute();
        return undefined;
      }
      const payload = JSON.parse(row.payload) as AdapterPayload;
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
      await store.updateTable('oidc_payloads').set({ consumed_at: Date.now() }).where('kind', '=', this.kind).where('id', '=', id).execute();
    }

    async destroy(id: string): Promise<void> {
      await store.deleteFrom('oidc_payloads').where('kind', '=', this.kind).where('id', '=', id).execute();
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute();
    }
  };
}

/** Drop expired rows; run at startup and periodically. */
export async function pruneExpiredOidcPayloads(store: Store): Promise<void> {
  await store.deleteFrom('oidc_payloads').where('expires_at', 'is not', null).where('expires_at', '<=', Date.now()).execute();
}
