import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiscoveredBmc } from '@lightsout/shared';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerEntry } from '../config/types.js';
import { type AdoptedServer, AdoptedServers } from './adopted.js';
import type { ScanResult } from './scanner.js';
import { DiscoveryService } from './service.js';
import { SuiteCache } from '../ipmi/session/suite-cache.js';

/**
 * An adopted BMC is followed to a new address by its UUID or GUID, which
 * anything on the network can claim without a login; the agent then logs in
 * there with the server's credentials. A move is followed only when it
 * cannot be such a claim.
 */
const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

const UUID = '9a1d0c3e-5b7f-4e2a-8c61-2f4b9d0e7a15';
const PINNED = 'a1'.repeat(32);
const OTHER_CERTIFICATE = 'b2'.repeat(32);
const redfishBmc = (address: string, fingerprint256: string, uuid = UUID): DiscoveredBmc => ({ address, protocols: ['redfish'], redfish: { port: 443, uuid, fingerprint256 } });
const ipmiBmc = (address: string, guid: string, ipmi20 = true): DiscoveredBmc => ({ address, protocols: ['ipmi'], ipmi: { port: 623, asf: true, ipmi15: true, ipmi20, authTypes: ['md5'], guid } });

/** One scan over `findings` with `adopted` kept by the agent: where each server is afterwards, and which moves were followed. */
async function scanWith(adopted: AdoptedServer, findings: DiscoveredBmc[], suiteCache = new SuiteCache()): Promise<{ address: string | undefined; moves: ServerEntry[] }> {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-moves-'));
  directories.push(directory);
  const servers = new AdoptedServers(directory);
  servers.put(adopted);
  const moves: ServerEntry[] = [];
  const scan = async (): Promise<ScanResult> => ({ scanId: 's', ranges: ['10.9.0.0/24'], startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), addresses: 256, probes: 256, bmcs: findings });
  const service = new DiscoveryService({
    config: { ranges: ['10.9.0.0/24'], intervalSeconds: 0, probesPerSecond: 100, concurrency: 8, timeoutMs: 100, retries: 0, ipmiPort: 623, redfishPort: 443, protocols: ['ipmi', 'redfish'] },
    credentialSets: new Map([['fleet', { username: 'admin', password: 'fleet-password' }]]),
    adopted: servers,
    logger: pino({ level: 'silent' }),
    hasServer: () => false,
    report: () => true,
    onServer: (entry, moved) => moved && moves.push(entry),
    scan,
    suiteCache,
  });
  service.scanNow();
  await service.settled();
  return { address: servers.list()[0]?.address, moves };
}

const adoptedRedfish: AdoptedServer = { id: 'web-7', name: 'web-7', tenant: 'demo', rack: 'r1', credentials: 'fleet', address: '10.9.0.7', identity: UUID, redfish: { port: 443, fingerprint256: PINNED }, adoptedAt: '2026-12-07T00:00:00.000Z' };

describe('following an adopted BMC to a new address', () => {
  it('follows it when its UUID answers at exactly one other address, with the certificate pinned at adoption', async () => {
    const { address, moves } = await scanWith(adoptedRedfish, [redfishBmc('10.9.0.20', PINNED)]);
    expect(address).toBe('10.9.0.20');
    expect(moves.map((entry) => entry.redfish?.url)).toEqual(['https://10.9.0.20']);
  });

  it('does not follow a second address claiming the UUID while the BMC still answers at its own', async () => {
    expect(await scanWith(adoptedRedfish, [redfishBmc('10.9.0.7', PINNED), redfishBmc('10.9.0.66', PINNED)])).toEqual({ address: '10.9.0.7', moves: [] });
  });

  it('does not follow a UUID claimed at two other addresses: one of them is not the BMC', async () => {
    expect(await scanWith(adoptedRedfish, [redfishBmc('10.9.0.20', PINNED), redfishBmc('10.9.0.66', PINNED)])).toEqual({ address: '10.9.0.7', moves: [] });
  });

  it('does not follow a UUID that answers with another certificate: the pinned key is what proves it is the BMC', async () => {
    expect(await scanWith(adoptedRedfish, [redfishBmc('10.9.0.66', OTHER_CERTIFICATE)])).toEqual({ address: '10.9.0.7', moves: [] });
  });

  it('follows an IPMI-only BMC by its GUID when exactly one other address answers with it', async () => {
    const guid = '44454c4c-3000-1057-8031-b4c04f4d4b32';
    const adopted: AdoptedServer = { id: 'db-2', name: 'db-2', tenant: 'demo', rack: 'r1', credentials: 'fleet', address: '10.9.0.8', identity: guid, ipmi: { port: 623 }, adoptedAt: '2026-12-07T00:00:00.000Z' };
    const { address, moves } = await scanWith(adopted, [ipmiBmc('10.9.0.30', guid)]);
    expect(address).toBe('10.9.0.30');
    expect(moves.map((entry) => entry.ipmi?.host)).toEqual(['10.9.0.30']);
  });

  it('does not follow an IPMI BMC it spoke RMCP+ with to an address claiming no IPMI v2.0; one it follows keeps the refusal to fall back', async () => {
    const guid = '44454c4c-3000-1057-8031-b4c04f4d4b33';
    const adopted: AdoptedServer = { id: 'db-3', name: 'db-3', tenant: 'demo', rack: 'r1', credentials: 'fleet', address: '10.9.0.9', identity: guid, ipmi: { port: 623 }, adoptedAt: '2026-12-07T00:00:00.000Z' };
    const suites = new SuiteCache();
    suites.set('10.9.0.9:623', 17);
    expect(await scanWith(adopted, [ipmiBmc('10.9.0.31', guid, false)], suites)).toEqual({ address: '10.9.0.9', moves: [] });
    expect((await scanWith(adopted, [ipmiBmc('10.9.0.32', guid)], suites)).address).toBe('10.9.0.32');
    expect(suites.get('10.9.0.32:623')).toBe(17);
  });
});
