import { Gauge, type Registry } from 'prom-client';
import type { Store } from '../store/open.js';

/** Tenants with series of their own, the largest first; the rest are summed as tenant="other". */
export const MAX_TENANT_SERIES = 50;

/**
 * `lightsout_servers{tenant, power}`, read from the store at scrape time: a
 * provider sees each tenant's fleet and how much of it is on, off or
 * unknown. The tenant label is bounded (MAX_TENANT_SERIES), so a provider
 * with thousands of small tenants still has a fixed number of series.
 */
export function registerServerMetrics(registry: Registry, store: Store, maxTenants = MAX_TENANT_SERIES): void {
  new Gauge({
    name: 'lightsout_servers',
    help: `Servers registered by agents, by tenant (the ${maxTenants} largest; the rest as "other") and power state`,
    labelNames: ['tenant', 'power'],
    registers: [registry],
    async collect() {
      const rows = await store
        .selectFrom('servers')
        .select((builder) => ['tenant_id', 'power', builder.fn.countAll<number>().as('count')])
        .groupBy(['tenant_id', 'power'])
        .execute();
      const sizes = new Map<string, number>();
      for (const row of rows) sizes.set(row.tenant_id, (sizes.get(row.tenant_id) ?? 0) + Number(row.count));
      const named = new Set([...sizes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, maxTenants).map(([tenant]) => tenant));
      this.reset();
      for (const row of rows) this.inc({ tenant: named.has(row.tenant_id) ? row.tenant_id : 'other', power: row.power }, Number(row.count));
    },
  });
}
