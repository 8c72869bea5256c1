import { Gauge, type Registry } from 'prom-client';
import type { TenantLabels } from '../../inventory/metrics.js';
import type { StreamGateway } from './gateway.js';

const KINDS = ['sol', 'serial', 'vnc'] as const;

/**
 * Console sessions with a live leg on this replica, read from the gateway
 * at scrape time:
 *   `lightsout_console_sessions_open{gateway, kind}` (every kind present, 0 included);
 *   `lightsout_tenant_console_sessions_open{gateway, tenant}` (tenants as TenantLabels names them;
 *   without it, as in a plugin test chain, every tenant is "other").
 * A session whose client is between legs (resuming) is not counted: it has
 * no leg here until the client is back.
 */
export function registerSessionMetrics(registry: Registry, gateway: string, streams: StreamGateway, tenantLabels: TenantLabels | undefined): void {
  new Gauge({
    name: 'lightsout_console_sessions_open',
    help: 'Console sessions with a live leg on this replica, by kind',
    labelNames: ['gateway', 'kind'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(KINDS.map((kind) => [kind, 0]));
      for (const { kind } of streams.liveSessions()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
      for (const [kind, count] of counts) this.set({ gateway, kind }, count);
    },
  });
  new Gauge({
    name: 'lightsout_tenant_console_sessions_open',
    help: `Console sessions with a live leg on this replica, by tenant (the ${tenantLabels?.max ?? 0} largest; the rest as "other")`,
    labelNames: ['gateway', 'tenant'],
    registers: [registry],
    async collect() {
      const label = tenantLabels === undefined ? () => 'other' : await tenantLabels.labeller();
      const counts = new Map<string, number>();
      for (const { tenant } of streams.liveSessions()) counts.set(label(tenant), (counts.get(label(tenant)) ?? 0) + 1);
      this.reset();
      for (const [tenant, count] of counts) this.set({ gateway, tenant }, count);
    },
  });
}
