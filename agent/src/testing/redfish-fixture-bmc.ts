import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer as createHttpServer, get as httpGet } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A DMTF-mockup-shaped Redfish service for the driver's unit tests (shapes
 * after the public DSP2043 mockups and bmcweb). It exists so the driver's
 * layers can be tested alone; the end-to-end tests use bmcsim's Redfish
 * service and the Debian clients. Knobs reproduce the vendor behaviours the
 * quirk table handles.
 */
export type InsertBehaviour = 'plain' | 'refuses-inserted' | 'needs-transfer-protocol' | 'needs-transfer-method' | 'patch-only';

export interface FixtureOptions {
  virtualMediaUnder?: 'systems' | 'managers';
  insert?: InsertBehaviour;
  /** Inline AllowableValues (false = via ActionInfo, as bmcweb does). */
  inlineResetValues?: boolean;
  resetValues?: string[];
  bootTargets?: string[];
  sessionService?: boolean;
  sensors?: 'thermal-power' | 'sensors-collection';
  tls?: { key: string; cert: string };
  username?: string;
  password?: string;
  /** The system's Name (the DMTF mockup's). */
  systemName?: string;
  /** `Systems/{alias}` answers 301 to the system (an emulator serving a system by name through a redirect). */
  systemAlias?: string;
  /** BootSourceOverrideEnabled "Once" is stored as "Continuous". */
  ignoresOnce?: boolean;
  /** VirtualMedia PATCH is stored and answered 204 but nothing is connected (a static mockup; with insert 'patch-only'). */
  patchStoresOnly?: boolean;
  /** Reads the first bytes of the Image URL before answering InsertMedia, as most BMCs do. */
  fetchesImage?: boolean;
  /** Reads the image from this local address (a BMC reaching the agent from another address than configured); '' = the default. */
  fetchFrom?: string;
  /**
   * The Location of a new session: a path (DSP0266 §13.3.4), none (the session
   * only in the body's `@odata.id`) or relative to the service root.
   */
  sessionLocation?: 'path' | 'none' | 'relative';
}

export interface LoggedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | undefined;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
}

type Resource = Record<string, unknown>;

export class FixtureBmc {
  readonly requests: LoggedRequest[] = [];
  readonly resources = new Map<string, Resource>();
  readonly malformed = new Set<string>();
  readonly tokens = new Set<string>();
  readonly deletedSessions: string[] = [];
  /** While set, a session login is answered only once it settles: a login the client has in flight. */
  holdLogins: Promise<void> | undefined;
  /**
   * Scripts one vendor's answer: called for every request after it is logged
   * (before authentication); an answer it returns is sent instead of the
   * fixture's own, `undefined` lets the fixture answer.
   */
  intercept: ((request: LoggedRequest) => ScriptedAnswer | undefined) | undefined;
  /** Called for every request after it is logged: an answer is sent only once the promise it returns settles (a BMC slow to answer). */
  holdAnswer: ((request: LoggedRequest) => Promise<void> | undefined) | undefined;
  private readonly options: Required<Omit<FixtureOptions, 'tls'>> & { tls?: FixtureOptions['tls'] };
  private readonly server;
  private etagCounter = 1;
  private sessionCounter = 0;
  url = '';

  constructor(options: FixtureOptions = {}) {
    this.options = {
      virtualMediaUnder: 'managers',
      insert: 'plain',
      inlineResetValues: false,
      resetValues: ['On', 'ForceOff', 'ForceRestart', 'GracefulShutdown', 'PowerCycle'],
      bootTargets: ['None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup'],
      sessionService: true,
      sensors: 'thermal-power',
      username: 'admin',
      password: 'secret',
      systemName: 'WebFrontEnd483',
      systemAlias: '',
      ignoresOnce: false,
      patchStoresOnly: false,
      fetchesImage: false,
      fetchFrom: '',
      sessionLocation: 'path',
      ...options,
    };
    const handler = (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response);
    this.server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
    this.build();
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forget every session, as a BMC reboot or session timeout does. */
  expireSessions(): void {
    this.tokens.clear();
  }

  resource(path: string): Resource {
    const resource = this.resources.get(path);
    if (!resource) throw new Error(`fixture has no ${path}`);
    return resource;
  }

  requestsTo(method: string, pathPart: string): LoggedRequest[] {
    return this.requests.filter((entry) => entry.method === method && entry.path.includes(pathPart));
  }

  private build(): void {
    const o = this.options;
    const system = '/redfish/v1/Systems/437XR1138R2';
    const manager = '/redfish/v1/Managers/BMC';
    const chassis = '/redfish/v1/Chassis/1U';
    const vmCollection = o.virtualMediaUnder === 'systems' ? `${system}/VirtualMedia` : `${manager}/VirtualMedia`;
    const link = (path: string) => ({ '@odata.id': path });
    const put = (path: string, body: Resource) => this.resources.set(path, { '@odata.id': path, ...body });

    put('/redfish/v1/', {
      '@odata.type': '#ServiceRoot.v1_11_0.ServiceRoot',
      Id: 'RootService',
      RedfishVersion: '1.11.0',
      Systems: link('/redfish/v1/Systems'),
      Managers: link('/redfish/v1/Managers'),
      Chassis: link('/redfish/v1/Chassis'),
      ...(o.sessionService ? { SessionService: link('/redfish/v1/SessionService'), Links: { Sessions: link('/redfish/v1/SessionService/Sessions') } } : {}),
    });
    put('/redfish/v1/Systems', { Members: [link(system)], 'Members@odata.count': 1 });
    put('/redfish/v1/Managers', { Members: [link(manager)], 'Members@odata.count': 1 });
    put('/redfish/v1/Chassis', { Members: [link(chassis)], 'Members@odata.count': 1 });
    const resetAction: Resource = { target: `${system}/Actions/ComputerSystem.Reset` };
    if (o.inlineResetValues) resetAction['ResetType@Redfish.AllowableValues'] = o.resetValues;
    else resetAction['@Redfish.ActionInfo'] = `${system}/ResetActionInfo`;
    put(system, {
      '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
      Id: '437XR1138R2',
      Name: o.systemName,
      PowerState: 'Off',
      Boot: {
        BootSourceOverrideEnabled: 'Disabled',
        BootSourceOverrideTarget: 'None',
        BootSourceOverrideMode: 'UEFI',
        'BootSourceOverrideTarget@Redfish.AllowableValues': o.bootTargets,
      },
      Links: { ManagedBy: [link(manager)], Chassis: [link(chassis)] },
      LogServices: link(`${system}/LogServices`),
      ...(o.virtualMediaUnder === 'systems' ? { VirtualMedia: link(vmCollection) } : {}),
      Actions: { '#ComputerSystem.Reset': resetAction },
    });
    put(`${system}/ResetActionInfo`, { Parameters: [{ Name: 'ResetType', Required: true, DataType: 'String', AllowableValues: o.resetValues }] });
    put(manager, { Id: 'BMC', ...(o.virtualMediaUnder === 'managers' ? { VirtualMedia: link(vmCollection) } : {}) });
    put(vmCollection, { Members: [link(`${vmCollection}/Floppy1`), link(`${vmCollection}/CD1`)] });
    put(`${vmCollection}/Floppy1`, { Id: 'Floppy1', MediaTypes: ['Floppy', 'USBStick'], Inserted: false, Image: null });
    put(`${vmCollection}/CD1`, {
      Id: 'CD1',
      MediaTypes: ['CD', 'DVD'],
      Inserted: false,
      Image: null,
      WriteProtected: true,
      ConnectedVia: 'NotConnected',
      ...(o.insert === 'patch-only'
        ? {}
        : { Actions: { '#VirtualMedia.InsertMedia': { target: `${vmCollection}/CD1/Actions/VirtualMedia.InsertMedia` }, '#VirtualMedia.EjectMedia': { target: `${vmCollection}/CD1/Actions/VirtualMedia.EjectMedia` } } }),
    });
    put(chassis, o.sensors === 'thermal-power' ? { Thermal: link(`${chassis}/Thermal`), Power: link(`${chassis}/Power`) } : { Sensors: link(`${chassis}/Sensors`) });
    put(`${chassis}/Thermal`, {
      Temperatures: [{ Name: 'CPU1 Temp', ReadingCelsius: 41, Status: { State: 'Enabled', Health: 'OK' } }],
      Fans: [{ Name: 'Fan 1', Reading: 4200, ReadingUnits: 'RPM', Status: { State: 'Enabled', Health: 'Warning' } }],
    });
    put(`${chassis}/Power`, { Voltages: [{ Name: '12V', ReadingVolts: 12.1, Status: { Health: 'OK' } }], PowerControl: [{ Name: 'System Power', PowerConsumedWatts: 230 }] });
    put(`${chassis}/Sensors`, { Members: [link(`${chassis}/Sensors/Inlet`), link(`${chassis}/Sensors/Fan0`), link(`${chassis}/Sensors/P12V`)] });
    // ReadingType is optional (DSP2046 Sensor): these two have units only
    put(`${chassis}/Sensors/Fan0`, { Id: 'Fan0', Name: 'Fan 0', Reading: 5100, ReadingUnits: 'RPM', Status: { Health: 'OK' } });
    put(`${chassis}/Sensors/P12V`, { Id: 'P12V', Name: 'P12V', Reading: 12.05, ReadingUnits: 'V', Status: { Health: 'OK' } });
    put(`${chassis}/Sensors/Inlet`, { Id: 'Inlet', Name: 'Inlet Temp', ReadingType: 'Temperature', Reading: 22.5, ReadingUnits: 'Cel', Status: { Health: 'OK' } });
    put(`${system}/LogServices`, { Members: [link(`${system}/LogServices/EventLog`)] });
    put(`${system}/LogServices/EventLog`, {
      Entries: link(`${system}/LogServices/EventLog/Entries`),
      Actions: { '#LogService.ClearLog': { target: `${system}/LogServices/EventLog/Actions/LogService.ClearLog` } },
    });
    put(`${system}/LogServices/EventLog/Entries`, {
      Members: [
        { '@odata.id': `${system}/LogServices/EventLog/Entries/1`, Id: '1', Created: '2026-11-20T10:00:00Z', Message: 'CPU1 temperature high', SensorType: 'Temperature', EntryCode: 'Assert', EntryType: 'SEL' },
        { '@odata.id': `${system}/LogServices/EventLog/Entries/2`, Id: '2', Created: '1970-01-01T00:00:00Z', Message: 'CPU1 temperature normal', SensorType: 'Temperature', EntryCode: 'Deassert', EntryType: 'SEL' },
      ],
    });
  }

  private etagOf(resource: Resource): string {
    if (typeof resource.__etag !== 'string') resource.__etag = `W/"${this.etagCounter++}"`;
    return resource.__etag as string;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      return this.error(response, 400, 'Base.1.8.MalformedJSON', 'malformed JSON');
    }
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const logged = { method, path, headers: request.headers, body };
    this.requests.push(logged);
    await this.holdAnswer?.(logged);
    const scripted = this.intercept?.(logged);
    if (scripted) {
      const headers = { ...(scripted.body ? { 'Content-Type': 'application/json' } : {}), ...scripted.headers };
      response.writeHead(scripted.status, headers).end(scripted.body ? JSON.stringify(scripted.body) : undefined);
      return;
    }
    if (this.malformed.has(path)) {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"Members": [ {"@odata.id": ');
      return;
    }
    if (path === '/redfish/v1/' && method === 'GET') return this.send(response, 200, this.resource(path));
    if (path === '/redfish/v1/SessionService/Sessions' && method === 'POST') {
      if (body?.UserName !== this.options.username || body?.Password !== this.options.password) return this.error(response, 401, 'Base.1.8.NoValidSession', 'bad credentials');
      await this.holdLogins;
      const token = randomBytes(16).toString('hex');
      this.tokens.add(token);
      const location = `/redfish/v1/SessionService/Sessions/${++this.sessionCounter}`;
      const session = { '@odata.id': location, Id: String(this.sessionCounter), Name: 'User Session', UserName: body.UserName };
      this.resources.set(location, { ...session, __token: token });
      const locationHeader = { path: { Location: location }, none: {}, relative: { Location: location.slice('/redfish/v1/'.length) } }[this.options.sessionLocation];
      response.writeHead(201, { 'X-Auth-Token': token, ...locationHeader, 'Content-Type': 'application/json' }).end(JSON.stringify(session));
      return;
    }
    if (!this.authorized(request)) return this.error(response, 401, 'Base.1.8.NoValidSession', 'no valid session');
    const alias = this.options.systemAlias ? `/redfish/v1/Systems/${this.options.systemAlias}` : undefined;
    if (alias && (path === alias || path.startsWith(`${alias}/`))) {
      response.writeHead(301, { Location: `/redfish/v1/Systems/437XR1138R2${path.slice(alias.length)}` }).end();
      return;
    }
    if (method === 'DELETE' && path.startsWith('/redfish/v1/SessionService/Sessions/')) {
      const session = this.resources.get(path);
      if (session) this.tokens.delete(session.__token as string);
      this.deletedSessions.push(path);
      response.writeHead(204).end();
      return;
    }
    if (method === 'POST' && path.includes('/Actions/')) return this.action(response, path, body ?? {});
    if (method === 'PATCH' && this.options.fetchesImage && typeof body?.Image === 'string') await this.fetchImage(body.Image);
    const resource = this.resources.get(path);
    if (!resource) return this.error(response, 404, 'Base.1.8.ResourceMissingAtURI', 'not found');
    if (method === 'GET') return this.send(response, 200, resource);
    if (method === 'PATCH') return this.patch(request, response, resource, body ?? {});
    return this.error(response, 405, 'Base.1.8.ActionNotSupported', 'method not allowed');
  }

  private authorized(request: IncomingMessage): boolean {
    const token = request.headers['x-auth-token'];
    if (typeof token === 'string') return this.tokens.has(token);
    const basic = request.headers.authorization;
    const expected = `Basic ${Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64')}`;
    return basic === expected;
  }

  private patch(request: IncomingMessage, response: ServerResponse, resource: Resource, body: Record<string, unknown>): void {
    const ifMatch = request.headers['if-match'];
    if (!ifMatch) return this.error(response, 428, 'Base.1.8.PreconditionRequired', 'If-Match required');
    if (ifMatch !== this.etagOf(resource)) return this.error(response, 412, 'Base.1.8.PreconditionFailed', 'ETag mismatch');
    if (body.Boot && typeof body.Boot === 'object') {
      const boot = body.Boot as Record<string, unknown>;
      const allowed = this.options.bootTargets;
      if (typeof boot.BootSourceOverrideTarget === 'string' && !allowed.includes(boot.BootSourceOverrideTarget)) {
        return this.error(response, 400, 'Base.1.8.PropertyValueNotInList', `BootSourceOverrideTarget ${boot.BootSourceOverrideTarget}`);
      }
      if (this.options.ignoresOnce && boot.BootSourceOverrideEnabled === 'Once') boot.BootSourceOverrideEnabled = 'Continuous';
      resource.Boot = { ...(resource.Boot as object), ...boot };
    }
    if ('Image' in body || 'Inserted' in body) {
      if (this.options.insert !== 'patch-only') return this.error(response, 405, 'Base.1.8.PropertyNotWritable', 'use the actions');
      resource.Image = body.Image ?? null;
      resource.Inserted = body.Inserted === true;
      if (!this.options.patchStoresOnly) resource.ConnectedVia = resource.Inserted ? 'URI' : 'NotConnected';
    }
    delete resource.__etag;
    response.writeHead(204).end();
  }

  /** Images the fixture read (fetchesImage), with the status the media server answered. */
  readonly fetches: { url: string; status: number }[] = [];

  private async fetchImage(url: string): Promise<void> {
    if (this.options.fetchFrom) {
      const status = await new Promise<number>((resolve, reject) => {
        httpGet(url, { headers: { range: 'bytes=0-2047' }, localAddress: this.options.fetchFrom }, (answer) => {
          answer.resume();
          answer.on('end', () => resolve(answer.statusCode ?? 0));
        }).on('error', reject);
      });
      this.fetches.push({ url, status });
      return;
    }
    const answer = await fetch(url, { headers: { range: 'bytes=0-2047' } });
    await answer.arrayBuffer();
    this.fetches.push({ url, status: answer.status });
  }

  private async action(response: ServerResponse, path: string, body: Record<string, unknown>): Promise<void> {
    const slotPath = path.replace(/\/Actions\/.*$/, '');
    if (path.endsWith('ComputerSystem.Reset')) {
      const system = this.resource(slotPath);
      if (!this.options.resetValues.includes(body.ResetType as string)) return this.error(response, 400, 'Base.1.8.ActionParameterValueNotInList', `ResetType ${String(body.ResetType)}`);
      system.PowerState = body.ResetType === 'ForceOff' || body.ResetType === 'GracefulShutdown' ? 'Off' : 'On';
      response.writeHead(204).end();
      return;
    }
    if (path.endsWith('LogService.ClearLog')) {
      (this.resource(`${slotPath}/Entries`) as Resource).Members = [];
      response.writeHead(204).end();
      return;
    }
    const slot = this.resources.get(slotPath);
    if (!slot) return this.error(response, 404, 'Base.1.8.ResourceMissingAtURI', 'not found');
    if (path.endsWith('VirtualMedia.EjectMedia')) {
      slot.Image = null;
      slot.Inserted = false;
      slot.ConnectedVia = 'NotConnected';
      response.writeHead(204).end();
      return;
    }
    const behaviour = this.options.insert;
    if (typeof body.Image !== 'string') return this.error(response, 400, 'Base.1.8.ActionParameterMissing', 'Image');
    if (slot.Inserted === true) return this.error(response, 409, 'Base.1.8.ResourceInUse', 'already inserted');
    if (behaviour === 'refuses-inserted' && ('Inserted' in body || 'WriteProtected' in body)) return this.error(response, 400, 'Base.1.8.ActionParameterNotSupported', 'Inserted');
    if (behaviour === 'needs-transfer-protocol' && typeof body.TransferProtocolType !== 'string') return this.error(response, 400, 'Base.1.8.ActionParameterMissing', 'TransferProtocolType');
    if (behaviour === 'needs-transfer-method' && (body.TransferMethod !== 'Stream' || typeof body.TransferProtocolType !== 'string')) {
      return this.error(response, 422, 'Base.1.8.ActionParameterMissing', 'TransferMethod');
    }
    if (this.options.fetchesImage) await this.fetchImage(body.Image);
    slot.Image = body.Image;
    slot.Inserted = true;
    slot.ConnectedVia = 'URI';
    response.writeHead(204).end();
  }

  private send(response: ServerResponse, status: number, resource: Resource): void {
    const visible = Object.fromEntries(Object.entries(resource).filter(([key]) => !key.startsWith('__')));
    response.writeHead(status, { 'Content-Type': 'application/json', ETag: this.etagOf(resource) }).end(JSON.stringify(visible));
  }

  private error(response: ServerResponse, status: number, messageId: string, message: string): void {
    response
      .writeHead(status, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ error: { code: messageId, message, '@Message.ExtendedInfo': [{ MessageId: messageId, Message: message }] } }));
  }
}
