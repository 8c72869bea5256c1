import { Counter, Gauge, type Registry } from 'prom-client';
import type { Store } from '../store/open.js';

/** Tenants with series of their own by default, the largest first; the rest are summed as tenant="other". */
export const MAX_TENANT_SERIES = 50;

/**
 * The `tenant` label of every per-tenant series: the tenant's id for the
 * `max` tenants with the most servers (ties by id), "other" for the rest.
 * One definition for every metric, so the same tenants are named in each
 * and a provider with thousands of tenants still has at most max + 1
 * values. The set is read from the store at scrape time and is the same
 * on every replica.
 */
export class TenantLabels {
  private reading: Promise<(tenant: string) => string> | undefined;

  constructor(
    private readonly store: Store,
    readonly max = MAX_TENANT_SERIES,
  ) {}

  /** Shared while a read is in flight: a scrape collects every metric at once, so it reads the sizes once. */
  labeller(): Promise<(tenant: string) => string> {
    if (this.reading === undefined) {
      const reading = this.read();
      this.reading = reading;
      const done = () => {
        if (this.reading === reading) this.reading = undefined;
      };
      reading.then(done, done);
    }
    return this.reading;
  }

  private async read(): Promise<(tenant: string) => string> {
    const rows = await this.store
      .selectFrom('servers')
      .select((builder) => ['tenant_id', builder.fn.countAll<number>().as('count')])
      .groupBy('tenant_id')
      .execute();
    const named = new Set(
      rows
        .map((row) => [row.tenant_id, Number(row.count)] as const)
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, this.max)
        .map(([tenant]) => tenant),
    );
    return (tenant) => (named.has(tenant) ? tenant : 'other');
  }
}

/**
 * Store-derived server gauges, read at scrape time (the same on every
 * replica of a deployment):
 *   `lightsout_servers{tenant, power}`: each tenant's fleet and how much of it is on, off or unknown;
 *   `lightsout_tenant_servers{tenant, agent_state}`: how much of it an operator can reach now
 *   (`online`: its agent's control connection is up at some replica).
 */
export function registerServerMetrics(registry: Registry, store: Store, labels: TenantLabels, agentOnline: (agentId: string) => boolean): void {
  new Gauge({
    name: 'lightsout_servers',
    help: `Servers registered by agents, by tenant (the ${labels.max} largest; the rest as "other") and power state`,
    labelNames: ['tenant', 'power'],
    registers: [registry],
    async collect() {
      const [rows, label] = await Promise.all([
        store
          .selectFrom('servers')
          .select((builder) => ['tenant_id', 'power', builder.fn.countAll<number>().as('count')])
          .groupBy(['tenant_id', 'power'])
          .execute(),
        labels.labeller(),
      ]);
      this.reset();
      for (const row of rows) this.inc({ tenant: label(row.tenant_id), power: row.power }, Number(row.count));
    },
  });
  new Gauge({
    name: 'lightsout_tenant_servers',
    help: `Servers by tenant (the ${labels.max} largest; the rest as "other") and whether their agent is connected to the deployment (online) or not (offline)`,
    labelNames: ['tenant', 'agent_state'],
    registers: [registry],
    async collect() {
      const [rows, label] = await Promise.all([
        store
          .selectFrom('servers')
          .select((builder) => ['tenant_id', 'agent_id', builder.fn.countAll<number>().as('count')])
          .groupBy(['tenant_id', 'agent_id'])
          .execute(),
        labels.labeller(),
      ]);
      this.reset();
      for (const row of rows) this.inc({ tenant: label(row.tenant_id), agent_state: agentOnline(row.agent_id) ? 'online' : 'offline' }, Number(row.count));
    },
  });
}

/** Counts one BMC operation of a tenant: `ok`, or the ErrorCode it failed with. */
export type CountBmcOperation = (tenant: string, result: string) => void;

/**
 * `lightsout_tenant_bmc_operations_total{gateway, tenant, result}`: the BMC
 * operations this replica forwarded for each tenant (power, boot, sensors,
 * SEL, credential retries), by outcome. Kept per real tenant in memory
 * (bounded by the tenants in the store times the ErrorCode union) and summed
 * into the tenant labels at scrape time; when a tenant joins or leaves the
 * named set, "other" can go down, which Prometheus reads as a counter reset.
 */
export function registerBmcOperationMetrics(registry: Registry, gateway: string, labels: TenantLabels): CountBmcOperation {
  const counts = new Map<string, Map<string, number>>();
  new Counter({
    name: 'lightsout_tenant_bmc_operations_total',
    help: `BMC operations forwarded by this replica, by tenant (the ${labels.max} largest; the rest as "other") and result (ok or the error code)`,
    labelNames: ['gateway', 'tenant', 'result'],
    registers: [registry],
    async collect() {
      const label = await labels.labeller();
      this.reset();
      for (const [tenant, results] of counts) for (const [result, count] of results) this.inc({ gateway, tenant: label(tenant), result }, count);
    },
  });
  return (tenant, result) => {
    const results = counts.get(tenant) ?? new Map<string, number>();
    counts.set(tenant, results.set(result, (results.get(result) ?? 0) + 1));
  };
}
