import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AdoptRequest, AdoptResult, DiscoveredList, isSlug, LightsoutError, ScanRequest, ScanStarted } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { findDiscovered, listDiscovered } from '../discovery/views.js';
import { tagged, tenancyErrors } from '../tenancy/route-schemas.js';

/** An adopted server lands in this rack unless the admin names one. */
const DEFAULT_RACK = 'discovered';

/**
 * Discovery (docs/operations.md): what agents found in the ranges their
 * configs name, before anyone adopted it; a scan on demand; adoption. Only
 * provider admins: a datacenter's OOB network carries several tenants'
 * BMCs, so a scan's findings belong to no tenant yet, and naming the tenant
 * a BMC joins is the provider's act (like `PUT /v1/servers/:id/tenant`).
 * Adoption sends the agent a credentials *reference*; the secret never
 * leaves the agent.
 */
export default async function discoveryPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/v1/discovered',
    {
      config: { permission: 'discovery.read' },
      schema: { ...tagged('discovery'), querystring: Type.Object({ agent: Type.Optional(Type.String({ maxLength: 128 })), adopted: Type.Optional(Type.Boolean()) }), response: { 200: DiscoveredList, ...tenancyErrors } },
    },
    async (request) => {
      const { agent, adopted } = request.query;
      return { discovered: await listDiscovered(app.store, { ...(agent === undefined ? {} : { agentId: await agentIdOf(app, agent) }), ...(adopted === undefined ? {} : { adopted }) }) };
    },
  );

  api.post('/v1/discovered/scan', { config: { permission: 'discovery.scan' }, schema: { ...tagged('discovery'), body: ScanRequest, response: { 202: ScanStarted, ...tenancyErrors } } }, async (request, reply) => {
    const principal = request.principal!;
    const agentId = await agentIdOf(app, request.body.agentId);
    const { scanId, started } = await app.agentRouter.request(agentId, 'discovery.scan', {});
    await app.audit.fromRequest(request, { action: 'discovery.scan', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `agent:${agentId}`, details: { scanId, started } });
    return reply.status(202).send({ agentId, scanId });
  });

  api.post('/v1/discovered/adopt', { config: { permission: 'discovery.adopt' }, schema: { ...tagged('discovery'), body: AdoptRequest, response: { 201: AdoptResult, ...tenancyErrors } } }, async (request, reply) => {
    const principal = request.principal!;
    const { body } = request;
    let where: { id: string } | { agentId: string; address: string };
    if (body.id !== undefined) where = { id: body.id };
    else if (body.address !== undefined && body.agentId !== undefined) where = { agentId: await agentIdOf(app, body.agentId), address: body.address };
    else throw new LightsoutError('VALIDATION_FAILED', 'name the discovered BMC by id, or by agentId and address');
    const found = await findDiscovered(app.store, where);
    if (found === undefined) throw new LightsoutError('NOT_FOUND', 'no such discovered BMC', { hint: 'lightsout discovered list shows what the agents found' });
    if (found.adoptedServerId !== undefined) throw new LightsoutError('CONFLICT', `${found.address} was adopted as ${found.adoptedServerId}`);
    const serverId = body.serverId ?? body.name.toLowerCase();
    if (!isSlug(serverId)) throw new LightsoutError('VALIDATION_FAILED', `the name ${JSON.stringify(body.name)} cannot be a server id: give --id (lower-case letters, digits and dashes)`);
    if ((await app.store.selectFrom('servers').select('id').where('id', '=', serverId).executeTakeFirst()) !== undefined) throw new LightsoutError('CONFLICT', `a server ${serverId} exists already`);
    if ((await app.store.selectFrom('tenants').select('id').where('id', '=', body.tenant).executeTakeFirst()) === undefined) throw new LightsoutError('NOT_FOUND', `no tenant ${body.tenant}`);
    const binding = await app.store.selectFrom('agents').select('tenants').where('id', '=', found.agentId).executeTakeFirst();
    const tenants = binding?.tenants === null || binding?.tenants === undefined ? [] : (JSON.parse(binding.tenants) as string[]);
    // The agent's inventory would be refused for a tenant it is not bound to: say so before the agent persists anything.
    if (!tenants.includes(body.tenant)) throw new LightsoutError('FORBIDDEN', `agent ${found.agentName} may register servers into ${tenants.length === 0 ? 'no tenant yet' : tenants.join(', ')}, not ${body.tenant}`, { hint: `lightsout agents tenants ${found.agentId} --tenant ${body.tenant}` });
    const params = { address: found.address, serverId, name: body.name, tenant: body.tenant, rack: body.rack ?? DEFAULT_RACK, credentials: body.credentials };
    const audit = { subject: principal.subject, tenant: body.tenant, target: `server:${serverId}`, details: { agentId: found.agentId, address: found.address, credentials: body.credentials, uuid: found.uuid ?? found.guid ?? null } };
    try {
      const result = await app.agentRouter.request(found.agentId, 'discovery.adopt', params);
      await app.store.updateTable('discovered_bmcs').set({ adopted_server_id: result.serverId }).where('id', '=', found.id).execute();
      await app.audit.fromRequest(request, { action: 'discovery.adopt', outcome: 'success', ...audit });
      return reply.status(201).send({ serverId: result.serverId, agentId: found.agentId, address: result.address });
    } catch (error) {
      await app.audit.fromRequest(request, { action: 'discovery.adopt', outcome: 'failure', ...audit, details: { ...audit.details, code: error instanceof LightsoutError ? error.code : 'INTERNAL' } });
      throw error;
    }
  });
}

/** An agent by id or by name (the CLI takes either); NOT_FOUND otherwise. */
async function agentIdOf(app: FastifyInstance, agent: string): Promise<string> {
  const row = await app.store.selectFrom('agents').select('id').where((where) => where.or([where('id', '=', agent), where('name', '=', agent)])).executeTakeFirst();
  if (row === undefined) throw new LightsoutError('NOT_FOUND', `no agent ${agent}`);
  return row.id;
}
