import { afterEach, describe, expect, it } from 'vitest';
import { createRedfishDriver } from '../index.js';
import { FixtureBmc, type InsertBehaviour } from '../../testing/redfish-fixture-bmc.js';
import { INSERT_LADDER, VIRTUAL_MEDIA_QUIRKS, buildInsertAttempt, transferProtocolOf } from './index.js';

const image = 'https://10.0.0.9:8443/media/abc.iso';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function insertAgainst(insert: InsertBehaviour, quirks: string[] = []) {
  const bmc = new FixtureBmc({ insert });
  await bmc.start();
  cleanups.push(() => bmc.stop());
  const driver = createRedfishDriver({ serverId: 'x', url: bmc.url, credentials: { username: 'admin', password: 'secret' }, retries: 0, quirks, insertSettleMs: 2000 });
  cleanups.push(() => driver.close());
  const result = await driver.mediaInsert(image);
  return { bmc, driver, result };
}

describe('VirtualMedia quirk table', () => {
  it('has one entry per quirk, each with a reason', () => {
    for (const [name, quirk] of Object.entries(VIRTUAL_MEDIA_QUIRKS)) {
      expect(quirk.name).toBe(name);
      expect(quirk.reason.length).toBeGreaterThan(20);
    }
    expect(INSERT_LADDER[0]).toEqual([]);
  });

  it('builds the plain DSP2046 request without quirks', () => {
    expect(buildInsertAttempt(image, [])).toEqual({ method: 'action', body: { Image: image, Inserted: true, WriteProtected: true } });
  });

  it('omit-inserted: drops Inserted and WriteProtected; a Supermicro-style BMC accepts the second try', async () => {
    expect(buildInsertAttempt(image, ['omit-inserted'])).toEqual({ method: 'action', body: { Image: image } });
    const { bmc, result } = await insertAgainst('refuses-inserted');
    expect(result.quirks).toEqual(['omit-inserted']);
    expect(bmc.requestsTo('POST', 'InsertMedia').map((entry) => entry.body)).toEqual([{ Image: image, Inserted: true, WriteProtected: true }, { Image: image }]);
    expect(result.slot).toMatchObject({ inserted: true, image });
  });

  it('transfer-protocol-type: adds the protocol derived from the URL scheme', async () => {
    expect(transferProtocolOf('http://a/b.iso')).toBe('HTTP');
    expect(transferProtocolOf('https://a/b.iso')).toBe('HTTPS');
    expect(transferProtocolOf('smb://a/b.iso')).toBe('CIFS');
    expect(transferProtocolOf('gopher://a/b.iso')).toBeUndefined();
    const { bmc, result } = await insertAgainst('needs-transfer-protocol');
    expect(result.quirks).toEqual(['transfer-protocol-type']);
    expect(bmc.requestsTo('POST', 'InsertMedia').at(-1)!.body).toEqual({ Image: image, Inserted: true, WriteProtected: true, TransferProtocolType: 'HTTPS' });
  });

  it('transfer-method-stream: adds TransferMethod Stream (with the protocol)', async () => {
    expect(buildInsertAttempt(image, ['transfer-method-stream']).body.TransferMethod).toBe('Stream');
    const { bmc, result } = await insertAgainst('needs-transfer-method');
    expect(result.quirks).toEqual(['transfer-protocol-type', 'transfer-method-stream']);
    expect(bmc.requestsTo('POST', 'InsertMedia').at(-1)!.body).toEqual({
      Image: image,
      Inserted: true,
      WriteProtected: true,
      TransferProtocolType: 'HTTPS',
      TransferMethod: 'Stream',
    });
  });

  it('patch-without-action: PATCHes the slot with If-Match when it has no InsertMedia action', async () => {
    expect(buildInsertAttempt(image, ['patch-without-action'])).toEqual({ method: 'patch', body: { Image: image, Inserted: true, WriteProtected: true } });
    const { bmc, driver, result } = await insertAgainst('patch-only');
    expect(result.quirks).toEqual(['patch-without-action']);
    const patch = bmc.requestsTo('PATCH', '/VirtualMedia/CD1').at(-1)!;
    expect(patch.headers['if-match']).toMatch(/^W\/"\d+"$/);
    expect(bmc.requestsTo('POST', 'InsertMedia')).toHaveLength(0);
    await driver.mediaEject();
    expect(bmc.requestsTo('PATCH', '/VirtualMedia/CD1').at(-1)!.body).toEqual({ Image: null, Inserted: false });
    expect(await driver.mediaGet()).toMatchObject({ inserted: false });
  });

  it('starts with configured quirks, so a known BMC needs one request', async () => {
    const { bmc, result } = await insertAgainst('refuses-inserted', ['omit-inserted']);
    expect(result.quirks).toEqual(['omit-inserted']);
    expect(bmc.requestsTo('POST', 'InsertMedia')).toHaveLength(1);
  });

  it('remembers the quirks that worked for the next insert', async () => {
    const { bmc, driver } = await insertAgainst('needs-transfer-protocol');
    const before = bmc.requestsTo('POST', 'InsertMedia').length;
    // the driver never empties an occupied slot by itself: whose image it is, is the media service's call
    await expect(driver.mediaInsert(`${image}?again`)).rejects.toMatchObject({ code: 'MEDIA_IN_USE' });
    expect(bmc.requestsTo('POST', 'EjectMedia')).toHaveLength(0);
    await driver.mediaEject();
    await driver.mediaInsert(`${image}?again`);
    expect(bmc.requestsTo('POST', 'InsertMedia').length - before).toBe(1);
  });
});
