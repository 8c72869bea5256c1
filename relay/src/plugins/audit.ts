import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type AuditLog, createAuditLog } from '../audit/audit.js';

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditLog;
  }
}

async function auditPlugin(app: FastifyInstance): Promise<void> {
  app.decorate('audit', createAuditLog(app.store, app.log, { driver: app.config.store.driver }));
}

export default fp(auditPlugin, { name: 'lightsout-audit', dependencies: ['lightsout-store'] });
