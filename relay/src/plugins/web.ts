import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { declarePublicRoutes } from './access.js';

/** Prefixes that belong to the API or the identity provider: never answered with the SPA. */
const API_PREFIXES = ['/v1/', '/oidc/', '/interaction/', '/docs', '/metrics', '/healthz', '/readyz'];

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lightsout relay</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .3em}</style>
</head><body><h1>Lightsout relay</h1>
<p>The relay is running, but the web console is not built.</p>
<p>Build it with <code>npm run build:web -w desktop</code>, or use the CLI: <code>lightsout login</code>.</p>
<p>API documentation: <a href="/docs">/docs</a>.</p></body></html>`;

/** The web console (desktop/out/web) at `/`, with an SPA fallback to index.html. */
export default async function webPlugin(app: FastifyInstance): Promise<void> {
  // Static files of the console: public (it signs in through the OpenID Provider on its own).
  declarePublicRoutes(app);
  const { role, deploymentUrl, publicUrl } = app.config;
  if (role === 'gateway' && deploymentUrl !== publicUrl) {
    sendPagesToDeployment(app, deploymentUrl);
    return;
  }
  const root = app.config.webRoot;
  const built = existsSync(join(root, 'index.html'));
  if (!built) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(NOT_BUILT_PAGE));
    return;
  }
  await app.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: ['index.html'] });
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (API_PREFIXES.some((prefix) => path.startsWith(prefix))) {
      return reply.status(404).send({ code: 'NOT_FOUND', message: `no route GET ${path}` });
    }
    // Files that exist were registered as routes by @fastify/static (wildcard: false), so
    // anything reaching here is a client-side route of the SPA.
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  });
}

/**
 * A gateway's address is for consoles and uploads, not for people: a console
 * loaded from it would sign in with a redirect URI the issuer does not know
 * and call an API whose managers are elsewhere. A page asked of a gateway is
 * sent to the same path at the deployment URL, where the console lives.
 */
function sendPagesToDeployment(app: FastifyInstance, deploymentUrl: string): void {
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (API_PREFIXES.some((prefix) => path.startsWith(prefix))) {
      return reply.status(404).send({ code: 'NOT_FOUND', message: `no route GET ${path}` });
    }
    return reply.redirect(`${deploymentUrl}${request.url}`, 302);
  });
}
