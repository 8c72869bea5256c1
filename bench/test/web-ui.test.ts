import { execFile } from 'node:child_process';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LookupFunction } from 'node:net';
import { type Fleet, startFleet } from '@lightsout/bmcsim';
import { freeTcpPort } from '@lightsout/lab';
import { waitFor } from '@lightsout/lab/wait';
import { loginWithPassword } from '@lightsout/relay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Stack, startStack } from '../lib/stack.js';

/**
 * The BMC's own web UI through the whole chain: a browser's requests (here
 * Node's http client and `ws`, sending the Host, Origin and cookies a
 * browser would) → the relay's web UI listener on the session's own origin
 * `<id>.localhost` → a stream of kind `web` → agent process → bmcsim's web
 * UI over HTTPS (self-signed; the agent trusts it on first use). Each step
 * a real BMC UI takes: redirect to its login page by an absolute URL, a
 * login form that checks Origin, a session cookie, a streamed body, a
 * WebSocket that checks Origin and the session.
 */

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Milliseconds from the request to the first and to the last byte of the body. */
  firstByteMs: number;
  lastByteMs: number;
}

/** `*.localhost` is loopback (RFC 6761 §6.3): browsers resolve it so, and so does this lookup. */
const loopback: LookupFunction = (_hostname, options, callback) => {
  if (options.all) return (callback as unknown as (error: null, addresses: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  callback(null, '127.0.0.1', 4);
};

function fetchAt(url: string, options: { method?: string; cookies?: string[]; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const headers: Record<string, string> = { ...options.headers };
    if (options.cookies && options.cookies.length > 0) headers.cookie = options.cookies.join('; ');
    const request = httpRequest(url, { method: options.method ?? 'GET', headers, lookup: loopback, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      let firstByteMs = -1;
      response.on('data', (chunk: Buffer) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - started;
        chunks.push(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), firstByteMs, lastByteMs: performance.now() - started }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/** `name=value` of a Set-Cookie (and its attributes, lower-cased). */
function cookieOf(answer: Answer, name: string): { pair: string; attributes: string[] } {
  const line = (answer.headers['set-cookie'] ?? []).find((cookie) => cookie.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no ${name} cookie in ${JSON.stringify(answer.headers['set-cookie'])}`);
  const [pair, ...attributes] = line.split(';');
  return { pair: pair!.trim(), attributes: attributes.map((attribute) => attribute.trim().toLowerCase()) };
}

const SESSION_SECONDS = 30;

describe('the BMC web UI through relay → agent → bmcsim', () => {
  let fleet: Fleet;
  let stack: Stack;
  let webPort: number;
  let bmcOrigin: string;

  async function api(method: string, path: string, body?: unknown, token = stack.operatorToken): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${stack.relayUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  /** A web session opened and launched: its origin and the relay's cookie for it. */
  async function launched(serverId = 'web-01', token = stack.operatorToken): Promise<{ origin: string; cookie: string; sessionId: string }> {
    const created = await api('POST', `/v1/servers/${serverId}/sessions`, { kind: 'web' }, token);
    expect(created.status).toBe(201);
    const launch = await fetchAt(created.body['webUrl'] as string);
    expect(launch.status).toBe(303);
    return { origin: created.body['streamUrl'] as string, cookie: cookieOf(launch, 'lightsout_web').pair, sessionId: created.body['sessionId'] as string };
  }

  /** Signs in to bmcsim's own login form through the session's origin: the BMC's session cookie. */
  async function signedInToBmc(origin: string, cookie: string): Promise<string> {
    const login = await fetchAt(`${origin}/login`, { method: 'POST', cookies: [cookie], headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=adminpass' });
    return cookieOf(login, 'BMCSIM_SESSION').pair;
  }

  /** bmcsim's echo WebSocket through the tunnel, open, as the BMC's own page would open it. */
  async function openEcho(origin: string, cookie: string, bmcCookie: string): Promise<WebSocket> {
    const socket = new WebSocket(`${origin.replace(/^http/, 'ws')}/ws/echo`, { lookup: loopback, headers: { cookie: `${cookie}; ${bmcCookie}`, origin } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return socket;
  }

  beforeAll(async () => {
    fleet = await startFleet({ count: 1, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: true, startPowered: true, timings: { postMs: 5, bootMs: 5, shutdownMs: 20, cycleMs: 20 } });
    bmcOrigin = fleet.bmcs[0]!.redfishUrl;
    webPort = await freeTcpPort();
    stack = await startStack(
      [
        { id: 'web-01', web: { url: bmcOrigin } },
        // The same BMC pinned to a certificate it does not have: the agent must refuse it.
        { id: 'web-02', web: { url: bmcOrigin, tls: { fingerprint256: 'AB'.repeat(32) } } },
      ],
      // Sessions of 30 s: every test is done with its own within seconds, and the last one sees one end.
      { relayConfig: { webUi: { domain: 'localhost', port: webPort, scheme: 'http', maxSessionSeconds: SESSION_SECONDS } } },
    );
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await fleet?.stop();
  });

  it('answers a one-time launch URL on an origin of the session\'s own', async () => {
    const created = await api('POST', '/v1/servers/web-01/sessions', { kind: 'web' });
    expect(created.status).toBe(201);
    const sessionId = created.body['sessionId'] as string;
    expect(sessionId).toMatch(/^[a-z2-7]{22}$/);
    expect(created.body['streamUrl']).toBe(`http://${sessionId}.localhost:${webPort}`);
    expect(created.body['webUrl']).toBe(`http://${sessionId}.localhost:${webPort}/.lightsout/launch?token=${created.body['token'] as string}`);

    const first = await fetchAt(created.body['webUrl'] as string);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const cookie = cookieOf(first, 'lightsout_web');
    expect(cookie.attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=lax']));
    expect(cookie.attributes.some((attribute) => attribute.startsWith('domain'))).toBe(false);
    // Once only.
    const again = await fetchAt(created.body['webUrl'] as string);
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body.toString()).code).toBe('TOKEN_INVALID');
    // The launch token opens no stream on the gateway either: another audience.
    const asStream = await fetch(`${stack.relayUrl}/v1/streams/${sessionId}/route`, { headers: { authorization: `Bearer ${created.body['token'] as string}` } });
    expect(asStream.status).toBe(401);
  });

  it('logs in to the BMC through the tunnel: redirect, form with Origin check, session cookie', async () => {
    const { origin, cookie } = await launched();
    // Without the relay's cookie nothing reaches the BMC.
    const anonymous = await fetchAt(`${origin}/`);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body.toString()).code).toBe('UNAUTHENTICATED');

    // The BMC redirects to its own absolute URL, built from the Host it was sent: it lands on the session's origin.
    const start = await fetchAt(`${origin}/`, { cookies: [cookie] });
    expect(start.status).toBe(302);
    expect(start.headers.location).toBe(`${origin}/login`);
    const form = await fetchAt(`${origin}/login`, { cookies: [cookie] });
    expect(form.status).toBe(200);
    expect(form.body.toString()).toContain('<form method="post" action="/login">');

    // A login from another site is refused (by the relay, before the BMC); from the session's origin it passes (Origin rewritten to the BMC's).
    const post = (originHeader: string) => fetchAt(`${origin}/login`, { method: 'POST', cookies: [cookie], headers: { origin: originHeader, 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=adminpass' });
    expect((await post('https://evil.example')).status).toBe(403);
    const login = await post(origin);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/');
    const bmcCookie = cookieOf(login, 'BMCSIM_SESSION');
    expect(bmcCookie.attributes).toContain('httponly');
    // Served over plain http on loopback, the BMC's Secure would make a browser drop the cookie.
    expect(bmcCookie.attributes).not.toContain('secure');

    const page = await fetchAt(`${origin}/`, { cookies: [cookie, bmcCookie.pair] });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('Logged in as admin');
    // The BMC's cookie alone opens nothing: the relay's cookie is checked first.
    expect((await fetchAt(`${origin}/`, { cookies: [bmcCookie.pair] })).status).toBe(401);
    // Nor does another session's cookie, on this origin.
    const other = await launched();
    const foreign = await fetchAt(`${origin}/`, { cookies: [other.cookie, bmcCookie.pair] });
    expect(foreign.status).toBe(403);
  });

  it('refuses what another session\'s page sends: its Origin, or a same-site request, even with this session\'s cookies', async () => {
    const { origin, cookie } = await launched();
    const bmcCookie = await signedInToBmc(origin, cookie);
    const other = await launched();
    expect((await fetchAt(`${origin}/`, { cookies: [cookie, bmcCookie] })).status).toBe(200);
    // A script of the other session's BMC page: the browser sends its Origin, and this session's cookies (same site).
    const scripted = await fetchAt(`${origin}/login`, { method: 'POST', cookies: [cookie, bmcCookie], headers: { origin: other.origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=adminpass' });
    expect({ status: scripted.status, code: JSON.parse(scripted.body.toString()).code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    // An image or a link on that page: no Origin, but the browser says it came from the same site.
    const embedded = await fetchAt(`${origin}/`, { cookies: [cookie, bmcCookie], headers: { 'sec-fetch-site': 'same-site' } });
    expect({ status: embedded.status, code: JSON.parse(embedded.body.toString()).code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Its WebSocket to this session's BMC.
    const hijack = new WebSocket(`${origin.replace(/^http/, 'ws')}/ws/echo`, { lookup: loopback, headers: { cookie: `${cookie}; ${bmcCookie}`, origin: other.origin } });
    expect(await new Promise<number>((resolve) => hijack.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)))).toBe(403);
    // The session's own page goes on working.
    expect((await fetchAt(`${origin}/`, { cookies: [cookie, bmcCookie], headers: { 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
  });

  it('streams bodies as they come and carries WebSockets', async () => {
    const { origin, cookie } = await launched();
    const bmcCookie = await signedInToBmc(origin, cookie);

    // 40 chunks of 1 KiB, 20 ms apart (≥ 780 ms in all): the first must arrive long before the last was written.
    const streamed = await fetchAt(`${origin}/stream?chunks=40`, { cookies: [cookie, bmcCookie] });
    expect(streamed.status).toBe(200);
    expect(streamed.body.length).toBe(40 * 1024);
    expect(streamed.body[39 * 1024]).toBe(39);
    process.stdout.write(`web-ui: streamed body first byte ${streamed.firstByteMs.toFixed(0)} ms, last ${streamed.lastByteMs.toFixed(0)} ms\n`);
    expect(streamed.lastByteMs - streamed.firstByteMs).toBeGreaterThan(500);

    const socket = await openEcho(origin, cookie, bmcCookie);
    const echoes: Buffer[] = [];
    const received = new Promise<void>((resolve) => socket.on('message', (data: Buffer) => {
      echoes.push(data);
      if (echoes.length === 2) resolve();
    }));
    const big = Buffer.alloc(256 * 1024, 7);
    socket.send('hello, BMC');
    socket.send(big);
    await received;
    expect(echoes[0]!.toString()).toBe('hello, BMC');
    expect(echoes[1]!.equals(big)).toBe(true);
    socket.close();

    // A page of another origin cannot open the BMC's WebSocket (the BMC sees that Origin, not its own).
    const hijack = new WebSocket(`${origin.replace(/^http/, 'ws')}/ws/echo`, { lookup: loopback, headers: { cookie: `${cookie}; ${bmcCookie}`, origin: 'https://evil.example' } });
    const refused = await new Promise<number>((resolve) => hijack.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)));
    expect(refused).toBe(403);
  });

  it('slows a fast BMC down to a slow browser instead of holding its body in the relay', async () => {
    const { origin, cookie } = await launched();
    const bmcCookie = await signedInToBmc(origin, cookie);
    const relayRssMib = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${stack.relayPid()!}/status`, 'utf8'))![1]) / 1024;
    const mib = 256;
    const before = relayRssMib();
    let peak = before;
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest(`${origin}/bulk?mib=${mib}`, { headers: { cookie: `${cookie}; ${bmcCookie}` }, lookup: loopback, agent: false }, (response) => {
        expect(response.statusCode).toBe(200);
        // A browser that does not read for a while (a stalled tab, a slow link): what piles up, and where?
        response.pause();
        const sampler = setInterval(() => (peak = Math.max(peak, relayRssMib())), 50);
        setTimeout(() => {
          response.on('data', (chunk: Buffer) => (received += chunk.length));
          response.resume();
        }, 3_000);
        response.on('end', () => {
          clearInterval(sampler);
          resolve();
        });
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end();
    });
    expect(received).toBe(mib * 1024 * 1024);
    process.stdout.write(`web-ui: ${mib} MiB body to a reader that paused 3 s: relay RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB\n`);
    // One stream window (8 MiB) each way and socket buffers, not the body.
    expect(peak - before).toBeLessThan(64);
  });

  it('refuses a BMC whose certificate is not the pinned one, before any request reaches it', async () => {
    const { origin, cookie } = await launched('web-02');
    const answer = await fetchAt(`${origin}/`, { cookies: [cookie] });
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body.toString()).code).toBe('BMC_CERT_MISMATCH');
  });

  it('`lightsout web SERVER` prints a launch URL that opens the BMC\'s UI', async () => {
    const bin = fileURLToPath(new URL('../../cli/bin/lightsout.js', import.meta.url));
    const run = (server: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [bin, 'web', server], { env: { ...process.env, LIGHTSOUT_RELAY: stack.relayUrl, LIGHTSOUT_TOKEN: stack.operatorToken, LIGHTSOUT_CONFIG_DIR: '/nonexistent-lightsout-config' } }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
        );
      });
    const printed = await run('web-01');
    expect(printed.code).toBe(0);
    const url = printed.stdout.trim();
    expect(url).toMatch(new RegExp(`^http://[a-z2-7]{22}\\.localhost:${webPort}/\\.lightsout/launch\\?token=`));
    const launch = await fetchAt(url);
    expect(launch.status).toBe(303);
    const start = await fetchAt(`${new URL(url).origin}/`, { cookies: [cookieOf(launch, 'lightsout_web').pair] });
    expect(start.status).toBe(302);
    const missing = await run('no-such-server');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^error NOT_FOUND/m);
  });

  it('ends with its user: disabled, the open BMC WebSocket closes and the cookie opens nothing more', async () => {
    const password = 'leaving-operator-password-1';
    const created = await api('POST', '/v1/users', { username: 'leaving-operator', password, role: 'operator', tenant: 'demo' }, stack.adminToken);
    expect(created.status).toBe(201);
    const token = (await loginWithPassword(stack.relayUrl, 'leaving-operator', password)).accessToken;
    const { origin, cookie, sessionId } = await launched('web-01', token);
    const bmcCookie = await signedInToBmc(origin, cookie);
    const socket = await openEcho(origin, cookie, bmcCookie);
    let closedAt: number | undefined;
    socket.once('close', () => (closedAt = performance.now()));
    const disabledAt = performance.now();
    const disabled = await api('PATCH', `/v1/users/${(created.body as { id: string }).id}`, { disabled: true }, stack.adminToken);
    expect(disabled.status).toBe(200);
    // Waited for longer than it may take, so a late close is reported with its time rather than as a timeout.
    await waitFor('the BMC WebSocket of a disabled user to close', () => closedAt !== undefined, { timeoutMs: 5_000 });
    process.stdout.write(`web-ui: a disabled user's BMC WebSocket closed ${(closedAt! - disabledAt).toFixed(0)} ms after the call\n`);
    // Like every connection that outlives a request (docs/security.md, "What ends what"): within a second of the change.
    expect(closedAt! - disabledAt).toBeLessThanOrEqual(1000);
    const after = await fetchAt(`${origin}/`, { cookies: [cookie, bmcCookie] });
    expect(after.status).toBe(403);
    // Launched, then closed because its holder lost access: both audited, once.
    const records = async (action: string) => ((await api('GET', `/v1/audit?action=${action}&server=web-01`, undefined, stack.adminToken)).body['records'] as Array<{ details?: Record<string, unknown> }>).filter((record) => record.details?.['webSession'] === sessionId);
    expect(await records('session.launch')).toHaveLength(1);
    const closes = await waitFor('the web session\'s session.close', async () => {
      const found = await records('session.close');
      return found.length > 0 ? found : undefined;
    });
    expect(closes).toHaveLength(1);
    expect(closes[0]!.details).toMatchObject({ kind: 'web', reason: 'revoked' });
  });

  it('audits the opening, and keeps viewers and other names out', async () => {
    const audit = await api('GET', '/v1/audit?action=session.open', undefined, stack.adminToken);
    expect(audit.status).toBe(200);
    const events = audit.body['records'] as Array<{ action: string; target?: string; details?: Record<string, unknown> }>;
    expect(events.some((event) => event.action === 'session.open' && event.target === 'server:web-01' && event.details?.['kind'] === 'web')).toBe(true);
    // A name that is no session of ours.
    const stranger = await fetchAt(`http://aaaaaaaaaaaaaaaaaaaaaa.localhost:${webPort}/`);
    expect([401, 404]).toContain(stranger.status);
    expect((await fetchAt(`http://127.0.0.1:${webPort}/`)).status).toBe(404);
    expect((await api('POST', '/v1/servers/web-01/sessions', { kind: 'web', mode: 'view' })).status).toBe(400);
  });

  it('ends when its time is up: the open WebSocket closes, the cookie has expired, session.close says so', { timeout: (SESSION_SECONDS + 30) * 1000 }, async () => {
    const { origin, cookie, sessionId } = await launched();
    const launchedAt = Date.now();
    const bmcCookie = await signedInToBmc(origin, cookie);
    const socket = await openEcho(origin, cookie, bmcCookie);
    let closedAt = 0;
    socket.once('close', () => (closedAt = Date.now()));
    await waitFor('the web session\'s WebSocket to close at its end', () => closedAt > 0, { timeoutMs: (SESSION_SECONDS + 10) * 1000, intervalMs: 100 });
    process.stdout.write(`web-ui: a ${SESSION_SECONDS} s web session's WebSocket closed ${((closedAt - launchedAt) / 1000).toFixed(1)} s after its launch\n`);
    expect(closedAt - launchedAt).toBeGreaterThan((SESSION_SECONDS - 2) * 1000);
    const after = await fetchAt(`${origin}/`, { cookies: [cookie, bmcCookie] });
    expect(after.status).toBe(401);
    expect(JSON.parse(after.body.toString()).code).toBe('TOKEN_EXPIRED');
    const closes = await waitFor('the expired session\'s session.close', async () => {
      const found = ((await api('GET', '/v1/audit?action=session.close&server=web-01', undefined, stack.adminToken)).body['records'] as Array<{ details?: Record<string, unknown> }>).filter((record) => record.details?.['webSession'] === sessionId);
      return found.length > 0 ? found : undefined;
    });
    expect(closes.map((record) => record.details?.['reason'])).toEqual(['expired']);
  });
});
