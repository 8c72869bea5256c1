import { createContextValues } from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import type { FastifyInstance } from 'fastify';
import { codeConnectRefusals, withMediaTypeRefusalBody } from '../rpc/errors.js';
import { FASTIFY_REQUEST, registerRpcServices } from '../rpc/services.js';

/** Largest request message accepted, as the REST body limit. */
const READ_MAX_BYTES = 1024 * 1024;

/**
 * The RPC API (docs/automation.md, "RPC API"): the services of
 * shared/proto/lightsout/v1 over gRPC, gRPC-Web and Connect, served by
 * @connectrpc/connect-fastify on the relay's own port (HTTP/2 for gRPC
 * through rpc/h2c.ts, HTTP/1.1 for the others). Every procedure is a POST
 * route of its own (`/lightsout.v1.PowerService/SetPower`) in the route
 * table; it declares the `rpc` credential mode and authenticates itself
 * with the access hook's functions (rpc/services.ts), so its refusals
 * answer in the caller's protocol.
 */
export default async function rpcPlugin(app: FastifyInstance): Promise<void> {
  const closing = new AbortController();
  // Watches end before the listener closes, so the HTTP/2 sessions can end gracefully.
  app.addHook('preClose', async () => closing.abort());
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      // POST only: Connect's GET form (cacheable reads) is not offered, so every procedure has one method to walk and audit.
      route.method = 'POST';
      route.config = { ...route.config, permission: 'rpc' };
      route.schema = { ...route.schema, hide: true };
    });
    await scope.register(fastifyConnectPlugin, {
      routes: (router) => {
        registerRpcServices(app, router, { closing: closing.signal });
        // Read by the plugin once this returns: each procedure's handler, its 415 given a body.
        router.handlers.splice(0, router.handlers.length, ...router.handlers.map(withMediaTypeRefusalBody));
      },
      contextValues: (request) => createContextValues().set(FASTIFY_REQUEST, request),
      // Connect's own refusals (undecodable body …) get the stable code too.
      requestGate: codeConnectRefusals,
      readMaxBytes: READ_MAX_BYTES,
      // No JSON field a client of a newer .proto sends may fail an older relay.
      jsonOptions: { ignoreUnknownFields: true },
    });
  });
}
