import { describe, expect, it } from 'vitest';
import { cookieValue, newWebSessionId, originOf, sessionOfHost } from './origin.js';
import { WEB_COOKIE, cookieForBrowser, requestHeadersForBmc, responseHeadersForBrowser, withoutWebCookie } from './rewrite.js';

const origins = { session: 'https://abcdefghijklmnopqrstuv.bmc.example.net', bmc: 'https://10.0.0.5' };
const served = { scheme: 'https' as const, domain: 'bmc.example.net', port: 443 };

describe('web session origins', () => {
  it('are DNS labels that survive a browser lower-casing the host', () => {
    for (let index = 0; index < 50; index++) {
      const id = newWebSessionId();
      expect(id).toMatch(/^[a-z2-7]{22}$/);
      expect(sessionOfHost(`${id}.BMC.example.NET`, served)).toBe(id);
    }
  });

  it('name the port only when it is not the scheme\'s', () => {
    expect(originOf(served, 'abcdefghijklmnopqrstuv')).toBe('https://abcdefghijklmnopqrstuv.bmc.example.net');
    expect(originOf({ scheme: 'http', domain: 'localhost', port: 8444 }, 'abcdefghijklmnopqrstuv')).toBe('http://abcdefghijklmnopqrstuv.localhost:8444');
  });

  it('answer no session for another name, another port, a deeper name or not one of our ids', () => {
    expect(sessionOfHost('abcdefghijklmnopqrstuv.bmc.example.net:443', served)).toBe('abcdefghijklmnopqrstuv');
    expect(sessionOfHost('abcdefghijklmnopqrstuv.bmc.example.net:8443', served)).toBeUndefined();
    expect(sessionOfHost('relay.example.net', served)).toBeUndefined();
    expect(sessionOfHost('bmc.example.net', served)).toBeUndefined();
    expect(sessionOfHost('x.abcdefghijklmnopqrstuv.bmc.example.net', served)).toBeUndefined();
    expect(sessionOfHost('abcdefghijklmnopqrstu1.bmc.example.net', served)).toBeUndefined();
    expect(sessionOfHost('abcdefghijklmnopqrstuv.bmc.example.net.evil.com', served)).toBeUndefined();
    expect(sessionOfHost(undefined, served)).toBeUndefined();
  });

  it('read one cookie of a Cookie header', () => {
    expect(cookieValue(`a=1; ${WEB_COOKIE}=tok.en; b=2`, WEB_COOKIE)).toBe('tok.en');
    expect(cookieValue('a=1', WEB_COOKIE)).toBeUndefined();
  });
});

describe('headers toward the BMC', () => {
  it('carry the BMC\'s Host, Origin and Referer, without our cookie or the browser\'s hop-by-hop and forwarding fields', () => {
    const out = requestHeadersForBmc(
      { host: 'abcdefghijklmnopqrstuv.bmc.example.net', origin: origins.session, referer: `${origins.session}/login?next=/`, cookie: `SESSION=s1; ${WEB_COOKIE}=secret; other=2`, connection: 'keep-alive', 'keep-alive': 'timeout=5', 'x-forwarded-for': '198.51.100.7', accept: 'text/html' },
      origins,
      false,
    );
    expect(out).toEqual({ host: '10.0.0.5', origin: 'https://10.0.0.5', referer: 'https://10.0.0.5/login?next=/', cookie: 'SESSION=s1; other=2', accept: 'text/html' });
  });

  it('leave another site\'s Origin as it is, for the BMC to refuse', () => {
    expect(requestHeadersForBmc({ origin: 'https://evil.example' }, origins, false).origin).toBe('https://evil.example');
    // A name that merely starts like the session's is another origin.
    expect(requestHeadersForBmc({ origin: `${origins.session}.evil.example` }, origins, false).origin).toBe(`${origins.session}.evil.example`);
  });

  it('keep a WebSocket upgrade an upgrade, and drop a Cookie header that held only ours', () => {
    const out = requestHeadersForBmc({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k', cookie: `${WEB_COOKIE}=secret` }, origins, true);
    expect(out).toEqual({ host: '10.0.0.5', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' });
    expect(withoutWebCookie(`${WEB_COOKIE}=x`)).toBeUndefined();
  });
});

describe('headers toward the browser', () => {
  it('move redirects to the BMC (https or http) onto the session\'s origin, and leave others', () => {
    expect(responseHeadersForBrowser({ location: 'https://10.0.0.5/login' }, origins, false).location).toBe(`${origins.session}/login`);
    expect(responseHeadersForBrowser({ location: 'http://10.0.0.5' }, origins, false).location).toBe(origins.session);
    expect(responseHeadersForBrowser({ location: '/start' }, origins, false).location).toBe('/start');
    expect(responseHeadersForBrowser({ location: 'https://10.0.0.50/x' }, origins, false).location).toBe('https://10.0.0.50/x');
  });

  it('make the BMC\'s cookies host-only, and never let it set ours', () => {
    const out = responseHeadersForBrowser({ 'set-cookie': ['SESSION=s1; Domain=10.0.0.5; Path=/; Secure; HttpOnly', `${WEB_COOKIE}=forged; Path=/`], 'transfer-encoding': 'chunked', 'content-type': 'text/html' }, origins, false);
    expect(out).toEqual({ 'set-cookie': ['SESSION=s1; Path=/; Secure; HttpOnly'], 'content-type': 'text/html' });
  });

  it('drop Secure only for sessions served over plain http (loopback)', () => {
    expect(cookieForBrowser('SESSION=s1; Secure; HttpOnly', false)).toBe('SESSION=s1; HttpOnly');
    expect(cookieForBrowser('SESSION=s1; Secure; HttpOnly', true)).toBe('SESSION=s1; Secure; HttpOnly');
  });
});
