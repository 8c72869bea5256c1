import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BmcConfig, BmcUser } from '../bmc/config.js';
import type { EventLog } from '../bmc/event-log.js';
import type { Clock } from '../host/clock.js';
import type { Host } from '../host/host.js';
import * as documents from './documents.js';
import { badRequest, errorBody, notFound, RedfishError } from './errors.js';
import { resourcePaths } from './ids.js';
import { downloadImage } from './media.js';
import { checkPassword, SessionStore } from './sessions.js';

/**
 * One BMC's Redfish service (DSP0266): routing, authentication (session
 * token or Basic), ETag/If-Match on the ComputerSystem and VirtualMedia,
 * power/boot/media mutations on the host, and the vendor quirks the fault
 * knobs select.
 */
export interface RedfishServiceOptions {
  config: BmcConfig;
  host: Host;
  eventLog: EventLog;
  clock: Clock;
  uuid: string;
}

const MAX_BODY = 64 * 1024;
const PUBLIC_GETS = new Set(['/redfish', '/redfish/v1', '/redfish/v1/odata']);
const WRITE_PRIVILEGE = new Set(['operator', 'administrator']);

export class RedfishService {
  private readonly context: documents.DocumentContext;
  private readonly sessions: SessionStore;
  /** Bumped on every change the ETag must reflect (DSP0266 §13.2 If-Match). */
  private systemVersion = 1;
  private mediaVersion = 1;
  /** Fault `virtualMediaStoresPatch`: the last PATCHed Image/Inserted, stored and never acted on. */
  private storedMedia: { image: string | null; inserted: boolean } | undefined;
  /** Fault `resetDelay*`: a reset accepted but not yet done, and the draws that time them. */
  private pendingReset: { cancel(): void } | undefined;
  private resetDraws = 0;

  constructor(private readonly options: RedfishServiceOptions) {
    const now = () => options.clock.now();
    this.sessions = new SessionStore(now, options.config.sessionTimeoutSeconds * 1000, options.config.faults.sessionExpiryMs);
    this.context = {
      config: options.config,
      host: options.host,
      eventLog: options.eventLog,
      paths: resourcePaths(options.config),
      now,
      uuid: options.uuid,
      systemEtag: () => `W/"${this.systemVersion}-${options.host.powerState}"`,
      storedMedia: () => this.storedMedia,
    };
  }

  /** Basic, X-Auth-Token, `Authorization: Token …` or the SESSION cookie (browsers), as bmcweb accepts them. */
  authorize(request: IncomingMessage): BmcUser | undefined {
    const token = header(request, 'x-auth-token');
    if (token) return this.sessions.authenticate(token)?.user;
    const authorization = header(request, 'authorization');
    if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      if (colon > 0) return checkPassword(this.options.config.users, decoded.slice(0, colon), decoded.slice(colon + 1));
    }
    if (authorization?.startsWith('Token ')) return this.sessions.authenticate(authorization.slice(6))?.user;
    // Browsers cannot set headers on a WebSocket: bmcweb accepts its session cookie instead.
    const cookie = /(?:^|;\s*)SESSION=([0-9a-f]+)/.exec(header(request, 'cookie') ?? '');
    if (cookie) return this.sessions.authenticate(cookie[1]!)?.user;
    return undefined;
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    this.route(request, response).catch((error: unknown) => {
      if (error instanceof RedfishError) return send(response, error.status, errorBody(error.status, error.messageId, error.message), error.status === 401 ? { 'WWW-Authenticate': 'Basic realm="bmcsim"' } : {});
      send(response, 500, errorBody(500, 'InternalError', error instanceof Error ? error.message : String(error)));
    });
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://bmc');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = request.method ?? 'GET';
    const body = method === 'POST' || method === 'PATCH' ? await readJson(request) : undefined;
    if (method === 'GET' && path === '/redfish') return send(response, 200, { v1: '/redfish/v1/' });
    if (method === 'GET' && path === '/redfish/v1') return send(response, 200, documents.serviceRoot(this.context));
    if (method === 'GET' && path === '/redfish/v1/odata') return send(response, 200, { '@odata.context': '/redfish/v1/$metadata', value: [{ name: 'Service', kind: 'Singleton', url: '/redfish/v1/' }] });
    if (method === 'POST' && path === '/redfish/v1/SessionService/Sessions') return this.login(body, response);
    if (PUBLIC_GETS.has(path)) throw new RedfishError(405, 'OperationNotAllowed', `${method} is not allowed on ${path}.`);

    const user = this.authorize(request);
    if (!user) throw new RedfishError(401, 'NoValidSession', 'There is no valid session established with the implementation.');
    if (method !== 'GET' && !WRITE_PRIVILEGE.has(user.privilege)) throw new RedfishError(403, 'InsufficientPrivilege', `User ${user.name} may only read.`);

    const paths = this.context.paths;
    const get = (document: unknown, headers: Record<string, string> = {}) => send(response, 200, document, headers);
    const byName = `/redfish/v1/Systems/${this.options.config.hostname}`;
    if (this.options.config.faults.systemsByNameRedirect && byName !== paths.system && (path === byName || path.startsWith(`${byName}/`))) {
      // the system by its name, served by redirect to its Id (as one emulator does)
      return send(response, 301, undefined, { Location: paths.system + path.slice(byName.length) + url.search });
    }
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /redfish/v1/SessionService':
        return get(documents.sessionService(this.context));
      case 'GET /redfish/v1/SessionService/Sessions':
        return get(documents.sessionCollection(this.sessions.ids()));
      case 'GET /redfish/v1/Systems':
        return get(documents.systemCollection(this.context));
      case `GET ${paths.system}`:
        return get(documents.computerSystem(this.context), { ETag: this.context.systemEtag() });
      case `PATCH ${paths.system}`:
        this.checkIfMatch(request, this.context.systemEtag());
        this.patchSystem(body);
        return send(response, 204);
      case `GET ${paths.system}/ResetActionInfo`:
        return get(documents.resetActionInfo(this.context));
      case `POST ${paths.system}/Actions/ComputerSystem.Reset`:
        this.reset(body);
        return send(response, 204);
      case 'GET /redfish/v1/Managers':
        return get(documents.managerCollection(this.context));
      case `GET ${paths.manager}`:
        return get(documents.manager(this.context));
      case `POST ${paths.manager}/Actions/Manager.Reset`:
        return send(response, 204);
      case `GET ${paths.virtualMediaCollection}`:
        return get(documents.virtualMediaCollection(this.context));
      case `GET ${paths.virtualMedia}`:
        return get(documents.virtualMedia(this.context, this.mediaEtag()), { ETag: this.mediaEtag() });
      case `PATCH ${paths.virtualMedia}`:
        return this.patchMedia(request, body, response);
      case `POST ${paths.virtualMedia}/Actions/VirtualMedia.InsertMedia`:
        if (this.options.config.faults.virtualMediaPatchOnly || this.options.config.faults.virtualMediaStoresPatch) break;
        await this.insertMedia(body);
        return send(response, 204);
      case `POST ${paths.virtualMedia}/Actions/VirtualMedia.EjectMedia`:
        if (this.options.config.faults.virtualMediaPatchOnly || this.options.config.faults.virtualMediaStoresPatch) break;
        this.ejectMedia();
        return send(response, 204);
      case `GET ${paths.manager}/LogServices`:
        return get(documents.logServices(this.context));
      case `GET ${paths.sel}`:
        return get(documents.selService(this.context));
      case `GET ${paths.sel}/Entries`:
        return get(documents.selEntries(this.context));
      case `POST ${paths.sel}/Actions/LogService.ClearLog`:
        this.options.eventLog.clear();
        return send(response, 204);
      case 'GET /redfish/v1/Chassis':
        return get(documents.chassisCollection(this.context));
      case `GET ${paths.chassis}`:
        return get(documents.chassis(this.context));
      case `GET ${paths.chassis}/Thermal`:
        return get(documents.thermal(this.context));
      case `GET ${paths.chassis}/Power`:
        return get(documents.power(this.context));
      case `GET ${paths.chassis}/Sensors`:
        if (this.options.config.faults.redfishFlavour === 'openbmc') return get(documents.sensorCollection(this.context));
        break;
    }
    const sessionMatch = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path);
    if (sessionMatch) {
      const session = this.sessions.find(sessionMatch[1]!);
      if (!session) throw notFound(path);
      if (method === 'DELETE') {
        this.sessions.delete(session.id);
        return send(response, 204);
      }
      if (method === 'GET') return get(documents.session(session.id, session.user.name));
    }
    const sensorMatch = new RegExp(`^${escapeRegExp(paths.chassis)}/Sensors/([\\w.-]+)$`).exec(path);
    if (method === 'GET' && sensorMatch && this.options.config.faults.redfishFlavour === 'openbmc') {
      const document = documents.sensor(this.context, sensorMatch[1]!);
      if (document) return get(document);
    }
    const entryMatch = new RegExp(`^${escapeRegExp(paths.sel)}/Entries/(\\d+)$`).exec(path);
    if (method === 'GET' && entryMatch) {
      const entry = documents.selEntry(this.context, Number(entryMatch[1]));
      if (entry) return get(entry);
    }
    throw notFound(path);
  }

  private login(body: unknown, response: ServerResponse): void {
    const { UserName, Password } = (body ?? {}) as { UserName?: unknown; Password?: unknown };
    if (typeof UserName !== 'string' || typeof Password !== 'string') throw badRequest('PropertyMissing', 'UserName and Password are required.');
    const user = checkPassword(this.options.config.users, UserName, Password);
    if (!user) throw new RedfishError(401, 'ResourceAtUriUnauthorized', 'Invalid user name or password.');
    const session = this.sessions.create(user);
    if (!session) throw new RedfishError(503, 'SessionLimitExceeded', 'Too many sessions.');
    const location = `/redfish/v1/SessionService/Sessions/${session.id}`;
    send(response, 201, documents.session(session.id, user.name), { 'X-Auth-Token': session.token, Location: location });
  }

  private checkIfMatch(request: IncomingMessage, etag: string): void {
    const ifMatch = header(request, 'if-match');
    if (ifMatch === undefined || ifMatch === '*') return;
    const candidates = ifMatch.split(',').map((value) => value.trim());
    if (!candidates.includes(etag)) throw new RedfishError(412, 'PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.');
  }

  private patchSystem(body: unknown): void {
    const boot = (body as { Boot?: Record<string, unknown> } | undefined)?.Boot;
    if (!boot || typeof boot !== 'object') throw badRequest('PropertyMissing', 'Only Boot can be changed on this system.');
    const targets = documents.bootTargets(this.context);
    const current = this.options.host.bootOverride;
    let device = current.device;
    let persistent = current.persistent;
    let uefi = current.uefi;
    if (boot.BootSourceOverrideTarget !== undefined) {
      const target = String(boot.BootSourceOverrideTarget);
      if (!(target in targets)) throw badRequest('PropertyValueNotInList', `The value '${target}' for BootSourceOverrideTarget is not in the list of acceptable values.`);
      device = targets[target]!;
      // Supermicro: the physical "Cd" is accepted but is not the virtual drive.
      if (target === 'Cd' && this.options.config.faults.redfishFlavour === 'supermicro') device = 'none';
    }
    if (boot.BootSourceOverrideEnabled !== undefined) {
      const enabled = String(boot.BootSourceOverrideEnabled);
      if (!['Once', 'Continuous', 'Disabled'].includes(enabled)) throw badRequest('PropertyValueNotInList', `The value '${enabled}' for BootSourceOverrideEnabled is not in the list of acceptable values.`);
      if (enabled === 'Disabled') device = 'none';
      // fault ignoresBootOnce: "Once" is stored as "Continuous", as one emulator does
      persistent = enabled === 'Continuous' || (enabled === 'Once' && this.options.config.faults.ignoresBootOnce);
    }
    if (boot.BootSourceOverrideMode !== undefined) {
      const mode = String(boot.BootSourceOverrideMode);
      if (mode !== 'UEFI' && mode !== 'Legacy') throw badRequest('PropertyValueNotInList', `The value '${mode}' for BootSourceOverrideMode is not in the list of acceptable values.`);
      uefi = mode === 'UEFI';
    }
    this.options.host.setBootOverride({ device, persistent, uefi });
    this.systemVersion++;
  }

  private reset(body: unknown): void {
    const resetType = (body as { ResetType?: unknown } | undefined)?.ResetType;
    if (typeof resetType !== 'string') throw badRequest('ActionParameterMissing', 'The action ComputerSystem.Reset requires the parameter ResetType.');
    if (!(documents.RESET_TYPES as readonly string[]).includes(resetType)) {
      throw badRequest('ActionParameterValueNotInList', `The value '${resetType}' for ResetType is not in the list of acceptable values.`);
    }
    const { resetDelayMinMs, resetDelayMaxMs } = this.options.config.faults;
    if (resetDelayMaxMs <= 0) return this.applyReset(resetType as documents.ResetType);
    // 204 now, the power change later; a newer reset replaces one still waiting
    this.pendingReset?.cancel();
    const delay = resetDelayMinMs + Math.floor(seededFraction(this.options.config.seed, this.resetDraws++) * Math.max(0, resetDelayMaxMs - resetDelayMinMs));
    this.pendingReset = this.options.clock.setTimeout(() => {
      this.pendingReset = undefined;
      this.applyReset(resetType as documents.ResetType);
    }, delay);
  }

  private applyReset(resetType: documents.ResetType): void {
    const host = this.options.host;
    switch (resetType) {
      case 'On':
      case 'ForceOn':
        host.powerOn();
        break;
      case 'ForceOff':
        host.powerOff();
        break;
      case 'GracefulShutdown':
        host.softOff();
        break;
      case 'GracefulRestart':
      case 'ForceRestart':
        host.reset();
        break;
      case 'PowerCycle':
        host.powerCycle();
        break;
      case 'PushPowerButton':
        if (host.poweredOn) host.softOff();
        else host.powerOn();
        break;
      case 'Nmi':
        break;
    }
    this.systemVersion++;
  }

  private mediaEtag(): string {
    return `W/"media-${this.mediaVersion}"`;
  }

  private async insertMedia(body: unknown): Promise<void> {
    const parameters = (body ?? {}) as Record<string, unknown>;
    const supermicro = this.options.config.faults.redfishFlavour === 'supermicro';
    if (supermicro && ('Inserted' in parameters || 'WriteProtected' in parameters)) {
      // Supermicro X11 rejects these optional parameters (sushy retries without them).
      const name = 'Inserted' in parameters ? 'Inserted' : 'WriteProtected';
      throw badRequest('ActionParameterUnknown', `The action InsertMedia was submitted with the invalid parameter ${name}.`);
    }
    if (typeof parameters.Image !== 'string') throw badRequest('ActionParameterMissing', 'The action InsertMedia requires the parameter Image.');
    if (parameters.Inserted === false) throw badRequest('ActionParameterValueError', 'Inserted must be true.');
    if (this.options.host.virtualMedia) throw new RedfishError(409, 'ResourceInUse', 'Virtual media is already inserted; eject it first.');
    const image = await downloadImage(parameters.Image, { allowSelfSigned: this.options.config.mediaAllowSelfSigned, maxBytes: this.options.config.mediaMaxBytes });
    this.options.host.insertMedia({ name: image.name, url: parameters.Image, bytes: image.bytes });
    this.mediaVersion++;
  }

  private ejectMedia(): void {
    if (!this.options.host.virtualMedia) throw badRequest('ActionNotSupported', 'No virtual media is inserted.');
    this.options.host.ejectMedia();
    this.mediaVersion++;
  }

  /** PATCH Image/Inserted: the only way to mount on BMCs without InsertMedia (sushy's fallback). */
  private async patchMedia(request: IncomingMessage, body: unknown, response: ServerResponse): Promise<void> {
    this.checkIfMatch(request, this.mediaEtag());
    const parameters = (body ?? {}) as Record<string, unknown>;
    if (this.options.config.faults.virtualMediaStoresPatch) {
      const current = this.storedMedia ?? { image: null, inserted: false };
      this.storedMedia = {
        image: 'Image' in parameters ? (typeof parameters.Image === 'string' ? parameters.Image : null) : current.image,
        inserted: 'Inserted' in parameters ? parameters.Inserted === true : current.inserted,
      };
      this.mediaVersion++;
      return send(response, 204);
    }
    if (parameters.Image === null || parameters.Inserted === false) this.ejectMedia();
    else if (typeof parameters.Image === 'string') await this.insertMedia({ Image: parameters.Image });
    else throw badRequest('PropertyMissing', 'Image or Inserted is required.');
    send(response, 204);
  }
}

/** Deterministic fraction in [0, 1) from the BMC's seed and a draw counter (mulberry32). */
function seededFraction(seed: number, draw: number): number {
  let state = (seed * 0x9e3779b1 + draw * 0x85ebca6b) >>> 0;
  state = (state + 0x6d2b79f5) >>> 0;
  let mixed = Math.imul(state ^ (state >>> 15), state | 1);
  mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
  return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY) throw new RedfishError(413, 'PayloadTooLarge', `Request bodies are limited to ${MAX_BODY} bytes.`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('MalformedJSON', 'The request body submitted was malformed JSON and could not be parsed.');
  }
}

function send(response: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  const payload = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {
    'OData-Version': '4.0',
    ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  response.end(payload);
}
