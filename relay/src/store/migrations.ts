import { type Kysely, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

export type StoreDriver = 'sqlite' | 'postgres';

/**
 * The one migration set, in code so it ships with the relay and runs the
 * same on SQLite and PostgreSQL. Append new migrations; never edit one that
 * has been released.
 */
const migrationsFor = (driver: StoreDriver): Record<string, Migration> => ({
  '0001-foundation': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
        .addColumn('username', 'text', (column) => column.notNull().unique())
        .addColumn('password_hash', 'text', (column) => column.notNull())
        .addColumn('role', 'text', (column) => column.notNull())
        .addColumn('disabled', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('regions')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('datacenters')
        .addColumn('id', 'text', (column) => column.notNull())
        .addColumn('region', 'text', (column) => column.notNull().references('regions.id'))
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addPrimaryKeyConstraint('datacenters_pk', ['region', 'id'])
        .execute();
      await db.schema
        .createTable('agents')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('region', 'text', (column) => column.notNull())
        .addColumn('datacenter', 'text', (column) => column.notNull())
        .addColumn('public_jwk', 'text', (column) => column.notNull())
        .addColumn('revoked', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('version', 'text')
        .addColumn('connected_at', 'bigint')
        .addColumn('last_seen_at', 'bigint')
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('join_tokens')
        .addColumn('token_hash', 'text', (column) => column.primaryKey())
        .addColumn('region', 'text', (column) => column.notNull())
        .addColumn('datacenter', 'text', (column) => column.notNull())
        .addColumn('created_by', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .addColumn('used_at', 'bigint')
        .addColumn('used_by_agent', 'text')
        .execute();
      await db.schema
        .createTable('servers')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
        .addColumn('region', 'text', (column) => column.notNull())
        .addColumn('datacenter', 'text', (column) => column.notNull())
        .addColumn('rack', 'text', (column) => column.notNull())
        .addColumn('labels', 'text', (column) => column.notNull())
        .addColumn('endpoints', 'text', (column) => column.notNull())
        .addColumn('capabilities', 'text', (column) => column.notNull())
        .addColumn('agent_id', 'text', (column) => column.notNull().references('agents.id'))
        .addColumn('power', 'text', (column) => column.notNull())
        .addColumn('reachable', 'integer')
        .addColumn('state_at', 'bigint')
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('servers_tenant').on('servers').column('tenant_id').execute();
      await db.schema.createIndex('servers_agent').on('servers').column('agent_id').execute();
      await db.schema
        .createTable('audit')
        // The only dialect-specific column: an auto-incrementing sequence number.
        .addColumn('seq', driver === 'postgres' ? 'serial' : 'integer', (column) => (driver === 'postgres' ? column.primaryKey() : column.primaryKey().autoIncrement()))
        .addColumn('time', 'bigint', (column) => column.notNull())
        .addColumn('subject', 'text')
        .addColumn('tenant_id', 'text')
        .addColumn('action', 'text', (column) => column.notNull())
        .addColumn('target', 'text')
        .addColumn('outcome', 'text', (column) => column.notNull())
        .addColumn('source_ip', 'text')
        .addColumn('correlation_id', 'text')
        .addColumn('details', 'text')
        .execute();
      await db.schema
        .createTable('oidc_payloads')
        .addColumn('id', 'text', (column) => column.notNull())
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('payload', 'text', (column) => column.notNull())
        .addColumn('grant_id', 'text')
        .addColumn('user_code', 'text')
        .addColumn('uid', 'text')
        .addColumn('expires_at', 'bigint')
        .addColumn('consumed_at', 'bigint')
        .addPrimaryKeyConstraint('oidc_payloads_pk', ['kind', 'id'])
        .execute();
      await db.schema.createIndex('oidc_payloads_grant').on('oidc_payloads').column('grant_id').execute();
      await db.schema.createIndex('oidc_payloads_user_code').on('oidc_payloads').column('user_code').execute();
      await db.schema.createIndex('oidc_payloads_uid').on('oidc_payloads').column('uid').execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['oidc_payloads', 'audit', 'servers', 'join_tokens', 'agents', 'datacenters', 'regions', 'users', 'tenants']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  },
  '0002-identity': {
    // MFA, the audit hash chain, grants and service-account tokens. Portable types only.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('tenants').addColumn('require_mfa', 'integer', (column) => column.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('users').addColumn('totp_secret', 'text').execute();
      await db.schema.alterTable('audit').addColumn('prev_hash', 'text').execute();
      await db.schema.alterTable('audit').addColumn('hash', 'text').execute();
      await db.schema
        .createTable('grants')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
        .addColumn('subject', 'text', (column) => column.notNull())
        .addColumn('selector', 'text', (column) => column.notNull())
        .addColumn('created_by', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('grants_subject').on('grants').columns(['tenant_id', 'subject']).execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('role', 'text', (column) => column.notNull())
        .addColumn('token_hash', 'text', (column) => column.notNull().unique())
        .addColumn('created_by', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('api_tokens').ifExists().execute();
      await db.schema.dropTable('grants').ifExists().execute();
      await db.schema.alterTable('audit').dropColumn('hash').execute();
      await db.schema.alterTable('audit').dropColumn('prev_hash').execute();
      await db.schema.alterTable('users').dropColumn('totp_secret').execute();
      await db.schema.alterTable('tenants').dropColumn('require_mfa').execute();
    },
  },
  '0003-server-assignments': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('server_assignments')
        .addColumn('server_id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
        .addColumn('assigned_by', 'text', (column) => column.notNull())
        .addColumn('assigned_at', 'bigint', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('server_assignments').ifExists().execute();
    },
  },
  '0004-spent-tokens': {
    // Single-use tokens spent in the store: a replay is refused after a relay restart and by every relay sharing the database.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('spent_tokens')
        .addColumn('scope', 'text', (column) => column.notNull())
        .addColumn('jti', 'text', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .addPrimaryKeyConstraint('spent_tokens_pk', ['scope', 'jti'])
        .execute();
      await db.schema.createIndex('spent_tokens_expiry').on('spent_tokens').column('expires_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('spent_tokens').ifExists().execute();
    },
  },
  '0005-account-credentials': {
    // Second-factor enrollment state, the last TOTP step used (replay refusal),
    // when a user's credentials last changed, and the account behind each OIDC
    // artefact so a password change or disable can revoke them. The TOTP
    // secrets themselves are sealed in code at startup (the key is not in the database).
    async up(db: Kysely<unknown>) {
      for (const [column, type] of [
        ['totp_pending', 'text'],
        ['totp_pending_expires_at', 'bigint'],
        ['totp_last_step', 'bigint'],
        ['mfa_enrollment_hash', 'text'],
        ['mfa_enrollment_expires_at', 'bigint'],
        ['credentials_changed_at', 'bigint'],
      ] as const) {
        await db.schema.alterTable('users').addColumn(column, type).execute();
      }
      await db.schema.alterTable('oidc_payloads').addColumn('account_id', 'text').execute();
      await db.schema.createIndex('oidc_payloads_account').on('oidc_payloads').column('account_id').execute();
      // Existing artefacts: accountId is in each payload's JSON.
      const typed = db as unknown as Kysely<{ oidc_payloads: { kind: string; id: string; payload: string; account_id: string | null } }>;
      for (const row of await typed.selectFrom('oidc_payloads').select(['kind', 'id', 'payload']).execute()) {
        const accountId = (JSON.parse(row.payload) as { accountId?: unknown }).accountId;
        if (typeof accountId === 'string') await typed.updateTable('oidc_payloads').set({ account_id: accountId }).where('kind', '=', row.kind).where('id', '=', row.id).execute();
      }
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('oidc_payloads_account').ifExists().execute();
      await db.schema.alterTable('oidc_payloads').dropColumn('account_id').execute();
      for (const column of ['credentials_changed_at', 'mfa_enrollment_expires_at', 'mfa_enrollment_hash', 'totp_last_step', 'totp_pending_expires_at', 'totp_pending']) {
        await db.schema.alterTable('users').dropColumn(column).execute();
      }
    },
  },
  '0006-revocations': {
    // Revocation notices (access/revocations.ts), kept while they matter: every relay on the store re-reads them after a restart or a lost LISTEN.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('revocations')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('notice', 'text', (column) => column.notNull())
        .addColumn('at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('revocations_at').on('revocations').column('at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('revocations').ifExists().execute();
    },
  },
  '0007-server-bmc-status': {
    // What the agent reports about its link to each BMC besides power: credentials rejected, last error, negotiated protocol.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('servers').addColumn('bmc_status', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('servers').dropColumn('bmc_status').execute();
    },
  },
  '0008-agent-tenant-binding': {
    // The tenants an agent may register servers into, as its join token named them (JSON array); null: any.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('join_tokens').addColumn('tenants', 'text').execute();
      await db.schema.alterTable('agents').addColumn('tenants', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('agents').dropColumn('tenants').execute();
      await db.schema.alterTable('join_tokens').dropColumn('tenants').execute();
    },
  },
  '0009-usernames-per-tenant': {
    // A username is unique within its tenant: a global constraint told one tenant's
    // admin which names other tenants use (409 on create).
    async up(db: Kysely<unknown>) {
      if (driver === 'postgres') {
        await sql`alter table users drop constraint if exists users_username_key`.execute(db);
      } else {
        await rebuildSqliteUsers(db, (create) => {
          const loosened = create.replace(/"username" text not null unique/i, '"username" text not null');
          if (loosened === create) throw new Error(`users table is not as migration 0001 made it: ${create}`);
          return loosened;
        });
      }
      await db.schema.createIndex('users_tenant_username').unique().on('users').columns(['tenant_id', 'username']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('users_tenant_username').execute();
      if (driver === 'postgres') await sql`alter table users add constraint users_username_key unique (username)`.execute(db);
      else await rebuildSqliteUsers(db, (create) => create.replace(/"username" text not null/i, '"username" text not null unique'));
      },
    },
  '0010-ssh-keys': {
    // Users' SSH public keys and the deployment's SSH host key (the SSH front door, relay/src/ssh).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ssh_keys')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
        .addColumn('user_id', 'text', (column) => column.notNull())
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('algorithm', 'text', (column) => column.notNull())
        .addColumn('bits', 'integer', (column) => column.notNull())
        .addColumn('fingerprint', 'text', (column) => column.notNull().unique())
        .addColumn('public_key', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema.createIndex('ssh_keys_user').on('ssh_keys').columns(['tenant_id', 'user_id']).execute();
      await db.schema
        .createTable('ssh_host_keys')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('private_key', 'text', (column) => column.notNull())
        .addColumn('fingerprint', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('ssh_host_keys').ifExists().execute();
      await db.schema.dropIndex('ssh_keys_user').ifExists().execute();
      await db.schema.dropTable('ssh_keys').ifExists().execute();
    },
  },
  '0011-automation': {
    // The MCP endpoint's per-tenant policy (docs/automation.md) and the tool calls waiting for a tenant admin's approval.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('automation_policies')
        .addColumn('tenant_id', 'text', (column) => column.primaryKey().references('tenants.id'))
        .addColumn('policy', 'text', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_by', 'text')
        .execute();
      await db.schema
        .createTable('automation_approvals')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull())
        .addColumn('tool', 'text', (column) => column.notNull())
        .addColumn('server_id', 'text', (column) => column.notNull())
        .addColumn('arguments', 'text', (column) => column.notNull())
        .addColumn('fingerprint', 'text', (column) => column.notNull())
        .addColumn('subject', 'text', (column) => column.notNull())
        .addColumn('username', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .addColumn('decided_by', 'text')
        .addColumn('decided_at', 'bigint')
        .execute();
      await db.schema.createIndex('automation_approvals_tenant').on('automation_approvals').columns(['tenant_id', 'status']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('automation_approvals').ifExists().execute();
      await db.schema.dropTable('automation_policies').ifExists().execute();
    },
  },
  '0012-signing-keys': {
    // The deployment's signing keys (OIDC provider, stream tokens), one JSON document per key ring, so every
    // replica on the store signs and verifies with the same keys. `version` is bumped by each rotation: a
    // replica replaces the document only at the version it read (two replicas rotating at once keep one ring).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('signing_keys')
        .addColumn('name', 'text', (column) => column.primaryKey())
        .addColumn('document', 'text', (column) => column.notNull())
        .addColumn('version', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('signing_keys').ifExists().execute();
    },
  },
  '0013-login-failures': {
    // The sign-in throttle's failure counts (identity/failure-counts.ts): every replica counts the same failures.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('login_failures')
        .addColumn('key', 'text', (column) => column.primaryKey())
        .addColumn('count', 'integer', (column) => column.notNull())
        .addColumn('last_at', 'bigint', (column) => column.notNull())
        .addColumn('locked_until', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('login_failures_last_at').on('login_failures').column('last_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('login_failures').ifExists().execute();
    },
  },
  '0014-cluster-replicas': {
    // Replicas of one deployment (cluster/replicas.ts), which one holds each agent's control connection, and bus payloads too large for NOTIFY (cluster/bus.ts).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('replicas')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('role', 'text', (column) => column.notNull())
        .addColumn('region', 'text')
        .addColumn('public_url', 'text', (column) => column.notNull())
        .addColumn('started_at', 'bigint', (column) => column.notNull())
        .addColumn('heartbeat_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.alterTable('agents').addColumn('gateway_id', 'text').execute();
      await db.schema
        .createTable('bus_payloads')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('payload', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('bus_payloads_created_at').on('bus_payloads').column('created_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('bus_payloads').ifExists().execute();
      await db.schema.alterTable('agents').dropColumn('gateway_id').execute();
      await db.schema.dropTable('replicas').ifExists().execute();
    },
  },
  '0015-audit-sink-cursors': {
    // Where each SIEM sink's delivery stands, and the lease that lets one replica forward it (audit/siem/forwarder.ts).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_sink_cursors')
        .addColumn('sink', 'text', (column) => column.primaryKey())
        .addColumn('seq', 'bigint', (column) => column.notNull())
        .addColumn('holder', 'text')
        .addColumn('lease_until', 'bigint', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('audit_sink_cursors').ifExists().execute();
    },
  },
  '0016-recordings': {
    // Console recordings in the store (plugins/streams/recordings/database-storage.ts), which every replica of a
    // deployment reads and writes: one row per recording (its meta) and one per stored append (bytes + time index).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('recordings')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull())
        .addColumn('meta', 'text', (column) => column.notNull())
        .addColumn('started_at', 'bigint', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('recording_chunks')
        .addColumn('recording_id', 'text', (column) => column.notNull().references('recordings.id').onDelete('cascade'))
        .addColumn('position', 'bigint', (column) => column.notNull())
        .addColumn('length', 'integer', (column) => column.notNull())
        .addColumn('bytes', driver === 'postgres' ? 'bytea' : 'blob', (column) => column.notNull())
        .addColumn('times', 'text', (column) => column.notNull())
        .addColumn('written_at', 'bigint', (column) => column.notNull())
        .addPrimaryKeyConstraint('recording_chunks_pk', ['recording_id', 'position', 'length'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('recording_chunks').ifExists().execute();
      await db.schema.dropTable('recordings').ifExists().execute();
    },
  },
  '0017-media-url-policies': {
    // Which hosts a tenant's agents may fetch images from for a mount by URL (docs/virtual-media.md); no row: none.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('media_url_policies')
        .addColumn('tenant_id', 'text', (column) => column.primaryKey().references('tenants.id'))
        .addColumn('policy', 'text', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_by', 'text')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('media_url_policies').ifExists().execute();
    },
  },
  '0018-agent-tenants-required': {
    // Every agent is bound to the tenants it may register servers into. One enrolled with a token that named
    // none (it could register anywhere) is bound to the tenants it holds servers in now, so nothing it serves
    // changes; one holding none is bound to none until a provider admin names its tenants. An unused token that
    // named none enrolls an agent bound to none.
    async up(db: Kysely<unknown>) {
      const unbound = await sql<{ id: string }>`select id from agents where tenants is null`.execute(db);
      for (const { id } of unbound.rows) {
        const held = await sql<{ tenant_id: string }>`select distinct tenant_id from servers where agent_id = ${id} order by tenant_id`.execute(db);
        await sql`update agents set tenants = ${JSON.stringify(held.rows.map((row) => row.tenant_id))} where id = ${id}`.execute(db);
      }
      await sql`update join_tokens set tenants = '[]' where tenants is null`.execute(db);
    },
    async down() {
      // A binding is kept: going back would widen what each agent may register.
    },
  },
  '0019-discovered-bmcs': {
    // BMCs an agent's scan found and nobody adopted yet (docs/operations.md, Discovery). One row per BMC and agent:
    // `identity` (the Redfish UUID, else the IPMI GUID) follows a BMC that moved to another address.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('discovered_bmcs')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('agent_id', 'text', (column) => column.notNull().references('agents.id'))
        .addColumn('address', 'text', (column) => column.notNull())
        .addColumn('previous_address', 'text')
        .addColumn('identity', 'text')
        .addColumn('finding', 'text', (column) => column.notNull())
        .addColumn('scan_id', 'text', (column) => column.notNull())
        .addColumn('first_seen_at', 'bigint', (column) => column.notNull())
        .addColumn('last_seen_at', 'bigint', (column) => column.notNull())
        .addColumn('adopted_server_id', 'text')
        .execute();
      await db.schema.createIndex('discovered_bmcs_agent_address').on('discovered_bmcs').columns(['agent_id', 'address']).unique().execute();
      await db.schema.createIndex('discovered_bmcs_agent_identity').on('discovered_bmcs').columns(['agent_id', 'identity']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('discovered_bmcs').ifExists().execute();
    },
  },
  '0020-media-uploads': {
    // Uploads stored in the target agent's cache (docs/virtual-media.md "Uploads into the agent"): the row is
    // the upload's only record outside the agent, so any replica resolves an upload id to its tenant, image and agent.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('media_uploads')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('tenant_id', 'text', (column) => column.notNull())
        .addColumn('subject', 'text', (column) => column.notNull())
        .addColumn('username', 'text', (column) => column.notNull())
        .addColumn('filename', 'text', (column) => column.notNull())
        .addColumn('sha256', 'text', (column) => column.notNull())
        .addColumn('size', 'bigint', (column) => column.notNull())
        .addColumn('server_id', 'text', (column) => column.notNull())
        .addColumn('agent_id', 'text', (column) => column.notNull())
        .addColumn('verified', 'integer', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('media_uploads_tenant').on('media_uploads').column('tenant_id').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('media_uploads').ifExists().execute();
    },
  },
  '0021-server-live-status': {
    // A power action being confirmed and the last one's outcome, and the mounted virtual media image (JSON, or null):
    // kept with the server so that every replica shows them, whichever replica confirms the action or runs the mount.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('servers').addColumn('pending_power', 'text').execute();
      await db.schema.alterTable('servers').addColumn('last_power', 'text').execute();
      await db.schema.alterTable('servers').addColumn('media', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      for (const column of ['media', 'last_power', 'pending_power']) await db.schema.alterTable('servers').dropColumn(column).execute();
    },
  },
  '0022-recording-policies': {
    // A tenant's recording rules (docs/streams.md, Recording), set by its admins: every replica reads them, and they
    // override the deployment's recording-policy.json for that tenant. No row: the file's rules apply.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('recording_policies')
        .addColumn('tenant_id', 'text', (column) => column.primaryKey().references('tenants.id'))
        .addColumn('policy', 'text', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_by', 'text')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('recording_policies').ifExists().execute();
    },
  },
  '0023-media-jobs': {
    // The virtual media job running on a server, with the relay that runs it and its lease: every replica shows its
    // progress and refuses a second mount or eject while it runs; a job whose relay died frees the server at the lease.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('servers').addColumn('media_job', 'text').execute();
      await db.schema.alterTable('servers').addColumn('media_job_owner', 'text').execute();
      await db.schema.alterTable('servers').addColumn('media_job_until', 'bigint', (column) => column.notNull().defaultTo(0)).execute();
    },
    async down(db: Kysely<unknown>) {
      for (const column of ['media_job_until', 'media_job_owner', 'media_job']) await db.schema.alterTable('servers').dropColumn(column).execute();
    },
  },
});

/**
 * SQLite cannot drop a column constraint (its auto-index belongs to the
 * table): rebuild the table from its own stored definition, edited, as
 * https://www.sqlite.org/lang_altertable.html §7 prescribes. No other table
 * references users, and it has no other indexes.
 */
async function rebuildSqliteUsers(db: Kysely<unknown>, edit: (create: string) => string): Promise<void> {
  const stored = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'users'`.execute(db);
  const create = stored.rows[0]?.sql;
  if (create === undefined) throw new Error('no users table');
  const rebuilt = edit(create).replace(/^create table "?users"?/i, 'create table "users_rebuilt"');
  await sql.raw(rebuilt).execute(db);
  await sql`insert into users_rebuilt select * from users`.execute(db);
  await sql`drop table users`.execute(db);
  await sql`alter table users_rebuilt rename to users`.execute(db);
}

export function migrationProvider(driver: StoreDriver): MigrationProvider {
  return {
    async getMigrations() {
      return migrationsFor(driver);
    },
  };
}
