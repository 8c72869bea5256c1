import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '@lightsout/lab/wait';
import { Bmc } from '../bmc/bmc.js';
import { bmcConfig, type BmcFaults } from '../bmc/config.js';
import { ManualClock } from '../host/clock.js';
import { selfSignedCertificate } from '../web/tls.js';

// Behaviour the third-party clients do not exercise: ETag preconditions,
// vendor refusals, session expiry, PATCH-only media and /console0.

let imageServer: Server;
let imageUrl: string;
const bmcs: Bmc[] = [];

beforeAll(async () => {
  imageServer = createServer((_request, response) => response.writeHead(200).end(Buffer.alloc(4096, 1)));
  await new Promise<void>((resolve) => imageServer.listen(0, '127.0.0.1', resolve));
  const address = imageServer.address();
  imageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/boot.img`;
});
afterAll(() => new Promise<void>((resolve) => imageServer.close(() => resolve())));
afterEach(async () => {
  for (const bmc of bmcs.splice(0)) await bmc.stop();
});

/** Redfish documents are deep JSON; tests read them through this loose shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Document = Record<string, any>;
const json = async (response: Response) => (await response.json()) as Document;

async function start(faults: Partial<BmcFaults> = {}, clock?: ManualClock) {
  const bmc = new Bmc(bmcConfig('unit-01', { faults, startPowered: false, timings: { postMs: 5, bootMs: 5 } }), clock);
  bmcs.push(bmc);
  const { redfishUrl } = await bmc.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls: undefined });
  const basic = { authorization: `Basic ${Buffer.from('admin:adminpass').toString('base64')}` };
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = basic) =>
    fetch(redfishUrl + path, { method, headers: { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { bmc, redfishUrl, call, basic };
}

describe('Redfish service', () => {
  it('rejects a PATCH whose If-Match is stale with 412', async () => {
    const { bmc, call, basic } = await start();
    const first = await call('GET', '/redfish/v1/Systems/system');
    const etag = first.headers.get('etag')!;
    expect((await json(first)).Boot.BootSourceOverrideEnabled).toBe('Disabled');
    expect((await call('PATCH', '/redfish/v1/Systems/system', { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } }, { ...basic, 'if-match': etag })).status).toBe(204);
    const stale = await call('PATCH', '/redfish/v1/Systems/system', { Boot: { BootSourceOverrideTarget: 'Hdd' } }, { ...basic, 'if-match': etag });
    expect(stale.status).toBe(412);
    expect((await json(stale)).error.code).toMatch(/PreconditionFailed/);
    expect(bmc.host.bootOverride.device).toBe('pxe');
  });

  it('Supermicro flavour refuses Inserted/WriteProtected and Cd does not boot virtual media', async () => {
    const { call } = await start({ redfishFlavour: 'supermicro' });
    const refused = await call('POST', '/redfish/v1/Managers/1/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia', { Image: imageUrl, Inserted: true });
    expect(refused.status).toBe(400);
    const system = await json(await call('GET', '/redfish/v1/Systems/1'));
    expect(system.Boot['BootSourceOverrideTarget@Redfish.AllowableValues']).toContain('UsbCd');
  });

  it('expires sessions mid-use when sessionExpiryMs is set (401), and logs out with DELETE', async () => {
    const { bmc, call, redfishUrl } = await start({ sessionExpiryMs: 1 });
    const login = await fetch(`${redfishUrl}/redfish/v1/SessionService/Sessions`, { method: 'POST', body: JSON.stringify({ UserName: 'admin', Password: 'adminpass' }) });
    expect(login.status).toBe(201);
    const token = login.headers.get('x-auth-token')!;
    expect(login.headers.get('location')).toMatch(/^\/redfish\/v1\/SessionService\/Sessions\/\w+/);
    const started = bmc.clock.now();
    await waitFor('expiry', () => bmc.clock.now() - started > 2, { timeoutMs: 1000, intervalMs: 1 });
    expect((await call('GET', '/redfish/v1/Systems/system', undefined, { 'x-auth-token': token })).status).toBe(401);
    const wrong = await fetch(`${redfishUrl}/redfish/v1/SessionService/Sessions`, { method: 'POST', body: JSON.stringify({ UserName: 'admin', Password: 'x' }) });
    expect(wrong.status).toBe(401);
  });

  it('mounts by PATCH when there is no InsertMedia action', async () => {
    const { bmc, call } = await start({ virtualMediaPatchOnly: true });
    const media = await json(await call('GET', '/redfish/v1/Managers/bmc/VirtualMedia/CD1'));
    expect(media.Actions).toBeUndefined();
    expect((await call('POST', '/redfish/v1/Managers/bmc/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia', { Image: imageUrl })).status).toBe(404);
    expect((await call('PATCH', '/redfish/v1/Managers/bmc/VirtualMedia/CD1', { Image: imageUrl, Inserted: true })).status).toBe(204);
    expect(bmc.host.virtualMedia).toMatchObject({ name: 'boot.img', bytes: 4096 });
    expect((await call('PATCH', '/redfish/v1/Managers/bmc/VirtualMedia/CD1', { Image: null })).status).toBe(204);
    expect(bmc.host.virtualMedia).toBeUndefined();
  });

  it('says when it begins reading an image and when it holds all of it, in that order (benchmarks time the fetch)', async () => {
    const { bmc, call } = await start();
    const events: string[] = [];
    bmc.host.on('mediaFetch', (url) => events.push(`fetch ${url}`));
    bmc.host.on('mediaInserted', (image) => events.push(`inserted ${image.bytes}`));
    expect((await call('POST', '/redfish/v1/Managers/bmc/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia', { Image: imageUrl })).status).toBe(204);
    expect(events).toEqual([`fetch ${imageUrl}`, 'inserted 4096']);
  });

  it('virtualMediaStoresPatch: stores a PATCHed Image as JSON, answers 204 and fetches nothing', async () => {
    let fetched = 0;
    const counting = createServer((_request, response) => {
      fetched += 1;
      response.writeHead(200).end(Buffer.alloc(4096, 1));
    });
    await new Promise<void>((resolve) => counting.listen(0, '127.0.0.1', resolve));
    const address = counting.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/never.iso`;
    try {
      const { bmc, call } = await start({ virtualMediaStoresPatch: true });
      const before = await json(await call('GET', '/redfish/v1/Managers/bmc/VirtualMedia/CD1'));
      expect(before.Actions).toBeUndefined();
      expect((await call('PATCH', '/redfish/v1/Managers/bmc/VirtualMedia/CD1', { Image: url, Inserted: true })).status).toBe(204);
      const after = await json(await call('GET', '/redfish/v1/Managers/bmc/VirtualMedia/CD1'));
      expect(after).toMatchObject({ Image: url, Inserted: true, ConnectedVia: 'NotConnected' });
      expect(fetched).toBe(0);
      expect(bmc.host.virtualMedia).toBeUndefined();
    } finally {
      await new Promise<void>((resolve) => counting.close(() => resolve()));
    }
  });

  it('ignoresBootOnce: a "Once" override reads back as "Continuous"', async () => {
    const { bmc, call } = await start({ ignoresBootOnce: true });
    expect((await call('PATCH', '/redfish/v1/Systems/system', { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } })).status).toBe(204);
    expect((await json(await call('GET', '/redfish/v1/Systems/system'))).Boot.BootSourceOverrideEnabled).toBe('Continuous');
    expect(bmc.host.bootOverride).toMatchObject({ device: 'pxe', persistent: true });
  });

  it('systemsByNameRedirect: Systems/{Name} redirects to Systems/{Id}', async () => {
    const { call, redfishUrl, basic } = await start({ systemsByNameRedirect: true });
    const redirected = await fetch(`${redfishUrl}/redfish/v1/Systems/unit-01/ResetActionInfo`, { headers: basic, redirect: 'manual' });
    expect(redirected.status).toBe(301);
    expect(redirected.headers.get('location')).toBe('/redfish/v1/Systems/system/ResetActionInfo');
    const followed = await call('GET', '/redfish/v1/Systems/unit-01');
    expect((await json(followed)).Id).toBe('system');
  });

  it('resetDelay: Reset answers 204 at once and takes effect later, after a seeded delay in [min, max]', async () => {
    const clock = new ManualClock();
    const { bmc, call } = await start({ resetDelayMinMs: 1000, resetDelayMaxMs: 11_000 }, clock);
    expect((await call('POST', '/redfish/v1/Systems/system/Actions/ComputerSystem.Reset', { ResetType: 'On' })).status).toBe(204);
    expect((await json(await call('GET', '/redfish/v1/Systems/system'))).PowerState).toBe('Off');
    clock.advance(999);
    expect(bmc.host.poweredOn).toBe(false);
    let waited = 999;
    while (!bmc.host.poweredOn && waited < 11_000) {
      clock.advance(100);
      waited += 100;
    }
    expect(bmc.host.poweredOn).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect((await call('POST', '/redfish/v1/Systems/system/Actions/ComputerSystem.Reset', { ResetType: 'Bogus' })).status).toBe(400);
  });

  it('downloads HTTPS images from self-signed servers only when mediaAllowSelfSigned', async () => {
    const tls = await selfSignedCertificate('media', ['127.0.0.1']);
    const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (_request, response) => response.writeHead(200).end(Buffer.alloc(2048, 7)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/secure.iso`;
    try {
      const { bmc, call } = await start();
      expect((await call('POST', '/redfish/v1/Managers/bmc/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia', { Image: url })).status).toBe(204);
      expect(bmc.host.virtualMedia).toMatchObject({ name: 'secure.iso', bytes: 2048 });
      const strict = new Bmc(bmcConfig('strict-01', { mediaAllowSelfSigned: false, startPowered: false }));
      bmcs.push(strict);
      const { redfishUrl } = await strict.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls: undefined });
      const refused = await fetch(`${redfishUrl}/redfish/v1/Managers/bmc/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('admin:adminpass').toString('base64')}` },
        body: JSON.stringify({ Image: url }),
      });
      expect(refused.status).toBe(400);
      expect((await json(refused)).error.code).toMatch(/CouldNotEstablishConnection/);
      expect(strict.host.virtualMedia).toBeUndefined();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('streams the host serial console over /console0 both ways', async () => {
    const { redfishUrl, basic, call } = await start();
    const webSocket = new WebSocket(`${redfishUrl.replace('http', 'ws')}/console0`, { headers: basic });
    let received = '';
    webSocket.on('message', (data: Buffer) => (received += data.toString('latin1')));
    await new Promise((resolve) => webSocket.once('open', resolve));
    expect((await call('POST', '/redfish/v1/Systems/system/Actions/ComputerSystem.Reset', { ResetType: 'On' })).status).toBe(204);
    const wake = (callback: () => void) => (webSocket.on('message', callback), () => webSocket.off('message', callback));
    await waitFor('login prompt', () => received.endsWith('unit-01 login: '), { timeoutMs: 5000, wake });
    webSocket.send(Buffer.from('root\r'));
    await waitFor('shell prompt', () => received.endsWith('root@unit-01:~# '), { timeoutMs: 5000, wake });
    webSocket.close();
    const entries = await json(await call('GET', '/redfish/v1/Managers/bmc/LogServices/SEL/Entries'));
    expect(entries.Members.map((entry: Document) => entry.Message)).toEqual(['Host power on']);
    const thermal = await json(await call('GET', '/redfish/v1/Chassis/chassis/Thermal'));
    expect(thermal.Temperatures[0].ReadingCelsius).toBeGreaterThan(40);
    const sensors = await json(await call('GET', '/redfish/v1/Chassis/chassis/Sensors'));
    expect(sensors.Members.map((member: Document) => member['@odata.id'])).toContain('/redfish/v1/Chassis/chassis/Sensors/fan_fan1');
    const fan = await json(await call('GET', '/redfish/v1/Chassis/chassis/Sensors/fan_fan1'));
    expect(fan).toMatchObject({ ReadingType: 'Rotational', ReadingUnits: 'RPM' });
    expect(fan.Reading).toBeGreaterThan(4000);
  });
});
