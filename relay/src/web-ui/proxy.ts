import { Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { LightsoutError, type SetTimer, type StreamSocketFactory, type StreamTokenClaims } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import { type WebOrigins, cookieValue, originOf, sessionOfHost } from './origin.js';
import { WEB_COOKIE, requestHeadersForBmc, responseHeadersForBrowser } from './rewrite.js';
import { StreamDuplex } from './stream-duplex.js';

/** The one path of a session's origin that is the relay's, not the BMC's: where the launch URL trades its token for the cookie. */
export const LAUNCH_PATH = '/.lightsout/launch';

export interface WebUiProxyOptions {
  origins: WebOrigins;
  /** Verify a launch token (`web-launch`) or cookie (`web`) for this session. */
  verify(token: string, sessionId: string, use: 'web-launch' | 'web'): Promise<StreamTokenClaims>;
  /** A launch token opens one cookie, once (spent in the store: every replica, across restarts). */
  spendLaunch(claims: StreamTokenClaims): Promise<void>;
  /** The cookie the launch sets: the same grant, until the web session ends. */
  issueCookie(claims: StreamTokenClaims): Promise<string>;
  /** On every request: not revoked since the token was issued, the server still the tenant's; else throws. */
  checkAccess(claims: StreamTokenClaims): Promise<void>;
  /** The BMC's web UI origin (the inventory's `endpoints.web`). */
  bmcOriginOf(serverId: string): Promise<string>;
  /** A connect token and stream URL for one more stream of the session (one HTTP connection to the BMC). */
  openStream(claims: StreamTokenClaims): Promise<{ streamUrl: string; token: string }>;
  socket: StreamSocketFactory;
  setTimer: SetTimer;
  log: FastifyBaseLogger;
  /** The launch URL was opened: the session is live in a browser (audited as `session.launch`). */
  onLaunched?(claims: StreamTokenClaims, sourceIp: string | undefined): void;
  /** The session ended as this replica saw it launched: its end came, or its holder lost access (audited as `session.close`). */
  onEnded?(claims: StreamTokenClaims, reason: 'expired' | 'revoked'): void;
  /** A pooled connection to the BMC idle this long is closed (BMCs drop idle keep-alives themselves within seconds). */
  idleMs?: number;
}

/**
 * Node's http client over the stream plane: every connection it opens is a
 * new stream of kind `web` to the agent, which holds one connection to the
 * BMC's web UI for it. One per web session, kept while it is in use.
 */
class StreamAgent extends HttpAgent {
  constructor(private readonly open: () => Promise<{ streamUrl: string; token: string }>, private readonly transport: { socket: StreamSocketFactory; setTimer: SetTimer }, idleMs: number) {
    // Browsers open at most 6 connections per origin (and a few WebSockets): the BMC sees no more than that.
    super({ keepAlive: true, maxSockets: 16, maxFreeSockets: 6, timeout: idleMs });
  }

  // Node's Agent waits for the callback when createConnection returns nothing (_http_agent.js createSocket).
  override createConnection(_options: unknown, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    this.open().then(
      ({ streamUrl, token }) => callback?.(null, new StreamDuplex({ streamUrl, token, ...this.transport })),
      (error: unknown) => callback?.(error instanceof Error ? error : new Error(String(error)), undefined as unknown as Duplex),
    );
    return undefined;
  }
}

function errorOf(error: unknown): LightsoutError {
  return error instanceof LightsoutError ? error : new LightsoutError('INTERNAL', 'the web UI proxy failed');
}

function headerLines(headers: OutgoingHttpHeaders): string {
  let lines = '';
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) lines += `${name}: ${String(one)}\r\n`;
  }
  return lines;
}

/**
 * Every session's origin is a name under one domain, so to the browser the
 * pages of all BMC web sessions are the same site: a hostile BMC's page in
 * one session could send requests and open WebSockets to another session's
 * origin, and the browser would attach that session's cookies (SameSite
 * keeps them only from other sites). A request another page sent is refused
 * before it reaches the BMC: one whose `Origin` (sent with WebSockets and
 * every cross-origin or non-GET request) is not this session's, and one the
 * browser marks as coming from the same site but another origin
 * (`Sec-Fetch-Site: same-site`, W3C Fetch Metadata). The launch path is
 * exempt: the console that opens it may be a sibling name, and it carries
 * its own one-time token.
 */
function refuseOtherPages(request: IncomingMessage, sessionOrigin: string): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== sessionOrigin) throw new LightsoutError('FORBIDDEN', `a page of ${origin} may not use this web session`, { hint: 'open the BMC web UI from the console; each session is its own origin' });
  if (request.headers['sec-fetch-site'] === 'same-site') throw new LightsoutError('FORBIDDEN', 'a page of another web session may not use this one', { hint: 'open the BMC web UI from the console; each session is its own origin' });
}

/**
 * The listener that serves the BMCs' web UIs (docs/security.md, "The BMC's
 * web UI"): each web session on its own origin `<id>.<domain>`, its cookie
 * set by the one-time launch URL, every request and WebSocket passed to the
 * BMC through a stream of its own, bodies streamed both ways.
 */
export class WebUiProxy {
  readonly server: Server;
  private readonly agents = new Map<string, { agent: StreamAgent; lastUsed: number }>();
  private readonly expiring = new WeakSet<Duplex>();
  /** Sessions launched here and not ended yet: their end is told once (onEnded). */
  private readonly launched = new Map<string, { claims: StreamTokenClaims; timer: ReturnType<typeof setTimeout> }>();
  private readonly sweep: ReturnType<typeof setInterval>;

  constructor(readonly options: WebUiProxyOptions) {
    this.server = createServer({ requestTimeout: 0 });
    this.server.on('request', (request: IncomingMessage, response: ServerResponse) => void this.onRequest(request, response));
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(request, socket, head));
    // A session's agent (and its idle streams) goes once nobody used it for a while.
    const idleMs = options.idleMs ?? 30_000;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [sessionId, entry] of this.agents) {
        if (now - entry.lastUsed < 2 * idleMs) continue;
        entry.agent.destroy();
        this.agents.delete(sessionId);
      }
    }, idleMs).unref();
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    for (const entry of this.launched.values()) clearTimeout(entry.timer);
    this.launched.clear();
    for (const entry of this.agents.values()) entry.agent.destroy();
    this.agents.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Which session the request is for, and its checked cookie; the launch path trades a token for the cookie instead. */
  private async authenticate(request: IncomingMessage): Promise<{ sessionId: string; claims: StreamTokenClaims }> {
    const sessionId = sessionOfHost(request.headers.host, this.options.origins);
    if (sessionId === undefined) throw new LightsoutError('NOT_FOUND', 'no web session at this name');
    refuseOtherPages(request, originOf(this.options.origins, sessionId));
    const cookie = cookieValue(request.headers.cookie, WEB_COOKIE);
    if (cookie === undefined) throw new LightsoutError('UNAUTHENTICATED', 'this web session was not opened in this browser', { hint: 'open the BMC web UI again from the console (or lightsout web SERVER)' });
    const claims = await this.options.verify(cookie, sessionId, 'web');
    // To the second: the token check allows a few seconds of clock skew, and the session's end closed its connections already.
    if ((claims.wxp ?? claims.exp) * 1000 <= Date.now()) throw new LightsoutError('TOKEN_EXPIRED', 'this web session has ended', { hint: 'open the BMC web UI again from the console (or lightsout web SERVER)' });
    try {
      await this.options.checkAccess(claims);
    } catch (error) {
      // Revoked, or the server left the tenant: the session is over for good.
      if (error instanceof LightsoutError && (error.code === 'FORBIDDEN' || error.code === 'NOT_FOUND')) this.ended(sessionId, 'revoked');
      throw error;
    }
    return { sessionId, claims };
  }

  private async onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      if ((request.url ?? '/').split('?')[0] === LAUNCH_PATH) return await this.launch(request, response);
      const { sessionId, claims } = await this.authenticate(request);
      this.expireWith(request.socket, claims);
      const origins = { session: originOf(this.options.origins, sessionId), bmc: await this.options.bmcOriginOf(claims.srv) };
      const upstream = httpRequest({ agent: this.agentFor(sessionId, claims), method: request.method, path: request.url, headers: requestHeadersForBmc(request.headers, origins, false), setHost: false });
      upstream.on('response', (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeadersForBrowser(answer.headers, origins, false));
        answer.pipe(response);
        answer.on('error', () => response.destroy());
      });
      upstream.on('error', (error) => this.fail(response, error instanceof LightsoutError ? error : new LightsoutError('BMC_UNREACHABLE', `the BMC's web UI did not answer: ${error.message}`)));
      // The browser went away mid-answer: the BMC connection it used is not reused half-read.
      response.on('close', () => {
        if (!response.writableFinished) upstream.destroy();
      });
      request.pipe(upstream);
    } catch (error) {
      this.fail(response, errorOf(error));
    }
  }

  private async onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    try {
      const { sessionId, claims } = await this.authenticate(request);
      this.expireWith(socket, claims);
      const origins = { session: originOf(this.options.origins, sessionId), bmc: await this.options.bmcOriginOf(claims.srv) };
      const upstream = httpRequest({ agent: this.agentFor(sessionId, claims), method: request.method, path: request.url, headers: requestHeadersForBmc(request.headers, origins, true), setHost: false });
      upstream.on('upgrade', (answer, bmcSocket, bmcHead) => {
        socket.write(`HTTP/1.1 101 ${answer.statusMessage ?? 'Switching Protocols'}\r\n${headerLines(responseHeadersForBrowser(answer.headers, origins, true))}\r\n`);
        if (bmcHead.length > 0) socket.write(bmcHead);
        bmcSocket.on('error', () => socket.destroy());
        socket.on('close', () => bmcSocket.destroy());
        bmcSocket.on('close', () => socket.destroy());
        bmcSocket.pipe(socket);
        socket.pipe(bmcSocket);
      });
      // The BMC refused the upgrade: its answer goes to the browser as it is, and the connection ends.
      upstream.on('response', (answer) => {
        socket.write(`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}\r\n${headerLines({ ...responseHeadersForBrowser(answer.headers, origins, false), connection: 'close' })}\r\n`);
        answer.pipe(socket);
      });
      upstream.on('error', (error) => this.failUpgrade(socket, error instanceof LightsoutError ? error : new LightsoutError('BMC_UNREACHABLE', `the BMC's web UI did not answer: ${error.message}`)));
      if (head.length > 0) upstream.write(head);
      upstream.end();
    } catch (error) {
      this.failUpgrade(socket, errorOf(error));
    }
  }

  /** `GET /.lightsout/launch?token=…`: the one-time token becomes the origin's cookie, and the browser goes to the BMC's start page. */
  private async launch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const sessionId = sessionOfHost(request.headers.host, this.options.origins);
    if (sessionId === undefined) throw new LightsoutError('NOT_FOUND', 'no web session at this name');
    const token = new URL(request.url ?? '/', 'http://launch').searchParams.get('token');
    if (token === null) throw new LightsoutError('UNAUTHENTICATED', 'launch token missing', { hint: 'open the BMC web UI again from the console (or lightsout web SERVER)' });
    const claims = await this.options.verify(token, sessionId, 'web-launch');
    await this.options.checkAccess(claims);
    await this.options.spendLaunch(claims);
    const cookie = await this.options.issueCookie(claims);
    const maxAge = Math.max(0, (claims.wxp ?? claims.exp) - Math.floor(Date.now() / 1000));
    const secure = this.options.origins.scheme === 'https' ? '; Secure' : '';
    // Host-only (no Domain), HttpOnly (the BMC's scripts never read it), Lax (a top-level navigation from the console carries it).
    response.writeHead(303, { location: '/', 'set-cookie': `${WEB_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    response.end();
    this.options.log.info({ webSession: sessionId, serverId: claims.srv, user: claims.usr }, 'web UI session launched in a browser');
    this.options.onLaunched?.(claims, request.socket.remoteAddress);
    const timer = setTimeout(() => this.ended(sessionId, 'expired'), Math.max(0, (claims.wxp ?? claims.exp) * 1000 - Date.now()));
    timer.unref();
    this.launched.set(sessionId, { claims, timer });
  }

  private ended(sessionId: string, reason: 'expired' | 'revoked'): void {
    const entry = this.launched.get(sessionId);
    if (entry === undefined) return;
    this.launched.delete(sessionId);
    clearTimeout(entry.timer);
    this.agents.get(sessionId)?.agent.destroy();
    this.agents.delete(sessionId);
    this.options.onEnded?.(entry.claims, reason);
  }

  private agentFor(sessionId: string, claims: StreamTokenClaims): StreamAgent {
    let entry = this.agents.get(sessionId);
    if (entry === undefined) {
      const agent = new StreamAgent(() => this.options.openStream(claims), { socket: this.options.socket, setTimer: this.options.setTimer }, this.options.idleMs ?? 30_000);
      entry = { agent, lastUsed: Date.now() };
      this.agents.set(sessionId, entry);
    }
    entry.lastUsed = Date.now();
    return entry.agent;
  }

  /** A browser connection (a WebSocket above all) ends when the web session does, whatever it is doing. */
  private expireWith(socket: Duplex, claims: StreamTokenClaims): void {
    if (this.expiring.has(socket)) return;
    this.expiring.add(socket);
    const timer = setTimeout(() => socket.destroy(), Math.max(0, (claims.wxp ?? claims.exp) * 1000 - Date.now()));
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private fail(response: ServerResponse, error: LightsoutError): void {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.writeHead(error.httpStatus, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    response.end(JSON.stringify(error.toBody()));
  }

  private failUpgrade(socket: Duplex, error: LightsoutError): void {
    const body = JSON.stringify(error.toBody());
    socket.end(`HTTP/1.1 ${error.httpStatus} ${error.code}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }
}
