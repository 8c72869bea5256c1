import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { consolePolicy } from './security-headers.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-headers-'));
const silent = { write: () => true };
let app: FastifyInstance;
let httpsApp: FastifyInstance;

beforeAll(async () => {
  const webRoot = join(directory, 'web');
  mkdirSync(webRoot);
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><html><head><meta charset="UTF-8"></head><body></body></html>');
  app = await buildApp({ config: { dataDir: join(directory, 'data'), webRoot, logLevel: 'silent' }, logDestination: silent });
  httpsApp = await buildApp({ config: { dataDir: join(directory, 'data-https'), webRoot, logLevel: 'silent', publicUrl: 'https://relay.example', trustProxy: true }, logDestination: silent });
});
afterAll(async () => {
  await app.close();
  await httpsApp.close();
  rmSync(directory, { recursive: true, force: true });
});

const directives = (policy: string) => new Map(policy.split('; ').map((directive) => [directive.split(' ')[0]!, directive.split(' ').slice(1)]));

describe('security headers on every response', () => {
  // The console, a static asset's fallback, the API (success, refusal, unknown route), the OP (answered outside Fastify's reply) and its pages.
  const urls = ['/', '/servers/sim-01', '/healthz', '/v1/me', '/v1/nothing-here', '/oidc/.well-known/openid-configuration', '/docs/json'];

  it('forbids framing and sniffing, sends no referrer and isolates the browsing context', async () => {
    for (const url of urls) {
      const { headers } = await app.inject(url);
      expect({ url, csp: directives(String(headers['content-security-policy'])).get('frame-ancestors') }).toEqual({ url, csp: ["'none'"] });
      expect({ url, ...headers }).toMatchObject({ url, 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cross-origin-opener-policy': 'same-origin' });
      expect(headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('the console\'s policy: own origin only (embedded OP), no inline or evaluated script, no plugins, no foreign base', async () => {
    const policy = directives(String((await app.inject('/')).headers['content-security-policy']));
    expect(policy.get('default-src')).toEqual(["'none'"]);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('connect-src')).toEqual(["'self'"]);
    expect(policy.get('object-src')).toEqual(["'none'"]);
    expect(policy.get('base-uri')).toEqual(["'none'"]);
  });

  it('in a regional deployment the console may reach every replica: its origin and its WebSocket origin (an http: source matches no ws: socket)', () => {
    const policy = directives(consolePolicy(['https://idp.example'], ['http://127.0.0.1:8151', 'https://gw1.example.net:8443', 'https://gw1.example.net:8443/', 'not a url', 'ftp://gw2.example.net']));
    expect(policy.get('connect-src')).toEqual(["'self'", 'https://idp.example', 'http://127.0.0.1:8151', 'ws://127.0.0.1:8151', 'https://gw1.example.net:8443', 'wss://gw1.example.net:8443']);
  });

  it('the OP\'s own pages may redirect a form to a client\'s loopback redirect URI (no form-action)', async () => {
    const policy = directives(String((await app.inject('/oidc/.well-known/openid-configuration')).headers['content-security-policy']));
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.has('form-action')).toBe(false);
  });

  it('an interaction page keeps the OP pages\' directives; its forms may go to the relay and this sign-in\'s redirect URI origin, nowhere else', async () => {
    // The desktop app's request (RFC 8252 §7.3 loopback redirect), followed to /interaction/<uid> with the OP's cookies.
    const query = new URLSearchParams({ client_id: 'lightsout-web', response_type: 'code', redirect_uri: 'http://127.0.0.1:4444/callback', scope: 'openid', state: 'x', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const start = await app.inject(`/oidc/auth?${query}`);
    expect(start.statusCode).toBe(303);
    const location = String(start.headers['location']);
    expect(location).toMatch(/^\/interaction\/[^/]+$/);
    const page = await app.inject({ url: location, headers: { cookie: start.cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ') } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="password"');
    const policy = directives(String(page.headers['content-security-policy']));
    expect(policy.get('form-action')).toEqual(["'self'", 'http://127.0.0.1:4444']);
    const identityPages = directives(String((await app.inject('/oidc/.well-known/openid-configuration')).headers['content-security-policy']));
    expect(new Map([...policy].filter(([name]) => name !== 'form-action'))).toEqual(identityPages);
  });

  it('Strict-Transport-Security when the public URL is https', async () => {
    for (const url of ['/', '/healthz', '/oidc/.well-known/openid-configuration']) {
      expect((await httpsApp.inject({ url, headers: { 'x-forwarded-proto': 'https' } })).headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    }
  });
});
