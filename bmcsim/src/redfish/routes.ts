import type { IncomingMessage } from 'node:http';
import type { EventLog } from '../bmc/event-log.js';
import * as documents from './documents.js';
import { notFound } from './errors.js';
import type { Flavour } from './flavours.js';
import { checkIfMatch, NO_CONTENT, ok, type Reply } from './http.js';
import type { SessionStore } from './sessions.js';
import type { SystemResource } from './system.js';
import type { VirtualMediaResource } from './virtual-media.js';

/**
 * The Redfish resources a signed-in user reaches, one row each: a method, a
 * path (exact, or a pattern whose groups the handler gets), an optional
 * condition (a flavour or fault that removes the resource: the request then
 * goes on down the table and ends in 404), and the handler. The service
 * answers the public resources and authenticates before it looks here.
 */
export interface Route {
  method: string;
  path: string | RegExp;
  when?: () => boolean;
  /** `undefined`: not this route after all (an unknown sensor or entry id), go on down the table. */
  handle(match: readonly string[], request: IncomingMessage, body: unknown): Reply | undefined | Promise<Reply | undefined>;
}

export interface RouteParts {
  context: documents.DocumentContext;
  sessions: SessionStore;
  system: SystemResource;
  media: VirtualMediaResource;
  eventLog: EventLog;
  flavour: Flavour;
}

export function redfishRoutes({ context, sessions, system, media, eventLog, flavour }: RouteParts): Route[] {
  const { paths } = context;
  const get = (path: string | RegExp, document: (match: readonly string[]) => unknown, when?: () => boolean): Route => ({
    method: 'GET',
    path,
    ...(when === undefined ? {} : { when }),
    handle: (match) => {
      const found = document(match);
      return found === undefined ? undefined : ok(found);
    },
  });
  const under = (base: string, rest: string) => new RegExp(`^${escapeRegExp(base)}${rest}$`);
  return [
    get('/redfish/v1/SessionService', () => documents.sessionService(context)),
    get('/redfish/v1/SessionService/Sessions', () => documents.sessionCollection(sessions.ids())),
    {
      method: 'GET',
      path: /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/,
      handle: (match) => {
        const session = sessions.find(match[1]!);
        if (!session) throw notFound(match[0]!);
        return ok(documents.session(session.id, session.user.name));
      },
    },
    {
      method: 'DELETE',
      path: /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/,
      handle: (match) => {
        const session = sessions.find(match[1]!);
        if (!session) throw notFound(match[0]!);
        sessions.delete(session.id);
        return NO_CONTENT;
      },
    },

    get('/redfish/v1/Systems', () => documents.systemCollection(context)),
    { method: 'GET', path: paths.system, handle: () => ok(documents.computerSystem(context), { ETag: system.etag() }) },
    {
      method: 'PATCH',
      path: paths.system,
      handle: (_match, request, body) => {
        checkIfMatch(request, system.etag());
        system.patch(body);
        return NO_CONTENT;
      },
    },
    get(`${paths.system}/ResetActionInfo`, () => documents.resetActionInfo(context)),
    {
      method: 'POST',
      path: `${paths.system}/Actions/ComputerSystem.Reset`,
      handle: (_match, _request, body) => {
        system.reset(body);
        return NO_CONTENT;
      },
    },

    get('/redfish/v1/Managers', () => documents.managerCollection(context)),
    get(paths.manager, () => documents.manager(context)),
    { method: 'POST', path: `${paths.manager}/Actions/Manager.Reset`, handle: () => NO_CONTENT },

    get(paths.virtualMediaCollection, () => documents.virtualMediaCollection(context)),
    { method: 'GET', path: paths.virtualMedia, handle: () => ok(documents.virtualMedia(context, media.etag()), { ETag: media.etag() }) },
    {
      method: 'PATCH',
      path: paths.virtualMedia,
      handle: async (_match, request, body) => {
        checkIfMatch(request, media.etag());
        await media.patch(body);
        return NO_CONTENT;
      },
    },
    {
      method: 'POST',
      path: `${paths.virtualMedia}/Actions/VirtualMedia.InsertMedia`,
      when: () => media.offersActions(),
      handle: async (_match, _request, body) => {
        await media.insert(body);
        return NO_CONTENT;
      },
    },
    {
      method: 'POST',
      path: `${paths.virtualMedia}/Actions/VirtualMedia.EjectMedia`,
      when: () => media.offersActions(),
      handle: () => {
        media.eject();
        return NO_CONTENT;
      },
    },

    get(`${paths.manager}/LogServices`, () => documents.logServices(context)),
    get(paths.sel, () => documents.selService(context)),
    get(`${paths.sel}/Entries`, () => documents.selEntries(context)),
    get(under(paths.sel, '/Entries/(\\d+)'), ([, id]) => documents.selEntry(context, Number(id))),
    {
      method: 'POST',
      path: `${paths.sel}/Actions/LogService.ClearLog`,
      handle: () => {
        eventLog.clear();
        return NO_CONTENT;
      },
    },

    get('/redfish/v1/Chassis', () => documents.chassisCollection(context)),
    get(paths.chassis, () => documents.chassis(context)),
    get(`${paths.chassis}/Thermal`, () => documents.thermal(context)),
    get(`${paths.chassis}/Power`, () => documents.power(context)),
    get(`${paths.chassis}/Sensors`, () => documents.sensorCollection(context), () => flavour.sensorsCollection),
    get(under(paths.chassis, '/Sensors/([\\w.-]+)'), ([, id]) => documents.sensor(context, id!), () => flavour.sensorsCollection),
  ];
}

/** The first route that takes `method path`, with its match, and what it answered; undefined when none did. */
export async function dispatch(routes: readonly Route[], method: string, path: string, request: IncomingMessage, body: unknown): Promise<Reply | undefined> {
  for (const route of routes) {
    if (route.method !== method) continue;
    const match = typeof route.path === 'string' ? (route.path === path ? [path] : null) : route.path.exec(path);
    if (match === null || (route.when !== undefined && !route.when())) continue;
    const reply = await route.handle(match, request, body);
    if (reply !== undefined) return reply;
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
