import type { Kysely } from 'kysely';
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

export class AgentUploads {
  constructor(private readonly store: Kysely<Database>) {}

  async create(row: AgentUploadRow): Promise<void> {
    await this.store.insertInto('media_uploads').values(row).execute();
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
