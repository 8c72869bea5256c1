import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AuditPage, AuditQuery, ErrorBodySchema, LightsoutError } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import { can } from '../access/permissions.js';
import { actorNames, readAudit, targetNames } from '../audit/chain.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema };
const secured = { tags: ['audit'], security: [{ bearer: [] }] };
const EXPORT_PAGE = 1000;

/**
 * `GET /v1/audit` (pages, oldest or newest first, narrowed by who acted, the
 * server, the action and the time; each record names its actor) and
 * `GET /v1/audit/export` (JSON lines for a SIEM). Tenant admins see only their tenant's records — whose links then
 * point at records they cannot see, so only each record's own hash is
 * checkable; provider admins see the whole chain and can verify every link.
 */
export default async function auditRoutesPlugin(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get('/v1/audit', { config: { permission: 'audit.read' }, schema: { ...secured, querystring: AuditQuery, response: { 200: AuditPage, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const { query } = request;
    const limit = query.limit ?? 100;
    const tenant = can(principal.role, 'audit.read-all') ? undefined : principal.tenant;
    const descending = query.order === 'desc';
    if (descending ? query.after !== undefined : query.before !== undefined) {
      throw new LightsoutError('VALIDATION_FAILED', descending ? 'newest first pages back with before, not after' : 'oldest first pages on with after, not before');
    }
    // A username is every account of that name the caller may see (tenants each have their own namespace).
    let subjects: string[] | undefined;
    if (query.user !== undefined) {
      let users = app.store.selectFrom('users').select('id').where('username', '=', query.user);
      if (tenant !== undefined) users = users.where('tenant_id', '=', tenant);
      subjects = (await users.execute()).map((row) => row.id);
    }
    const records = await readAudit(app.store, {
      limit,
      order: descending ? 'desc' : 'asc',
      ...(query.after === undefined ? {} : { after: query.after }),
      ...(query.before === undefined ? {} : { before: query.before }),
      ...(tenant === undefined ? {} : { tenant }),
      ...(subjects === undefined ? {} : { subjects }),
      ...(query.server === undefined ? {} : { target: `server:${query.server}` }),
      ...(query.action === undefined ? {} : { action: query.action }),
      ...(query.since === undefined ? {} : { since: query.since }),
      ...(query.until === undefined ? {} : { until: query.until }),
    });
    const [actors, targets] = await Promise.all([actorNames(app.store, records.map((record) => record.subject)), targetNames(app.store, records.map((record) => record.target))]);
    const named = records.map((record) => ({ ...record, actor: record.subject === null ? null : (actors.get(record.subject) ?? null), targetName: record.target === null ? null : (targets.get(record.target) ?? null) }));
    return { records: named, next: records.length === limit ? records.at(-1)!.seq : null };
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
