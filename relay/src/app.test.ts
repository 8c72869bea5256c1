import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-app-'));
const silent = { write: () => true };
let app: FastifyInstance;

beforeAll(async () => {
  app = await buildApp({ config: { dataDir: join(directory, 'data'), webRoot: join(directory, 'no-web'), logLevel: 'silent', metrics: { port: 0 } }, logDestination: silent });
  app.get('/test/boom', { config: { permission: 'public' } }, async () => {
    throw new Error('database password is hunter2');
  });
});
afterAll(async () => {
  await app.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('relay app skeleton', () => {
  it('answers /healthz and /readyz once the store is migrated', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
  });

  it('exposes Prometheus metrics including the request histogram on their own loopback listener, never on the API', async () => {
    await app.inject('/healthz');
    expect((await app.inject('/metrics')).statusCode).toBe(404);
    const address = app.metrics.address();
    expect(address).toMatchObject({ address: '127.0.0.1', port: expect.any(Number) });
    const metrics = await fetch(`http://127.0.0.1:${address!.port}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain('lightsout_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz",status_code="200"}');
    expect(text).toMatch(/^lightsout_agents_connected\{gateway="127\.0\.0\.1:\d+"\} 0$/m);
    expect((await fetch(`http://127.0.0.1:${address!.port}/v1/me`)).status).toBe(404);
  });

  it('docs/operations.md lists every relay metric; the Grafana dashboard parses and names only metrics the relay or agent registers', async () => {
    const docs = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana/lightsout.json', import.meta.url), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    // Registered only with identity.external (plugins/identity.ts).
    const withExternalIssuer = ['lightsout_issuer_reachable', 'lightsout_issuer_refresh_failures_total', 'lightsout_issuer_keys_age_seconds'];
    const registered = [...(await app.metrics.registry.getMetricsAsJSON()).map((metric) => metric.name).filter((name) => name.startsWith('lightsout_')), ...withExternalIssuer];
    expect(registered).toEqual(expect.arrayContaining(['lightsout_console_sessions_open', 'lightsout_stream_bytes_total', 'lightsout_upload_bytes_total', 'lightsout_tenant_servers', 'lightsout_tenant_console_sessions_open', 'lightsout_tenant_bmc_operations_total']));
    for (const name of registered) expect(docs, `${name} in docs/operations.md`).toContain(`| \`${name}\` |`);
    // lightsout_agent_* are the agent's (agent/src/metrics/agent-metrics.test.ts checks those).
    const used = new Set(dashboard.panels.flatMap((panel) => panel.targets ?? []).flatMap((target) => target.expr.match(/lightsout_[a-z_]+/g) ?? []).map((name) => name.replace(/_(bucket|count|sum)$/, '')));
    const relayUsed = [...used].filter((name) => !name.startsWith('lightsout_agent_'));
    expect(relayUsed).toEqual(expect.arrayContaining(['lightsout_agents_connected', 'lightsout_console_sessions_open', 'lightsout_tenant_bmc_operations_total']));
    for (const name of relayUsed) expect(registered, `${name} (dashboard) is a relay metric`).toContain(name);
  });

  it('serves no metrics at all unless metrics.port is set', async () => {
    const quiet = await buildApp({ config: { dataDir: join(directory, 'data-quiet'), webRoot: join(directory, 'no-web'), logLevel: 'silent' }, logDestination: silent });
    try {
      await quiet.ready();
      expect(quiet.metrics.address()).toBeUndefined();
      expect((await quiet.inject('/metrics')).statusCode).toBe(404);
    } finally {
      await quiet.close();
    }
  });

  it('serves the OpenAPI document', async () => {
    const document = (await app.inject('/docs/json')).json();
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/healthz', '/v1/servers', '/v1/servers/{id}/power', '/v1/agents/enroll', '/v1/me', '/v1/client-config']));
    expect(document.paths['/v1/agents/enroll'].post.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['joinToken', 'publicKey']));
    // A server's detail names the agent and gateway carrying it; the list does not.
    const detail = document.paths['/v1/servers/{id}'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(detail.properties.connection.properties)).toEqual(['agent', 'gateway']);
    expect(detail.properties.connection.properties.gateway.required).toEqual(['url', 'region']);
    expect(document.paths['/v1/servers'].get.responses['200'].content['application/json'].schema.properties.servers.items.properties).not.toHaveProperty('connection');
  });

  it('answers unknown routes with a NOT_FOUND error body', async () => {
    const response = await app.inject('/v1/nothing-here');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers an unexpected failure with INTERNAL and no internals', async () => {
    const response = await app.inject('/test/boom');
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ code: 'INTERNAL', message: 'internal error' });
    expect(response.body).not.toContain('hunter2');
  });

  it('answers schema violations with VALIDATION_FAILED', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/agents/enroll', payload: { joinToken: 'short' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('answers unparseable JSON with BAD_REQUEST and a status that agrees with the code', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/agents/enroll', headers: { 'content-type': 'application/json' }, payload: '{"joinToken":' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('says the web console is not built when there is no index.html', async () => {
    const response = await app.inject('/');
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('web console is not built');
  });
});

describe('web console', () => {
  it('serves the built console with an SPA fallback, never for API paths', async () => {
    const webRoot = join(directory, 'web');
    mkdirSync(join(webRoot, 'assets'), { recursive: true });
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log(1)');
    const webApp = await buildApp({ config: { dataDir: join(directory, 'data-web'), webRoot, logLevel: 'silent' }, logDestination: silent });
    try {
      expect((await webApp.inject('/')).body).toContain('<title>console</title>');
      expect((await webApp.inject('/assets/app.js')).body).toBe('console.log(1)');
      const deepLink = await webApp.inject('/servers/web-01');
      expect(deepLink.statusCode).toBe(200);
      expect(deepLink.body).toContain('<title>console</title>');
      const api = await webApp.inject('/v1/unknown');
      expect(api.statusCode).toBe(404);
      expect(api.json()).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await webApp.close();
    }
  });
});
