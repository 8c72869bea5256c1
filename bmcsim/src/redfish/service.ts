import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BmcConfig, BmcUser } from '../bmc/config.js';
import type { EventLog } from '../bmc/event-log.js';
import type { Clock } from '../host/clock.js';
import type { Host } from '../host/host.js';
import * as documents from './documents.js';
import { badRequest, errorBody, notFound, RedfishError } from './errors.js';
import { flavourOf } from './flavours.js';
import { header, ok, readJson, type Reply, send } from './http.js';
import { resourcePaths } from './ids.js';
import { dispatch, redfishRoutes, type Route } from './routes.js';
import { checkPassword, SessionStore } from './sessions.js';
import { SystemResource } from './system.js';
import { VirtualMediaResource } from './virtual-media.js';

/**
 * One BMC's Redfish service (DSP0266): the public resources and login,
 * authentication (session token or Basic) and privilege, then the route
 * table (routes.ts) over the ComputerSystem (system.ts), the VirtualMedia
 * device (virtual-media.ts) and the read-only documents (documents.ts). What
 * differs per vendor family is a row in flavours.ts.
 */
export interface RedfishServiceOptions {
  config: BmcConfig;
  host: Host;
  eventLog: EventLog;
  clock: Clock;
  uuid: string;
}

const PUBLIC_GETS = new Set(['/redfish', '/redfish/v1', '/redfish/v1/odata']);
const WRITE_PRIVILEGE = new Set(['operator', 'administrator']);

export class RedfishService {
  private readonly context: documents.DocumentContext;
  private readonly sessions: SessionStore;
  private readonly routes: Route[];

  constructor(private readonly options: RedfishServiceOptions) {
    const now = () => options.clock.now();
    const flavour = flavourOf(options.config);
    this.sessions = new SessionStore(now, options.config.sessionTimeoutSeconds * 1000, options.config.faults.sessionExpiryMs);
    const system = new SystemResource(options.config, options.host, options.clock, flavour.bootTargets);
    const media = new VirtualMediaResource(options.config, options.host, flavour);
    this.context = {
      config: options.config,
      host: options.host,
      eventLog: options.eventLog,
      paths: resourcePaths(options.config),
      now,
      uuid: options.uuid,
      systemEtag: () => system.etag(),
      storedMedia: () => media.storedMedia(),
    };
    this.routes = redfishRoutes({ context: this.context, sessions: this.sessions, system, media, eventLog: options.eventLog, flavour });
  }

  /** Password checks that failed (session logins and Basic requests): what a real BMC counts towards locking the account. */
  failedLogins = 0;

  /** Basic, X-Auth-Token, `Authorization: Token …` or the SESSION cookie (browsers), as bmcweb accepts them. */
  authorize(request: IncomingMessage): BmcUser | undefined {
    const token = header(request, 'x-auth-token');
    if (token) return this.sessions.authenticate(token)?.user;
    const authorization = header(request, 'authorization');
    if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      const user = colon > 0 ? checkPassword(this.options.config.users, decoded.slice(0, colon), decoded.slice(colon + 1)) : undefined;
      if (!user) this.failedLogins += 1;
      return user;
    }
    if (authorization?.startsWith('Token ')) return this.sessions.authenticate(authorization.slice(6))?.user;
    // Browsers cannot set headers on a WebSocket: bmcweb accepts its session cookie instead.
    const cookie = /(?:^|;\s*)SESSION=([0-9a-f]+)/.exec(header(request, 'cookie') ?? '');
    if (cookie) return this.sessions.authenticate(cookie[1]!)?.user;
    return undefined;
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    this.route(request).then(
      (reply) => send(response, reply),
      (error: unknown) => {
        if (error instanceof RedfishError) return send(response, { status: error.status, body: errorBody(error.status, error.messageId, error.message), headers: error.status === 401 ? { 'WWW-Authenticate': 'Basic realm="bmcsim"' } : {} });
        send(response, { status: 500, body: errorBody(500, 'InternalError', error instanceof Error ? error.message : String(error)) });
      },
    );
  }

  private async route(request: IncomingMessage): Promise<Reply> {
    const url = new URL(request.url ?? '/', 'http://bmc');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = request.method ?? 'GET';
    const body = method === 'POST' || method === 'PATCH' ? await readJson(request) : undefined;
    if (method === 'GET' && path === '/redfish') return ok({ v1: '/redfish/v1/' });
    if (method === 'GET' && path === '/redfish/v1') return ok(documents.serviceRoot(this.context));
    if (method === 'GET' && path === '/redfish/v1/odata') return ok({ '@odata.context': '/redfish/v1/$metadata', value: [{ name: 'Service', kind: 'Singleton', url: '/redfish/v1/' }] });
    if (method === 'POST' && path === '/redfish/v1/SessionService/Sessions') return this.login(body);
    if (PUBLIC_GETS.has(path)) throw new RedfishError(405, 'OperationNotAllowed', `${method} is not allowed on ${path}.`);

    const user = this.authorize(request);
    if (!user) throw new RedfishError(401, 'NoValidSession', 'There is no valid session established with the implementation.');
    if (method !== 'GET' && !WRITE_PRIVILEGE.has(user.privilege)) throw new RedfishError(403, 'InsufficientPrivilege', `User ${user.name} may only read.`);

    const system = this.context.paths.system;
    const byName = `/redfish/v1/Systems/${this.options.config.hostname}`;
    if (this.options.config.faults.systemsByNameRedirect && byName !== system && (path === byName || path.startsWith(`${byName}/`))) {
      // the system by its name, served by redirect to its Id (as one emulator does)
      return { status: 301, headers: { Location: system + path.slice(byName.length) + url.search } };
    }
    const reply = await dispatch(this.routes, method, path, request, body);
    if (reply === undefined) throw notFound(path);
    return reply;
  }

  private login(body: unknown): Reply {
    const { UserName, Password } = (body ?? {}) as { UserName?: unknown; Password?: unknown };
    if (typeof UserName !== 'string' || typeof Password !== 'string') throw badRequest('PropertyMissing', 'UserName and Password are required.');
    const user = checkPassword(this.options.config.users, UserName, Password);
    if (!user) {
      this.failedLogins += 1;
      throw new RedfishError(401, 'ResourceAtUriUnauthorized', 'Invalid user name or password.');
    }
    const session = this.sessions.create(user);
    if (!session) throw new RedfishError(503, 'SessionLimitExceeded', 'Too many sessions.');
    const location = `/redfish/v1/SessionService/Sessions/${session.id}`;
    return { status: 201, body: documents.session(session.id, user.name), headers: { 'X-Auth-Token': session.token, Location: location } };
  }
}
