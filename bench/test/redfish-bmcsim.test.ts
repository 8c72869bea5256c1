import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@lightsout/lab/wait';
import { MediaCache, type MediaAccess, MediaServer, MediaUrlSigner } from '@lightsout/agent/media';
import { type RedfishDriver, createRedfishDriver } from '@lightsout/agent/redfish';
import { Bmc, type BmcFaults, bmcConfig, type TlsMaterial, selfSignedCertificate } from '@lightsout/bmcsim';

/**
 * The agent's Redfish driver and media server against the simulated BMC
 * (bmcsim's Redfish service, which really downloads the image it is given),
 * with python3-sushy and redfishtool from Debian as cross-checks on the same
 * BMC. The simulated host's serial console is the ground truth for "boots
 * from the virtual CD".
 */
let root: string;
let tls: TlsMaterial;
let otherTls: TlsMaterial;
let cache: MediaCache;
let caFile: string;
let media: MediaServer;
const accesses: MediaAccess[] = [];
const image = randomBytes(512 * 1024);
image.write('CD001', 0x8001, 'latin1');
const sha256 = createHash('sha256').update(image).digest('hex');
const bmcs: Bmc[] = [];
const drivers: RedfishDriver[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'redfish-bmcsim-'));
  [tls, otherTls] = await Promise.all([selfSignedCertificate('bmc-a', ['127.0.0.1']), selfSignedCertificate('bmc-b', ['127.0.0.1'])]);
  caFile = join(root, 'bmc-a.pem');
  writeFileSync(caFile, tls.cert);
  cache = new MediaCache({ directory: join(root, 'cache'), maxBytes: 1 << 26 });
  await cache.open();
  await cache.ingest(sha256, image.length, Readable.from([image]));
  media = new MediaServer({ cache, signer: new MediaUrlSigner(randomBytes(32)), host: '127.0.0.1', onAccess: (access) => accesses.push(access) });
  await media.start();
}, 60_000);
afterAll(async () => {
  await media.stop();
  rmSync(root, { recursive: true, force: true });
});
afterEach(async () => {
  // a driver whose BMC a test stopped cannot log out: that failure is the point of close() rejecting, not of these tests
  for (const driver of drivers.splice(0)) await driver.close().catch(() => undefined);
  for (const bmc of bmcs.splice(0)) await bmc.stop();
});

async function startBmc(faults: Partial<BmcFaults> = {}, material: TlsMaterial = tls, cycleMs = 20) {
  const bmc = new Bmc(bmcConfig('rf-01', { timings: { postMs: 20, bootMs: 20, shutdownMs: 50, cycleMs }, faults }));
  bmcs.push(bmc);
  let serial = '';
  bmc.host.on('serial', (bytes: Uint8Array) => (serial += Buffer.from(bytes).toString('latin1')));
  const endpoints = await bmc.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls: material });
  // Idle (booted, or off) before the test acts: a host still in POST spends a once-override set meanwhile when it
  // boots, as a real one does — on a loaded machine its 20 ms POST outlasted a mount and the boot override.
  await expect.poll(() => bmc.host.powerState === 'running' || bmc.host.powerState === 'off', { timeout: 15_000 }).toBe(true);
  return { bmc, url: endpoints.redfishUrl, serial: () => serial };
}

function driverFor(url: string, trust = 'trust') {
  const driver = createRedfishDriver({ serverId: 'rf-01', url, credentials: { username: 'admin', password: 'adminpass' }, trustDirectory: join(root, trust), retries: 0, insertSettleMs: 5000 });
  drivers.push(driver);
  return driver;
}

/** Resolves once the host's serial output contains `text` (event-driven, bounded). */
function serialShows(bmc: Bmc, serial: () => string, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!serial().includes(text)) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`serial never showed ${JSON.stringify(text)}:\n${serial()}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      bmc.host.off('serial', check);
    };
    bmc.host.on('serial', check);
    check();
  });
}

async function basic(url: string, method: string, path: string): Promise<Response> {
  const { request } = await import('undici');
  const { Agent } = await import('undici');
  const response = await request(`${url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Basic ${Buffer.from('admin:adminpass').toString('base64')}` },
    dispatcher: new Agent({ connect: { rejectUnauthorized: false } }),
  });
  const text = await response.body.text();
  return new Response(text || null, { status: response.statusCode });
}

describe('Redfish driver → bmcsim: mount our signed media URL, boot once from CD', () => {
  it.each([
    ['OpenBMC layout (VirtualMedia under Managers)', {}, []],
    ['DMTF layout (VirtualMedia under Systems)', { virtualMediaLocation: 'systems' as const }, []],
    ['Supermicro (refuses Inserted/WriteProtected, boots UsbCd)', { redfishFlavour: 'supermicro' as const }, ['omit-inserted']],
    ['Lenovo-style (no InsertMedia action: PATCH)', { virtualMediaPatchOnly: true }, ['patch-without-action']],
  ])('%s', async (_label, faults, expectedQuirks) => {
    const { bmc, url, serial } = await startBmc(faults);
    const driver = driverFor(url);
    const imageUrl = media.urlFor(sha256, '127.0.0.1', 600);
    const before = accesses.length;
    const { quirks, slot } = await driver.mediaInsert(imageUrl);
    expect(quirks).toEqual(expectedQuirks);
    expect(slot).toMatchObject({ inserted: true, image: imageUrl });
    // the BMC fetched every byte from the agent's media server (which logs the access once its side of the
    // response has finished: on a loaded machine that can come after the BMC has read the last byte)
    expect(bmc.host.virtualMedia).toMatchObject({ bytes: image.length });
    await waitFor('the media server to log the BMC\'s whole read', () => accesses.slice(before).some((access) => access.status === 200 && access.bytes === image.length && access.remoteAddress === '127.0.0.1'));
    await driver.mediaBootOnce();
    expect(bmc.host.bootOverride).toMatchObject({ device: 'cd', persistent: false });
    await driver.powerSet((await driver.powerGet()).power === 'on' ? 'reset' : 'on');
    await serialShows(bmc, serial, `Booting from virtual CD: ${sha256}.iso`);
    await driver.mediaEject();
    expect(bmc.host.virtualMedia).toBeUndefined();
  });

  it('logs in again when the BMC drops the session mid-way (401)', async () => {
    const { url } = await startBmc();
    const driver = driverFor(url);
    expect((await driver.powerGet()).power).toBeDefined();
    const sessions = (await (await basic(url, 'GET', '/redfish/v1/SessionService/Sessions')).json()) as { Members: { '@odata.id': string }[] };
    expect(sessions.Members).toHaveLength(1);
    for (const member of sessions.Members) expect((await basic(url, 'DELETE', member['@odata.id'])).status).toBeLessThan(300);
    expect((await driver.bootGet()).device).toBeDefined(); // 401 → re-login → retried
    const after = (await (await basic(url, 'GET', '/redfish/v1/SessionService/Sessions')).json()) as { Members: { '@odata.id': string }[] };
    expect(after.Members).toHaveLength(1);
    expect(after.Members[0]!['@odata.id']).not.toBe(sessions.Members[0]!['@odata.id']);
    await driver.close();
    const closed = (await (await basic(url, 'GET', '/redfish/v1/SessionService/Sessions')).json()) as { Members: unknown[] };
    expect(closed.Members).toHaveLength(0); // logged out on close
  });

  it('refuses a BMC whose certificate changed since first use', async () => {
    const first = await startBmc();
    expect(await driverFor(first.url, 'trust-change').powerGet()).toBeDefined();
    await first.bmc.stop();
    const rekeyed = await startBmc({}, otherTls);
    await expect(driverFor(rekeyed.url, 'trust-change').powerGet()).rejects.toMatchObject({ code: 'BMC_CERT_MISMATCH' });
  });

  it('a media URL signed for another BMC is refused (403) and the mount fails with a clear error', async () => {
    const { bmc, url } = await startBmc();
    const driver = driverFor(url);
    const foreign = media.urlFor(sha256, '127.0.0.2', 600);
    const before = accesses.length;
    await expect(driver.mediaInsert(foreign)).rejects.toMatchObject({ code: 'BMC_PROTOCOL_ERROR' });
    expect(bmc.host.virtualMedia).toBeUndefined();
    expect(accesses.slice(before).every((access) => access.status === 403)).toBe(true);
    expect(accesses.length).toBeGreaterThan(before);
  });
});

describe('cross-check with Debian clients', () => {
  function python(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      // requests lets REQUESTS_CA_BUNDLE override verify=, so trust the BMC's own certificate (pinning, as an operator would)
      const child = spawn('/usr/bin/python3', ['-c', script, ...args], { env: { ...process.env, REQUESTS_CA_BUNDLE: caFile, CURL_CA_BUNDLE: caFile, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('redfishtool reads back the mount and the boot override our driver made', async () => {
    const { url } = await startBmc({}, tls);
    const driver = driverFor(url);
    const imageUrl = media.urlFor(sha256, '127.0.0.1', 600);
    const { slot } = await driver.mediaInsert(imageUrl);
    await driver.mediaBootOnce();
    const tool = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn('redfishtool', ['-r', new URL(url).host, '-S', 'Always', '-A', 'Session', '-u', 'admin', '-p', 'adminpass', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    const vm = await tool('raw', 'GET', slot.slotPath);
    expect(vm.code, vm.stderr).toBe(0);
    expect(JSON.parse(vm.stdout)).toMatchObject({ Image: imageUrl, Inserted: true });
    const system = await tool('Systems', '-1');
    expect(system.code, system.stderr).toBe(0);
    expect(JSON.parse(system.stdout)).toMatchObject({ Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideEnabled: 'Once' } });
  });

  it('python3-sushy inserts the agent media URL into the BMC, which fetches it; sushy reads back what our driver set', async () => {
    const { bmc, url } = await startBmc({}, tls);
    const imageUrl = media.urlFor(sha256, '127.0.0.1', 600);
    const script = String.raw`
import json, sys, warnings
warnings.filterwarnings("ignore")
import sushy
url, image = sys.argv[1], sys.argv[2]
root = sushy.Sushy(url + "/redfish/v1", verify=sys.argv[-1], auth=sushy.auth.SessionAuth(username="admin", password="adminpass"))
manager = root.get_manager(root.get_manager_collection().members_identities[0])
collection = manager.virtual_media
vm = collection.get_member(collection.members_identities[0])
vm.insert_media(image, inserted=True, write_protected=True)
vm.refresh()
print(json.dumps({"image": vm.image, "inserted": vm.inserted}))
`;
    const inserted = await python(script, [url, imageUrl, caFile]);
    expect(inserted.code, inserted.stderr).toBe(0);
    expect(JSON.parse(inserted.stdout.trim().split('\n').at(-1)!)).toEqual({ image: imageUrl, inserted: true });
    expect(bmc.host.virtualMedia).toMatchObject({ bytes: image.length });

    const driver = driverFor(url);
    await driver.bootSet({ device: 'cd', persistent: true, uefi: true });
    const readBack = await python(
      String.raw`
import json, sys, warnings
warnings.filterwarnings("ignore")
import sushy
root = sushy.Sushy(sys.argv[1] + "/redfish/v1", verify=sys.argv[-1], auth=sushy.auth.SessionAuth(username="admin", password="adminpass"))
system = root.get_system(root.get_system_collection().members_identities[0])
print(json.dumps({"target": str(system.boot.target), "enabled": str(system.boot.enabled), "mode": str(system.boot.mode)}))
`,
      [url, caFile],
    );
    expect(readBack.code, readBack.stderr).toBe(0);
    const boot = JSON.parse(readBack.stdout.trim().split('\n').at(-1)!) as Record<string, string>;
    expect(boot.target).toMatch(/cd/i);
    expect(boot.enabled).toMatch(/continuous/i);
    expect(boot.mode).toMatch(/uefi/i);
  });
});

describe('Redfish driver → bmcsim fault knobs of independent BMCs', () => {
  it('a Reset that takes effect seconds after its 204: the read right after is stale, the confirmation waits for the target', async () => {
    const { PowerConfirmations } = await import('@lightsout/relay/parts');
    // a real BMC stays off for seconds in a cycle; 1 s here, so a 250 ms poll sees it
    const { bmc, url } = await startBmc({ resetDelayMinMs: 1000, resetDelayMaxMs: 3000 }, tls, 1000);
    const driver = driverFor(url);
    expect((await driver.powerGet()).power).toBe('on');
    const recorded: string[] = [];
    const confirmations = new PowerConfirmations({
      read: async () => (await driver.powerGet()).power,
      record: async (_serverId, power) => void recorded.push(power),
      status: { powerPending: async () => undefined, powerSettled: async () => undefined },
      intervals: [250],
    });
    const accepted = Date.now();
    expect(await driver.powerSet('off')).toMatchObject({ power: 'on', via: 'ForceOff' }); // the BMC has not acted yet
    const off = await confirmations.start('rf-01', 'off', 'on', accepted).settled;
    expect(off).toMatchObject({ action: 'off', confirmed: true });
    expect(off.seconds).toBeGreaterThanOrEqual(1);
    expect(bmc.host.powerState).toBe('off');
    expect(recorded[0]).toBe('on');
    await driver.powerSet('on');
    await confirmations.start('rf-01', 'on', 'off').settled;
    recorded.length = 0;
    const cycle = await confirmations.start('rf-01', 'cycle', 'on', Date.now());
    await driver.powerSet('cycle');
    expect(await cycle.settled).toMatchObject({ action: 'cycle', confirmed: true });
    // confirmed only after the off phase was seen: an "on" read before it was the state from before the cycle
    expect(recorded.indexOf('off')).toBeGreaterThanOrEqual(0);
    expect(recorded.at(-1)).toBe('on');
    await confirmations.stop();
  }, 30_000);

  it('a system configured by the name the BMC serves through a redirect', async () => {
    const { url } = await startBmc({ systemsByNameRedirect: true, redfishFlavour: 'dmtf' });
    const driver = createRedfishDriver({ serverId: 'rf-01', url, credentials: { username: 'admin', password: 'adminpass' }, trustDirectory: join(root, 'trust'), retries: 0, systemId: 'rf-01' });
    drivers.push(driver);
    expect(await driver.powerGet()).toEqual({ power: 'on' });
  });

  it('a BMC that keeps "Once" as persistent: the read-back warns', async () => {
    const { url } = await startBmc({ ignoresBootOnce: true });
    const result = await driverFor(url).bootSet({ device: 'pxe', persistent: false });
    expect(result).toMatchObject({ device: 'pxe', persistent: true });
    expect(result.warning).toMatch(/persistent instead of for the next boot only/);
  });

  it('a VirtualMedia that stores a PATCH without fetching: the slot says inserted, the media server saw nothing', async () => {
    const { bmc, url } = await startBmc({ virtualMediaStoresPatch: true });
    const driver = driverFor(url);
    const imageUrl = media.urlFor(sha256, '127.0.0.1', 600);
    const before = accesses.length;
    const { slot, quirks } = await driver.mediaInsert(imageUrl);
    expect(quirks).toEqual(['patch-without-action']);
    // what the agent's old check accepted as a mount: Inserted, nothing read, nothing connected
    expect(slot).toMatchObject({ inserted: true, connectedVia: 'NotConnected' });
    expect(accesses.slice(before)).toEqual([]);
    expect(bmc.host.virtualMedia).toBeUndefined();
  });
});
