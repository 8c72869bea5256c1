import { LightsoutError, type RecordingRules } from '@lightsout/shared';
import type { Kysely } from 'kysely';
import type { ClusterBus } from '../../../cluster/bus.js';
import type { Database } from '../../../store/database.js';

/** Every replica hears that a tenant's rules changed and re-reads them from the store. */
const CHANNEL = 'recording-policy';

export interface StoredRecordingRules {
  rules: RecordingRules;
  updatedAt: number;
  updatedBy: string | null;
}

/**
 * The tenants' recording rules kept in the store (table recording_policies),
 * held in memory because a console's recorder decides synchronously when its
 * stream is spliced. Every replica loads them at start, re-reads a tenant's
 * when the cluster bus says it changed (at most once delivery: the periodic
 * reload catches a lost notice), and the retention sweep reloads them first.
 * One row per tenant that set rules: a small table, read whole.
 */
export class StoredRecordingPolicies {
  private held = new Map<string, StoredRecordingRules>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: Kysely<Database>,
    private readonly bus?: ClusterBus,
  ) {}

  /** The rules stored for `tenant`, as this replica last read them. */
  rulesOf = (tenant: string): RecordingRules | undefined => this.held.get(tenant)?.rules;

  storedOf(tenant: string): StoredRecordingRules | undefined {
    return this.held.get(tenant);
  }

  async start(): Promise<void> {
    this.unsubscribe = this.bus?.subscribe(CHANNEL, (message) => void this.reloadTenant((message as { tenant: string }).tenant).catch(() => undefined));
    await this.reload();
  }

  stop(): void {
    this.unsubscribe?.();
  }

  async reload(): Promise<void> {
    const rows = await this.store.selectFrom('recording_policies').selectAll().execute();
    this.held = new Map(rows.map((row) => [row.tenant_id, { rules: JSON.parse(row.policy) as RecordingRules, updatedAt: Number(row.updated_at), updatedBy: row.updated_by }]));
  }

  async reloadTenant(tenant: string): Promise<void> {
    const row = await this.store.selectFrom('recording_policies').selectAll().where('tenant_id', '=', tenant).executeTakeFirst();
    if (row === undefined) this.held.delete(tenant);
    else this.held.set(tenant, { rules: JSON.parse(row.policy) as RecordingRules, updatedAt: Number(row.updated_at), updatedBy: row.updated_by });
  }

  /** Stores a tenant's rules (replacing any it had), applies them here at once and tells the other replicas. */
  async set(tenant: string, rules: RecordingRules, by: string): Promise<StoredRecordingRules> {
    const known = await this.store.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst();
    if (known === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${tenant}`);
    const stored = { rules, updatedAt: Date.now(), updatedBy: by };
    const values = { policy: JSON.stringify(rules), updated_at: stored.updatedAt, updated_by: by };
    await this.store.insertInto('recording_policies').values({ tenant_id: tenant, ...values }).onConflict((conflict) => conflict.column('tenant_id').doUpdateSet(values)).execute();
    this.held.set(tenant, stored);
    await this.bus?.publish(CHANNEL, { tenant });
    return stored;
  }
}
