import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AuditPage, AuditQuery, ErrorBodySchema } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { can } from '../access/permissions.js';
import { readAudit } from '../audit/chain.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema };
const secured = { tags: ['audit'], security: [{ bearer: [] }] };
const EXPORT_PAGE = 1000;

/**
 * `GET /v1/audit` (pages) and `GET /v1/audit/export` (JSON lines for a
 * SIEM). Tenant admins see only their tenant's records — whose links then
 * point at records they cannot see, so only each record's own hash is
 * checkable; provider admins see the whole chain and can verify every link.
 */
export default async function auditRoutesPlugin(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get('/v1/audit', { config: { permission: 'audit.read' }, schema: { ...secured, querystring: AuditQuery, response: { 200: AuditPage, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const { query } = request;
    const limit = query.limit ?? 100;
    const records = await readAudit(app.store, { ...(query.after === undefined ? {} : { after: query.after }), limit, ...(can(principal.role, 'audit.read-all') ? {} : { tenant: principal.tenant }) });
    return { records, next: records.length === limit ? records.at(-1)!.seq : null };
  });

  app.get('/v1/audit/export', { config: { permission: 'audit.read' }, schema: { ...secured, response: errors } }, async (request, reply) => {
    const principal = request.principal!;
    const tenant = can(principal.role, 'audit.read-all') ? undefined : principal.tenant;
    await app.audit.fromRequest(request, { action: 'audit.export', outcome: 'success', subject: principal.subject, tenant: principal.tenant, details: { scope: tenant ?? 'all' } });
    reply.header('x-lightsout-audit-scope', tenant === undefined ? 'all' : `tenant:${tenant}`).header('content-type', 'application/x-ndjson; charset=utf-8').header('content-disposition', 'attachment; filename="lightsout-audit.jsonl"');
    // Paged from the store as the client reads: memory stays flat however long the log is.
    async function* lines(): AsyncGenerator<string> {
      let after: number | undefined;
      for (let page = 0; page < 1_000_000; page += 1) {
        const records = await readAudit(app.store, { ...(after === undefined ? {} : { after }), limit: EXPORT_PAGE, ...(tenant === undefined ? {} : { tenant }) });
        if (records.length > 0) yield `${records.map((record) => JSON.stringify(record)).join('\n')}\n`;
        if (records.length < EXPORT_PAGE) return;
        after = records.at(-1)!.seq;
      }
    }
    return reply.send(Readable.from(lines()));
  });
}
