import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { type RunningRelay, startRelay } from '../testing/index.js';
import { expectationFor } from '../testing/isolation-expectations.js';
import { PERMISSIONS } from './permissions.js';
import { CREDENTIAL_MODES, leastPermission } from './route-permission.js';

/**
 * Every route Fastify registered declares who may call it, and the isolation
 * matrix has an expectation for it: adding a route without either fails here.
 */
let relay: RunningRelay;
beforeAll(async () => {
  relay = await startRelay();
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

describe('route permissions', () => {
  it('every registered route declares a permission the table knows, or a credential mode', () => {
    const known = new Set<string>([...Object.keys(PERMISSIONS), ...CREDENTIAL_MODES]);
    const undeclared = relay.app.routeTable.filter((route) => route.permission === undefined).map((route) => `${route.methods.join(',')} ${route.url}`);
    expect(undeclared).toEqual([]);
    const unknown = relay.app.routeTable.filter((route) => !known.has(leastPermission(route.permission!))).map((route) => route.url);
    expect(unknown).toEqual([]);
    expect(relay.app.routeTable.length).toBeGreaterThan(50);
  });

  it('the isolation matrix has an expectation for every route, and agrees on which take no user token', () => {
    const missing: string[] = [];
    const disagreeing: string[] = [];
    const getUrls = new Set(relay.app.routeTable.filter((route) => route.methods.includes('GET')).map((route) => route.url));
    for (const route of relay.app.routeTable) {
      const declared = leastPermission(route.permission!);
      for (const method of route.methods) {
        // Fastify's HEAD twin of a GET answers like the GET (the matrix walks the GET).
        const expectation = expectationFor(method === 'HEAD' && getUrls.has(route.url) ? 'GET' : method, route.url);
        if (expectation === undefined) missing.push(`${method} ${route.url}`);
        // A public route is walked for leaks only; a credential route must refuse every user token (401).
        const matrixSaysUser = expectation === 'foreign-rule' || expectation === 'server-route';
        // RPC procedures take users' and API tokens like any route; they only answer refusals in their own protocol.
        const declaredUser = declared === 'rpc' || !(CREDENTIAL_MODES as readonly string[]).includes(declared);
        if (expectation !== undefined && matrixSaysUser !== declaredUser) disagreeing.push(`${method} ${route.url}: declared ${declared}, matrix ${expectation}`);
        if (expectation === 'public' && declared !== 'public') disagreeing.push(`${method} ${route.url}: matrix treats it as public, declared ${declared}`);
      }
    }
    expect(missing).toEqual([]);
    expect(disagreeing).toEqual([]);
  });
});

describe('a route that declares nothing', () => {
  it('is refused to everyone, and the route table shows it undeclared', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lightsout-route-permissions-'));
    const app = await buildApp({ config: { dataDir, webRoot: join(dataDir, 'no-web-console'), logLevel: 'warn' }, logDestination: { write: () => true }, demoPassword: 'route-permissions-test' });
    try {
      app.get('/v1/forgotten', async () => ({ secret: 'should never be served' }));
      await app.ready();
      const anonymous = await app.inject({ method: 'GET', url: '/v1/forgotten' });
      expect(anonymous.statusCode).toBe(403);
      expect(anonymous.json()).toMatchObject({ code: 'FORBIDDEN' });
      expect(app.routeTable.find((route) => route.url === '/v1/forgotten')?.permission).toBeUndefined();
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
