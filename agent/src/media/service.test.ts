import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedfishDriver, createRedfishDriver } from '../redfish/index.js';
import { FixtureBmc, type FixtureOptions } from '../testing/redfish-fixture-bmc.js';
import { MediaService } from './service.js';

/**
 * The mount job against a Redfish service on loopback: a mount is a success
 * only when the BMC was seen reading the image (or reports it connected),
 * never on a 204 alone, and it never throws away an image someone else
 * inserted unless asked to.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const image = randomBytes(64 * 1024);
const sha256 = createHash('sha256').update(image).digest('hex');
const SLOT = '/redfish/v1/Managers/BMC/VirtualMedia/CD1';

/** A logger whose JSON lines the test reads. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function setup(fixture: FixtureOptions, logger: pino.Logger = pino({ level: 'silent' })) {
  const bmc = new FixtureBmc(fixture);
  await bmc.start();
  cleanups.push(() => bmc.stop());
  const driver: RedfishDriver = createRedfishDriver({ serverId: 'web-01', url: bmc.url, credentials: { username: 'admin', password: 'secret' }, retries: 0, insertSettleMs: 1000 });
  cleanups.push(() => driver.close());
  const directory = mkdtempSync(join(tmpdir(), 'media-service-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  const service = new MediaService(
    {
      cacheDirectory: join(directory, 'cache'),
      cacheBytes: 1 << 24,
      keyFile: join(directory, 'media.key'),
      listenHost: '127.0.0.1',
      listenPort: 0,
      urlTtlSeconds: 3600,
      autoEjectSeconds: 0,
      mountsFile: join(directory, 'mounts.json'),
      fetchWaitMs: 1500,
    },
    { relay: () => 'http://127.0.0.1:9', logger, signJwt: async () => 'unused', mediaDriverFor: () => driver, hasServer: (id) => id === 'web-01' },
  );
  await service.start();
  cleanups.push(() => service.stop());
  await service.cache.ingest(sha256, image.length, Readable.from([image]));
  const mount = async (options: { boot?: boolean; replace?: boolean } = {}) => {
    service.mount({ serverId: 'web-01', sha256, filename: 'ubuntu.iso', mountedBy: 'alice', boot: options.boot === true, ...(options.replace ? { replace: true } : {}) });
    return service.settled('web-01');
  };
  return { bmc, service, mount };
}

describe('MediaService mount', () => {
  it('fails with MEDIA_NOT_FETCHED on a BMC that stores the image without ever reading it, and leaves the slot empty', async () => {
    const log = capturedLog();
    const { bmc, service, mount } = await setup({ insert: 'patch-only', patchStoresOnly: true }, log.logger);
    const job = await mount({ boot: true });
    expect(job).toMatchObject({ step: 'failed', failedStep: 'mounting', error: { code: 'MEDIA_NOT_FETCHED' } });
    // a BMC's answer, not an agent fault: a warning with its reason and hint, no stack
    const failure = log.lines.find((line) => line['msg'] === 'virtual media mount failed');
    expect(failure).toMatchObject({ level: 40, serverId: 'web-01', step: 'mounting', code: 'MEDIA_NOT_FETCHED', reason: expect.stringMatching(/did not read it/), hint: expect.any(String) });
    expect(JSON.stringify(failure)).not.toContain('stack');
    expect(bmc.requestsTo('POST', 'ComputerSystem.Reset')).toHaveLength(0);
    expect(bmc.resource(SLOT)).toMatchObject({ Image: null, Inserted: false });
    expect(service.status('web-01').mount).toBeNull();
  });

  it('succeeds once the BMC has read the signed URL, though it never reports the image connected', async () => {
    // nothing but the read can confirm this mount (a BMC that also reports it connected may be confirmed either way first)
    const { bmc, mount } = await setup({ insert: 'patch-only', patchStoresOnly: true, fetchesImage: true });
    expect(await mount()).toMatchObject({ step: 'mounted', confirmedBy: 'fetched' });
    expect(bmc.fetches.map((entry) => entry.status)).toEqual([206]);
  });

  it('succeeds on a BMC that reports the image inserted and connected, though the agent never saw it read', async () => {
    // the fixture's InsertMedia sets ConnectedVia: URI without reading a byte (a BMC that reads the image later, or through a cache)
    const { bmc, mount } = await setup({});
    expect(await mount()).toMatchObject({ step: 'mounted', confirmedBy: 'connected' });
    expect(bmc.fetches).toEqual([]);
    expect(bmc.resource(SLOT)).toMatchObject({ Inserted: true, ConnectedVia: 'URI' });
  });

  it('fails with MEDIA_NOT_FETCHED and the media server\'s reason when the BMC reads from another address than the URL was signed for', async () => {
    const { bmc, service, mount } = await setup({ fetchesImage: true, fetchFrom: '127.0.0.2' });
    const job = await mount({ boot: true });
    expect(job).toMatchObject({ step: 'failed', failedStep: 'mounting', error: { code: 'MEDIA_NOT_FETCHED', message: expect.stringMatching(/media server refused it/) } });
    expect(bmc.fetches.map((entry) => entry.status)).toEqual([403]);
    expect(bmc.requestsTo('POST', 'ComputerSystem.Reset')).toHaveLength(0);
    expect(service.status('web-01').mount).toBeNull();
  });

  it('never ejects an image someone else inserted unless asked to replace it', async () => {
    const { bmc, mount } = await setup({ fetchesImage: true });
    Object.assign(bmc.resource(SLOT), { Image: 'http://10.0.0.7/installer.iso', Inserted: true, ConnectedVia: 'URI' });
    expect(await mount()).toMatchObject({ step: 'failed', error: { code: 'MEDIA_IN_USE' } });
    expect(bmc.requestsTo('POST', 'EjectMedia')).toHaveLength(0);
    expect(bmc.resource(SLOT)).toMatchObject({ Image: 'http://10.0.0.7/installer.iso', Inserted: true });
    expect(await mount({ replace: true })).toMatchObject({ step: 'mounted' });
    expect(bmc.requestsTo('POST', 'EjectMedia')).toHaveLength(1);
    // our own image is replaced without asking
    expect(await mount()).toMatchObject({ step: 'mounted' });
  });

  it('warns when the BMC kept boot-from-CD persistent, and restores the previous override at eject', async () => {
    const { bmc, service, mount } = await setup({ fetchesImage: true, ignoresOnce: true });
    const job = await mount({ boot: true });
    expect(job).toMatchObject({ step: 'booting', powerAction: 'on' });
    expect(job?.warning).toMatch(/persistent.*restored when the image is ejected/);
    const system = '/redfish/v1/Systems/437XR1138R2';
    expect(bmc.resource(system).Boot).toMatchObject({ BootSourceOverrideTarget: 'Cd', BootSourceOverrideEnabled: 'Continuous' });
    await service.eject('web-01');
    expect(bmc.resource(system).Boot).toMatchObject({ BootSourceOverrideEnabled: 'Disabled' });
  });
});

describe('MediaService eject', () => {
  it('answers what it ejected: the name of the image this agent mounted, the BMC\'s image URL (no credentials) for another\'s, or null for an empty slot', async () => {
    const { bmc, service, mount } = await setup({ fetchesImage: true });
    expect(await mount()).toMatchObject({ step: 'mounted' });
    expect(await service.eject('web-01')).toEqual({ ejected: 'ubuntu.iso' });
    expect(bmc.resource(SLOT)).toMatchObject({ Inserted: false });
    // Nothing inserted: nothing ejected, and it says so (no EjectMedia sent to an empty slot).
    expect(await service.eject('web-01')).toEqual({ ejected: null });
    expect(bmc.requestsTo('POST', 'EjectMedia')).toHaveLength(1);
    // An image someone else inserted through the BMC: named by its URL, without the credentials it may carry.
    Object.assign(bmc.resource(SLOT), { Image: 'http://user:secret@10.0.0.7/installer.iso?token=abc', Inserted: true, ConnectedVia: 'URI' });
    expect(await service.eject('web-01')).toEqual({ ejected: 'http://10.0.0.7/installer.iso' });
  });
});
