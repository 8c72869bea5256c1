import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApprovalList, ApprovalView, AutomationPolicy, AutomationPolicyView, ErrorBodySchema, LightsoutError } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';
import { targetTenant } from '../access/guards.js';
import { approvalView, decideApproval } from '../automation/approvals.js';
import { type CompiledPolicy, compilePolicy } from '../automation/policy.js';

declare module 'fastify' {
  interface FastifyInstance {
    automation: {
      /** The tenant's automation policy as stored (empty: the defaults), and compiled. */
      policyOf(tenant: string): Promise<{ policy: AutomationPolicy; compiled: CompiledPolicy }>;
    };
  }
}

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const secured = { tags: ['automation'], security: [{ bearer: [] }] };
const TenantQuery = Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 63 })) });
const ApprovalQuery = Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 63 })), status: Type.Optional(Type.String({ maxLength: 16 })) });
const ApprovalParams = Type.Object({ approvalId: Type.String({ maxLength: 64 }) });

/**
 * The automation policy of a tenant (what the MCP endpoint may do for its
 * callers, docs/automation.md) and the approvals it asks for. Tenant admins
 * manage their own tenant; provider admins any (`?tenant=`). People only:
 * an API token can neither loosen its own policy nor approve its own call.
 */
async function automationPlugin(app: FastifyInstance): Promise<void> {
  async function policyOf(tenant: string) {
    const row = await app.store.selectFrom('automation_policies').select('policy').where('tenant_id', '=', tenant).executeTakeFirst();
    const policy = row === undefined ? {} : (JSON.parse(row.policy) as AutomationPolicy);
    return { policy, compiled: compilePolicy(policy) };
  }
  app.decorate('automation', { policyOf });

  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get('/v1/automation/policy', { config: { permission: 'automation.manage' }, schema: { ...secured, querystring: TenantQuery, response: { 200: AutomationPolicyView, ...errors } } }, async (request) => {
    const tenant = targetTenant(request.principal!, request.query.tenant);
    const row = await app.store.selectFrom('automation_policies').selectAll().where('tenant_id', '=', tenant).executeTakeFirst();
    return { tenant, policy: row === undefined ? {} : (JSON.parse(row.policy) as AutomationPolicy), updatedAt: row ? new Date(row.updated_at).toISOString() : null, updatedBy: row?.updated_by ?? null };
  });

  api.put('/v1/automation/policy', { config: { permission: 'automation.manage' }, schema: { ...secured, querystring: TenantQuery, body: AutomationPolicy, response: { 200: AutomationPolicyView, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const tenant = targetTenant(principal, request.query.tenant);
    const policy = request.body;
    compilePolicy(policy); // VALIDATION_FAILED names a pattern that is not a regular expression
    const known = await app.store.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst();
    if (known === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${tenant}`);
    const now = Date.now();
    const values = { policy: JSON.stringify(policy), updated_at: now, updated_by: principal.username };
    await app.store.insertInto('automation_policies').values({ tenant_id: tenant, ...values }).onConflict((conflict) => conflict.column('tenant_id').doUpdateSet(values)).execute();
    await app.audit.fromRequest(request, { action: 'automation.policy.set', outcome: 'success', subject: principal.subject, tenant, target: `tenant:${tenant}`, details: { policy } });
    return { tenant, policy, updatedAt: new Date(now).toISOString(), updatedBy: principal.username };
  });

  api.get('/v1/automation/approvals', { config: { permission: 'automation.approve' }, schema: { ...secured, querystring: ApprovalQuery, response: { 200: ApprovalList, ...errors } } }, async (request) => {
    const { query } = request;
    const tenant = targetTenant(request.principal!, query.tenant);
    const rows = await app.store.selectFrom('automation_approvals').selectAll().where('tenant_id', '=', tenant).orderBy('created_at', 'desc').limit(500).execute();
    const views = rows.map((row) => approvalView(row));
    return { approvals: query.status === undefined ? views : views.filter((view) => view.status === query.status) };
  });

  for (const [verb, decision] of [['approve', 'approved'], ['deny', 'denied']] as const) {
    api.post(`/v1/automation/approvals/:approvalId/${verb}`, { config: { permission: 'automation.approve' }, schema: { ...secured, params: ApprovalParams, querystring: TenantQuery, response: { 200: ApprovalView, ...errors } } }, async (request) => {
      const principal = request.principal!;
      const tenant = targetTenant(principal, request.query.tenant);
      const { approvalId } = request.params;
      const view = await decideApproval(app.store, principal, tenant, approvalId, decision);
      await app.audit.fromRequest(request, { action: `automation.${verb}`, outcome: 'success', subject: principal.subject, tenant, target: `approval:${approvalId}`, details: { tool: view.tool, serverId: view.serverId, requestedBy: view.requestedBy } });
      return view;
    });
  }
}

export default fp(automationPlugin, { name: 'lightsout-automation' });
