import { type Kysely, sql } from 'kysely';
import type { Database, MediaUploadTable } from '../../store/database.js';
import type { UploadRecord } from './uploads.js';

/**
 * Uploads stored in the target agent's cache (docs/virtual-media.md
 * "Uploads into the agent"). The row is everything a relay keeps of such an
 * upload: who, which image, which agent. The bytes go through the gateway
 * holding that agent straight into the agent's cache; the offset is what the
 * agent has. Any replica reads the row, so an upload id outlives the gateway
 * it was created on.
 */
export type AgentUploadRow = MediaUploadTable;

/** With the tenant as second key: every replica creating an upload for one tenant takes the same lock. */
const QUOTA_LOCK_KEY = 7_470_002;

export class AgentUploads {
  constructor(
    private readonly store: Kysely<Database>,
    private readonly driver: 'sqlite' | 'postgres' = 'sqlite',
  ) {}

  /**
   * Inserts the row if the tenant's uploads, with it, stay within
   * `quotaBytes` (`usedElsewhere`: what the tenant holds outside these rows).
   * The sum is read and the row inserted in one transaction, under a lock per
   * tenant on PostgreSQL (SQLite serialises writers itself): replicas
   * creating uploads at once cannot each see room the other is taking.
   * Returns the bytes in use before this one; `created` is false when it did not fit.
   */
  async createWithinQuota(row: AgentUploadRow, quotaBytes: number, usedElsewhere: number): Promise<{ created: boolean; used: number }> {
    return this.store.transaction().execute(async (transaction) => {
      if (this.driver === 'postgres') await sql`select pg_advisory_xact_lock(${QUOTA_LOCK_KEY}, hashtext(${row.tenant_id}))`.execute(transaction);
      const { total } = await transaction.selectFrom('media_uploads').select((expression) => expression.fn.coalesce(expression.fn.sum<number>('size'), sql<number>`0`).as('total')).where('tenant_id', '=', row.tenant_id).executeTakeFirstOrThrow();
      const used = Number(total) + usedElsewhere;
      if (used + row.size > quotaBytes) return { created: false, used };
      await transaction.insertInto('media_uploads').values(row).execute();
      return { created: true, used };
    });
  }

  async find(id: string): Promise<AgentUploadRow | undefined> {
    return this.store.selectFrom('media_uploads').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async ofTenant(tenant: string): Promise<AgentUploadRow[]> {
    return this.store.selectFrom('media_uploads').selectAll().where('tenant_id', '=', tenant).execute();
  }

  async markVerified(id: string): Promise<void> {
    await this.store.updateTable('media_uploads').set({ verified: 1 }).where('id', '=', id).execute();
  }

  async remove(id: string): Promise<void> {
    await this.store.deleteFrom('media_uploads').where('id', '=', id).execute();
  }

  /**
   * Unfinished uploads created before `before` (epoch ms) are gone: their quota is free again. Returns the rows this
   * call removed (of replicas sweeping at once, each row goes to exactly one), whose agents are to drop their files.
   */
  async removeUnfinishedBefore(before: number): Promise<Pick<AgentUploadRow, 'id' | 'agent_id'>[]> {
    return this.store.deleteFrom('media_uploads').where('verified', '=', 0).where('created_at', '<', before).returning(['id', 'agent_id']).execute();
  }
}

/** The row as the media plugin's other parts see an upload; `offset` is filled in by whoever asked the agent. */
export function recordOfRow(row: AgentUploadRow, offset = row.verified === 1 ? row.size : 0): UploadRecord {
  return {
    id: row.id,
    tenant: row.tenant_id,
    subject: row.subject,
    username: row.username,
    filename: row.filename,
    sha256: row.sha256,
    size: row.size,
    offset,
    verified: row.verified === 1,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
