import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DiscoveredBmc, LightsoutError } from '@lightsout/shared';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config/load.js';
import type { CredentialSet, DiscoveryConfig, ServerEntry } from '../config/types.js';
import { selfSignedBmcCertificates, type TestCertificate } from '../testing/bmc-tls-certificates.js';
import { type AdoptedServer, AdoptedServers } from './adopted.js';
import type { ScanResult } from './scanner.js';
import { DiscoveryService } from './service.js';

/**
 * Which BMC is sent which credential set is the agent's decision, not the
 * relay's: `discovery.adopt` comes from a gateway, and a gateway that names a
 * device of its choosing with the production set would otherwise have the
 * agent log in there with the production password. A credential set with
 * `ranges` is sent only to addresses within them; one without IPMI v1.5
 * allowed is never used in a v1.5 login (its MD5 AuthCode can be cracked
 * offline by whoever receives it).
 */
const directories: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
let certificate: TestCertificate;
beforeAll(() => {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-adopt-credentials-'));
  directories.push(directory);
  [certificate] = selfSignedBmcCertificates(directory, ['rogue']) as [TestCertificate];
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

const PASSWORD = 'Pr0d-BMC-Secret';

/** A device on the OOB network that answers Redfish's service root to anyone and records every request that carries credentials. */
async function rogueDevice(): Promise<{ port: number; credentialed: string[]; requests: string[] }> {
  const credentialed: string[] = [];
  const requests: string[] = [];
  const server: Server = createServer({ key: certificate.key, cert: certificate.cert }, (request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      requests.push(`${request.method} ${request.url}`);
      if (request.headers.authorization !== undefined || body.includes(PASSWORD)) credentialed.push(`${request.method} ${request.url}`);
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ '@odata.id': '/redfish/v1/', RedfishVersion: '1.6.0', UUID: '11111111-2222-3333-4444-555555555555', Systems: { '@odata.id': '/redfish/v1/Systems' } }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, credentialed, requests };
}

function discoveryConfig(redfishPort: number, protocols: DiscoveryConfig['protocols'] = ['redfish']): DiscoveryConfig {
  return { ranges: ['127.0.0.0/24'], intervalSeconds: 0, probesPerSecond: 100, concurrency: 4, timeoutMs: 2000, retries: 0, ipmiPort: 623, redfishPort, protocols };
}

function serviceWith(options: { config: DiscoveryConfig; sets: Record<string, CredentialSet>; scan?: (settings: { ranges: string[] }) => Promise<ScanResult>; adopted?: AdoptedServer[] }) {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-adopt-state-'));
  directories.push(directory);
  const adopted = new AdoptedServers(directory);
  for (const server of options.adopted ?? []) adopted.put(server);
  const served: { entry: ServerEntry; moved: boolean }[] = [];
  const service = new DiscoveryService({
    config: options.config,
    credentialSets: new Map(Object.entries(options.sets)),
    adopted,
    logger: pino({ level: 'silent' }),
    hasServer: () => false,
    report: () => true,
    onServer: (entry, moved) => served.push({ entry, moved }),
    ...(options.scan === undefined ? {} : { scan: options.scan }),
  });
  return { service, adopted, served };
}

const adoptParams = (address: string, credentials: string) => ({ address, serverId: 'rogue-1', name: 'x', tenant: 'acme', rack: 'r1', credentials });

async function refusal(work: Promise<unknown>): Promise<LightsoutError> {
  const error = await work.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(LightsoutError);
  return error as LightsoutError;
}

describe('adoption sends a credential set only where the agent config allows it', () => {
  it('refuses an address outside the set\'s ranges, before any request to it, and adopts nothing', async () => {
    const rogue = await rogueDevice();
    const { service, adopted, served } = serviceWith({ config: discoveryConfig(rogue.port), sets: { prod: { username: 'admin', password: PASSWORD, ranges: ['10.0.4.0/24'] } } });
    const error = await refusal(service.adopt(adoptParams('127.0.0.1', 'prod')));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.message).toBe('credential set prod may be used only in 10.0.4.0/24, and 127.0.0.1 is not in it');
    expect(error.hint).toMatch(/ranges of credential set prod/);
    expect(error.details).toEqual({ reason: 'CREDENTIALS_OUT_OF_RANGE' });
    expect(rogue.requests).toEqual([]);
    expect(rogue.credentialed).toEqual([]);
    expect(adopted.list()).toEqual([]);
    expect(served).toEqual([]);
  });

  it('adopts an address within the set\'s ranges, pinning what the scan saw; the entry carries the secret without the ranges', async () => {
    const rogue = await rogueDevice();
    const { service, served } = serviceWith({ config: discoveryConfig(rogue.port), sets: { lab: { username: 'admin', password: PASSWORD, ranges: ['10.0.4.0/24', '127.0.0.0/28'] } } });
    expect(await service.adopt(adoptParams('127.0.0.1', 'lab'))).toEqual({ serverId: 'rogue-1', address: '127.0.0.1', protocols: ['redfish'] });
    expect(served).toHaveLength(1);
    expect(served[0]!.entry.redfish).toEqual({ url: `https://127.0.0.1:${rogue.port}`, credentials: { username: 'admin', password: PASSWORD }, tls: { insecure: false, fingerprint256: certificate.fingerprint }, quirks: [] });
    // The scan's one unauthenticated GET, nothing with credentials (the poller logs in later, through the pin).
    expect(rogue.requests).toEqual(['GET /redfish/v1/']);
    expect(rogue.credentialed).toEqual([]);
  });

  it('adopts with a set that names no ranges anywhere in the discovery ranges (on the relay\'s word)', async () => {
    const rogue = await rogueDevice();
    const { service } = serviceWith({ config: discoveryConfig(rogue.port), sets: { lab: { username: 'admin', password: PASSWORD } } });
    expect((await service.adopt(adoptParams('127.0.0.1', 'lab'))).address).toBe('127.0.0.1');
  });
});

const GUID = '44454c4c-3000-1057-8031-b4c04f4d4b32';
const ipmiBmc = (address: string, ipmi20: boolean): DiscoveredBmc => ({ address, protocols: ['ipmi'], ipmi: { port: 623, asf: true, ipmi15: true, ipmi20, authTypes: ['md5'], guid: GUID } });
const scanOf = (bmcs: DiscoveredBmc[]) => async (): Promise<ScanResult> => ({ scanId: 's', ranges: ['10.9.0.0/24'], startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), addresses: 1, probes: 1, bmcs });
const ipmiConfig: DiscoveryConfig = { ranges: ['10.9.0.0/24'], intervalSeconds: 0, probesPerSecond: 100, concurrency: 4, timeoutMs: 100, retries: 0, ipmiPort: 623, redfishPort: 443, protocols: ['ipmi'] };

describe('adopted IPMI BMCs and v1.5', () => {
  it('logs in to an adopted BMC over RMCP+ only: no fallback to a v1.5 MD5 login, wherever it answers', async () => {
    const { service, served } = serviceWith({ config: ipmiConfig, sets: { fleet: { username: 'admin', password: PASSWORD } }, scan: scanOf([ipmiBmc('10.9.0.5', true)]) });
    await service.adopt({ ...adoptParams('10.9.0.5', 'fleet'), serverId: 'db-1' });
    expect(served[0]!.entry.ipmi).toMatchObject({ host: '10.9.0.5', protocol: 'lanplus', credentials: { username: 'admin', password: PASSWORD } });
  });

  it('refuses a BMC that claims no IPMI v2.0 unless its set allows v1.5', async () => {
    const refused = serviceWith({ config: ipmiConfig, sets: { fleet: { username: 'admin', password: PASSWORD } }, scan: scanOf([ipmiBmc('10.9.0.6', false)]) });
    const error = await refusal(refused.service.adopt({ ...adoptParams('10.9.0.6', 'fleet'), serverId: 'db-2' }));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.hint).toMatch(/allowIpmiV15/);
    expect(error.details).toEqual({ reason: 'IPMI_V15_NOT_ALLOWED' });
    expect(refused.served).toEqual([]);
    const allowed = serviceWith({ config: ipmiConfig, sets: { old: { username: 'admin', password: PASSWORD, allowIpmiV15: true } }, scan: scanOf([ipmiBmc('10.9.0.6', false)]) });
    await allowed.service.adopt({ ...adoptParams('10.9.0.6', 'old'), serverId: 'db-2' });
    expect(allowed.served[0]!.entry.ipmi).toMatchObject({ host: '10.9.0.6', protocol: 'auto' });
  });
});

describe('following a move keeps to the set\'s ranges', () => {
  const adoptedAt: AdoptedServer = { id: 'db-3', name: 'db-3', tenant: 'demo', rack: 'r1', credentials: 'fleet', address: '10.9.0.9', identity: GUID, ipmi: { port: 623 }, adoptedAt: '2026-12-07T00:00:00.000Z' };

  it('does not follow an identity to an address outside its set\'s ranges', async () => {
    const { service, adopted, served } = serviceWith({ config: ipmiConfig, sets: { fleet: { username: 'admin', password: PASSWORD, ranges: ['10.9.0.0/28'] } }, scan: scanOf([ipmiBmc('10.9.0.66', true)]), adopted: [adoptedAt] });
    service.scanNow();
    await service.settled();
    expect(adopted.get('db-3')?.address).toBe('10.9.0.9');
    expect(served).toEqual([]);
  });

  it('does not follow an identity to an address claiming no IPMI v2.0 unless the set allows v1.5 (the agent never spoke to it before)', async () => {
    const refused = serviceWith({ config: ipmiConfig, sets: { fleet: { username: 'admin', password: PASSWORD } }, scan: scanOf([ipmiBmc('10.9.0.13', false)]), adopted: [adoptedAt] });
    refused.service.scanNow();
    await refused.service.settled();
    expect(refused.adopted.get('db-3')?.address).toBe('10.9.0.9');
    expect(refused.served).toEqual([]);
    const allowed = serviceWith({ config: ipmiConfig, sets: { fleet: { username: 'admin', password: PASSWORD, allowIpmiV15: true } }, scan: scanOf([ipmiBmc('10.9.0.13', false)]), adopted: [adoptedAt] });
    allowed.service.scanNow();
    await allowed.service.settled();
    expect(allowed.served.map(({ entry }) => [entry.ipmi?.host, entry.ipmi?.protocol])).toEqual([['10.9.0.13', 'auto']]);
  });

  it('follows it within them', async () => {
    const { service, adopted, served } = serviceWith({ config: ipmiConfig, sets: { fleet: { username: 'admin', password: PASSWORD, ranges: ['10.9.0.0/28'] } }, scan: scanOf([ipmiBmc('10.9.0.12', true)]), adopted: [adoptedAt] });
    service.scanNow();
    await service.settled();
    expect(adopted.get('db-3')?.address).toBe('10.9.0.12');
    expect(served.map(({ entry, moved }) => [entry.ipmi?.host, moved])).toEqual([['10.9.0.12', true]]);
  });
});

describe('agent config: credential set ranges', () => {
  const base = { relay: 'http://127.0.0.1:1', name: 'a', stateDir: '/tmp/x' };
  const env = { PW: 'pw' };

  it('reads ranges and allowIpmiV15 per set', () => {
    const config = resolveConfig({ ...base, credentials: [{ id: 'prod', username: 'admin', passwordEnv: 'PW', ranges: ['10.0.4.0/24'], allowIpmiV15: true }, { id: 'lab', username: 'admin', passwordEnv: 'PW' }] }, { source: 'agent.yaml', base: '/', env });
    expect(config.credentialSets.get('prod')).toEqual({ username: 'admin', password: 'pw', ranges: ['10.0.4.0/24'], allowIpmiV15: true });
    expect(config.credentialSets.get('lab')).toEqual({ username: 'admin', password: 'pw' });
  });

  it('names a range it cannot use', () => {
    let error: unknown;
    try {
      resolveConfig({ ...base, credentials: [{ id: 'prod', username: 'admin', passwordEnv: 'PW', ranges: ['10.0.4.1/24'] }] }, { source: 'agent.yaml', base: '/', env });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('credentials[0].ranges[0]') });
  });
});

describe('the probes of adoptions', () => {
  it('run one at a time: each adoption of an address the last scan did not find probes it alone, never beside another', async () => {
    let inFlight = 0;
    let most = 0;
    const started: string[] = [];
    const finish: (() => void)[] = [];
    let onStart: (() => void) | undefined;
    const nextStart = () => new Promise<void>((resolve) => (onStart = resolve));
    const scan = async (settings: { ranges: string[] }): Promise<ScanResult> => {
      started.push(settings.ranges[0]!);
      onStart?.();
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => finish.push(resolve));
      inFlight--;
      const address = settings.ranges[0]!.replace(/\/32$/, '');
      return { scanId: 's', ranges: settings.ranges, startedAt: '', finishedAt: '', addresses: 1, probes: 1, bmcs: [{ ...ipmiBmc(address, true), ipmi: { ...ipmiBmc(address, true).ipmi!, guid: `44454c4c-3000-1057-8031-b4c04f4d4b${address.slice(-2)}` } }] };
    };
    const { service } = serviceWith({ config: ipmiConfig, sets: { fleet: { username: 'admin', password: PASSWORD } }, scan });
    let started0 = nextStart();
    const adoptions = ['10.9.0.21', '10.9.0.22', '10.9.0.23'].map((address, index) => service.adopt({ ...adoptParams(address, 'fleet'), serverId: `db-${index}` }));
    for (let round = 0; round < 3; round++) {
      await started0;
      await Promise.resolve();
      expect(finish).toHaveLength(1);
      started0 = nextStart();
      finish.shift()!();
    }
    expect((await Promise.all(adoptions)).map((result) => result.address)).toEqual(['10.9.0.21', '10.9.0.22', '10.9.0.23']);
    expect(started).toEqual(['10.9.0.21/32', '10.9.0.22/32', '10.9.0.23/32']);
    expect(most).toBe(1);
  });
});
