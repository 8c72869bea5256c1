import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { LightsoutError } from '@lightsout/shared';
import { pingStore } from '../store/open.js';

const Health = Type.Object({ status: Type.Literal('ok') });

/** `/healthz`: the process answers. `/readyz`: it can also reach its store and (external mode) knows the issuer's keys. */
export default async function healthPlugin(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { config: { permission: 'public' }, schema: { tags: ['health'], response: { 200: Health } } }, async () => ({ status: 'ok' as const }));
  app.get('/readyz', { config: { permission: 'public' }, schema: { tags: ['health'] } }, async (request, reply) => {
    try {
      await pingStore(app.store);
    } catch (cause) {
      request.log.error({ err: cause }, 'store unreachable');
      // 503, not 500: a load balancer should route around us, nothing is broken in the request.
      return reply.status(503).send(new LightsoutError('INTERNAL', 'store unreachable').toBody());
    }
    const issuer = app.identity.issuerKeys?.status();
    if (issuer === undefined) return { status: 'ok' as const };
    // Without keys no token can be checked: route around us. With keys, an
    // unreachable issuer is reported but not fatal (tokens still verify).
    if (!issuer.keysKnown) {
      return reply.status(503).send(new LightsoutError('ISSUER_UNAVAILABLE', `the identity provider has not answered yet: ${issuer.lastFailure ?? 'no attempt finished'}`).toBody());
    }
    return {
      status: 'ok' as const,
      issuer: { reachable: issuer.reachable, ...(issuer.lastSuccessAt === undefined ? {} : { lastSuccessAt: new Date(issuer.lastSuccessAt).toISOString() }), ...(issuer.lastFailure === undefined ? {} : { lastFailure: issuer.lastFailure }) },
    };
  });
}
