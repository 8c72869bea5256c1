import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BmcUser } from '../bmc/config.js';

/**
 * A small BMC web UI, enough to show what a proxy in front of one must get
 * right (iDRAC, iLO and bmcweb behave the same way in each of these):
 *
 * - `GET /` without a session redirects to the login page by an absolute
 *   URL built from the Host the request named (`https://<Host>/login`);
 * - `POST /login` (a form) refuses a request whose Origin is not this
 *   BMC's own (`https://<Host>`): cross-site request forgery protection;
 *   success sets an HttpOnly, Secure session cookie and redirects to `/`;
 * - `GET /` with the session: a page naming the user and the host;
 * - `GET /stream?chunks=N`: N chunks of 1 KiB, written 20 ms apart, chunked
 *   (a body that must reach the browser as it comes, not at the end);
 * - `GET /bulk?mib=N`: N MiB as fast as the reader takes them (a firmware
 *   image download: what a slow browser must slow down, not pile up);
 * - `GET /ws/echo` upgraded to WebSocket with the session cookie and the
 *   BMC's own Origin: every message is echoed back.
 */
export const WEB_UI_COOKIE = 'BMCSIM_SESSION';
const PATHS = new Set(['/', '/login', '/logout', '/stream', '/bulk', '/ws/echo']);

export interface WebUiOptions {
  users: readonly BmcUser[];
  hostname: string;
  /** `https` when the web port is TLS: the scheme of the URLs the UI builds. */
  scheme: 'https' | 'http';
}

function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export class BmcWebUi {
  /** session id → user name */
  private readonly sessions = new Map<string, string>();
  private readonly webSockets = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  private readonly clients = new Set<WebSocket>();

  constructor(private readonly options: WebUiOptions) {}

  /** Whether a request is the UI's (the rest of the port is Redfish's). */
  handles(request: IncomingMessage): boolean {
    return PATHS.has(new URL(request.url ?? '/', 'http://bmc').pathname);
  }

  private userOf(request: IncomingMessage): string | undefined {
    const session = cookieOf(request, WEB_UI_COOKIE);
    return session === undefined ? undefined : this.sessions.get(session);
  }

  /** The BMC's own origin as the request names it: what Origin must equal. */
  private ownOrigin(request: IncomingMessage): string {
    return `${this.options.scheme}://${request.headers.host ?? ''}`;
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://bmc');
    const user = this.userOf(request);
    if (url.pathname === '/login' && request.method === 'POST') return void this.login(request, response);
    if (url.pathname === '/login') return this.page(response, 200, '<h1>bmcsim login</h1><form method="post" action="/login"><input name="username"><input name="password" type="password"><button>Log in</button></form>');
    if (user === undefined) return this.redirect(response, `${this.ownOrigin(request)}/login`);
    if (url.pathname === '/logout') {
      this.sessions.delete(cookieOf(request, WEB_UI_COOKIE)!);
      return this.redirect(response, '/login', `${WEB_UI_COOKIE}=; Path=/; Max-Age=0`);
    }
    if (url.pathname === '/bulk') return this.bulk(response, Math.min(1024, Number(url.searchParams.get('mib') ?? '1') || 1));
    if (url.pathname === '/stream') return this.stream(response, Math.min(1000, Number(url.searchParams.get('chunks') ?? '10') || 10));
    this.page(response, 200, `<h1>${escapeHtml(this.options.hostname)}</h1><p id="user">Logged in as ${escapeHtml(user)}</p>`);
  }

  /** `/ws/echo`; false when the path is not the UI's. */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (new URL(request.url ?? '/', 'http://bmc').pathname !== '/ws/echo') return false;
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    if (this.userOf(request) === undefined) return refuse('401 Unauthorized'), true;
    // Cross-site WebSocket hijacking: a browser sends the page's Origin; only the BMC's own is accepted.
    if (request.headers.origin !== undefined && request.headers.origin !== this.ownOrigin(request)) return refuse('403 Forbidden'), true;
    this.webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      this.clients.add(webSocket);
      webSocket.on('close', () => this.clients.delete(webSocket));
      webSocket.on('error', () => webSocket.terminate());
      webSocket.on('message', (data, isBinary) => webSocket.send(data, { binary: isBinary }));
    });
    return true;
  }

  close(): void {
    for (const client of this.clients) client.terminate();
    this.webSockets.close();
  }

  private async login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.headers.origin !== this.ownOrigin(request)) return this.page(response, 403, '<p>cross-site login refused</p>');
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const user = this.options.users.find((candidate) => candidate.name === form.get('username') && candidate.password === form.get('password'));
    if (user === undefined) return this.page(response, 401, '<p>wrong user name or password</p>');
    const session = randomBytes(16).toString('hex');
    this.sessions.set(session, user.name);
    const secure = this.options.scheme === 'https' ? '; Secure' : '';
    this.redirect(response, '/', `${WEB_UI_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict${secure}`);
  }

  private stream(response: ServerResponse, chunks: number): void {
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    let sent = 0;
    const timer = setInterval(() => {
      response.write(Buffer.alloc(1024, sent % 256));
      sent += 1;
      if (sent < chunks) return;
      clearInterval(timer);
      response.end();
    }, 20);
    response.on('close', () => clearInterval(timer));
  }

  private bulk(response: ServerResponse, mib: number): void {
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(mib * 1024 * 1024) });
    let left = mib * 16;
    const more = (): void => {
      while (left > 0) {
        left -= 1;
        if (!response.write(chunk)) return void response.once('drain', more);
      }
      response.end();
    };
    more();
  }

  private page(response: ServerResponse, status: number, body: string): void {
    response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html><head><title>bmcsim</title></head><body>${body}</body></html>`);
  }

  private redirect(response: ServerResponse, location: string, cookie?: string): void {
    response.writeHead(302, { location, ...(cookie === undefined ? {} : { 'set-cookie': cookie }) });
    response.end();
  }
}
