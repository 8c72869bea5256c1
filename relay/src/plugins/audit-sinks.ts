import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge } from 'prom-client';
import { AuditForwarder } from '../audit/siem/forwarder.js';
import { HttpsTransport } from '../audit/siem/https-transport.js';
import { SyslogTransport } from '../audit/siem/syslog-transport.js';
import type { SinkTransport } from '../audit/siem/transport.js';

type SinkConfig = FastifyInstance['config']['audit']['sinks'][number];

declare module 'fastify' {
  interface FastifyInstance {
    auditSinks: ReadonlyMap<string, AuditForwarder>;
  }
}

function transportFor(sink: SinkConfig, procId: string): SinkTransport {
  if (sink.type === 'https') return new HttpsTransport(sink);
  return new SyslogTransport(sink, { hostname: hostname(), appName: sink.appName, procId, facility: sink.facility, sdId: sink.sdId });
}

/**
 * Streams the audit chain to the SIEM sinks in config `audit.sinks`
 * (syslog over TCP/TLS, JSON lines over HTTPS), at least once, from a cursor
 * in the store. Every replica runs a forwarder per sink; a lease in the store
 * lets one of them send at a time, and another takes over when it stops.
 */
async function auditSinksPlugin(app: FastifyInstance): Promise<void> {
  const { sinks, batch, pollMs, leaseMs, maxBackoffMs } = app.config.audit;
  const names = new Set<string>();
  for (const sink of sinks) {
    if (names.has(sink.name)) throw new LightsoutError('CONFIG_INVALID', `audit.sinks: the name ${sink.name} is used twice`);
    names.add(sink.name);
  }
  const holder = app.cluster.replicas?.id ?? randomUUID();
  const forwarded = new Counter({ name: 'lightsout_audit_sink_forwarded_total', help: 'Audit records sent to a SIEM sink (a record sent again after a dropped connection counts again)', labelNames: ['sink'], registers: [app.metrics.registry] });
  const failures = new Counter({ name: 'lightsout_audit_sink_failures_total', help: 'Failed sends to a SIEM sink (each is retried with backoff)', labelNames: ['sink'], registers: [app.metrics.registry] });
  const lag = new Gauge({ name: 'lightsout_audit_sink_lag_records', help: 'Audit records not yet confirmed delivered to a SIEM sink, as last seen by the forwarding replica', labelNames: ['sink'], registers: [app.metrics.registry] });
  const observer = {
    forwarded: (sink: string, count: number) => forwarded.inc({ sink }, count),
    failed: (sink: string) => failures.inc({ sink }),
    lag: (sink: string, records: number) => lag.set({ sink }, records),
  };
  const forwarders = new Map<string, AuditForwarder>();
  for (const sink of sinks) {
    let transport: SinkTransport;
    try {
      transport = transportFor(sink, holder);
    } catch (error) {
      throw new LightsoutError('CONFIG_INVALID', `audit.sinks ${sink.name}: ${(error as Error).message}`);
    }
    const forwarder = new AuditForwarder(app.store, transport, { sink: sink.name, holder, batch, pollMs, leaseMs, maxBackoffMs, startAt: sink.startAt === 'end' ? 'end' : 'beginning' }, app.log, observer);
    forwarders.set(sink.name, forwarder);
  }
  app.decorate('auditSinks', forwarders);
  if (forwarders.size === 0) return;
  const unsubscribe = app.audit.onAppended(() => {
    for (const forwarder of forwarders.values()) forwarder.wake();
  });
  app.addHook('onReady', async () => {
    for (const forwarder of forwarders.values()) forwarder.start();
  });
  // Before the store closes (onClose runs in reverse registration order).
  app.addHook('onClose', async () => {
    unsubscribe();
    await Promise.all([...forwarders.values()].map((forwarder) => forwarder.close()));
  });
}

export default fp(auditSinksPlugin, { name: 'lightsout-audit-sinks', dependencies: ['lightsout-audit', 'lightsout-store', 'lightsout-metrics', 'lightsout-cluster'] });
