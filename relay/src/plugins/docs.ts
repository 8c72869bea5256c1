import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { declarePublicRoutes } from './access.js';

/** OpenAPI generated from the route schemas; UI at /docs, JSON at /docs/json. */
async function docsPlugin(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: 'Lightsout relay API', version: '0.1.0', description: 'Secure multi-tenant remote access to server BMCs.' },
      servers: [{ url: app.config.publicUrl }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });
  // The document and its UI are public (they describe the API, not tenant data).
  await app.register(async (scope) => {
    declarePublicRoutes(scope);
    await scope.register(swaggerUi, { routePrefix: '/docs' });
  });
}

export default fp(docsPlugin, { name: 'lightsout-docs', dependencies: ['lightsout-config'] });
