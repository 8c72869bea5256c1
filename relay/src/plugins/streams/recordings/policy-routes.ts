import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { RecordingPolicyView, RecordingRules } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { targetTenant } from '../../../access/guards.js';
import { iso, tagged, tenancyErrors } from '../../../tenancy/route-schemas.js';
import type { RecordingPolicy } from './policy.js';
import type { StoredRecordingPolicies } from './stored-policies.js';

const TenantParams = Type.Object({ tenantId: Type.String({ maxLength: 63 }) });

/**
 * `GET|PUT /v1/tenants/:tenantId/recording-policy`: a tenant's admins (and
 * provider admins) read and set which of its consoles are recorded and how
 * long recordings are kept (audited). A tenant admin of another tenant is
 * refused (FORBIDDEN), before anything is read.
 */
export function registerRecordingPolicyRoutes(app: FastifyInstance, stored: StoredRecordingPolicies, policy: RecordingPolicy): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const viewOf = (tenant: string): RecordingPolicyView => {
    const own = stored.storedOf(tenant);
    return {
      tenant,
      policy: own?.rules ?? {},
      effective: { sol: policy.records(tenant, 'sol'), serial: policy.records(tenant, 'serial'), vnc: policy.records(tenant, 'vnc'), retentionDays: policy.retentionDays(tenant) ?? null },
      updatedAt: own ? iso(own.updatedAt) : null,
      updatedBy: own?.updatedBy ?? null,
    };
  };
  const schema = { ...tagged('tenants'), params: TenantParams, response: { 200: RecordingPolicyView, ...tenancyErrors } };

  api.get('/v1/tenants/:tenantId/recording-policy', { config: { permission: 'recordings.policy' }, schema }, async (request) => {
    const tenant = targetTenant(request.principal!, request.params.tenantId);
    // Another replica's change whose notice is still on its way: the answer is what the store holds now.
    await stored.reloadTenant(tenant);
    return viewOf(tenant);
  });

  api.put('/v1/tenants/:tenantId/recording-policy', { config: { permission: 'recordings.policy' }, schema: { ...schema, body: RecordingRules } }, async (request) => {
    const principal = request.principal!;
    const tenant = targetTenant(principal, request.params.tenantId);
    const before = stored.storedOf(tenant)?.rules ?? null;
    await stored.set(tenant, request.body, principal.username);
    if (app.hasDecorator('audit')) {
      await app.audit.fromRequest(request, { action: 'recording.policy.set', outcome: 'success', subject: principal.subject, tenant, target: `tenant:${tenant}`, details: { policy: request.body, before } });
    }
    return viewOf(tenant);
  });
}
