import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRedfishDriver } from './index.js';
import { bmcTlsFixture } from '../testing/bmc-tls-certificates.js';
import { FixtureBmc } from '../testing/redfish-fixture-bmc.js';

/** Two different self-signed BMC certificates, made by openssl for 127.0.0.1. */
const tls = bmcTlsFixture('redfish-tls-');
const { certificates, cleanups } = tls;

async function bmcWith(index: number): Promise<FixtureBmc> {
  const bmc = new FixtureBmc({ tls: certificates[index]! });
  await bmc.start();
  cleanups.push(() => bmc.stop());
  return bmc;
}

function driverFor(bmc: FixtureBmc, options: Partial<Parameters<typeof createRedfishDriver>[0]>) {
  const driver = createRedfishDriver({ serverId: 'web-01', url: bmc.url, credentials: { username: 'admin', password: 'secret' }, retries: 0, ...options });
  cleanups.push(() => driver.close());
  return driver;
}

describe('BMC TLS trust', () => {
  it('records the certificate on first use, accepts it again, and refuses a changed one before sending credentials', async () => {
    const trustDirectory = join(tls.directory, 'trust-tofu');
    const recorded: string[] = [];
    const first = await bmcWith(0);
    expect(await driverFor(first, { trustDirectory, onCertificateRecorded: (fingerprint) => recorded.push(fingerprint) }).powerGet()).toEqual({ power: 'off' });
    expect(recorded).toEqual([certificates[0]!.fingerprint]);
    expect(readFileSync(join(trustDirectory, 'web-01.sha256'), 'utf8').trim()).toBe(certificates[0]!.fingerprint);
    expect(await driverFor(first, { trustDirectory }).powerGet()).toEqual({ power: 'off' });

    const rekeyed = await bmcWith(1);
    const failure = await driverFor(rekeyed, { trustDirectory }).powerGet().catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'BMC_CERT_MISMATCH', details: { expected: certificates[0]!.fingerprint, actual: certificates[1]!.fingerprint } });
    expect(rekeyed.requests).toEqual([]); // refused at the handshake: no request, no password
    expect(readFileSync(join(trustDirectory, 'web-01.sha256'), 'utf8').trim()).toBe(certificates[0]!.fingerprint);
  });

  it('checks a pinned fingerprint', async () => {
    const bmc = await bmcWith(1);
    const colonFormat = certificates[1]!.fingerprint.toUpperCase().match(/../g)!.join(':');
    expect(await driverFor(bmc, { tls: { fingerprint256: colonFormat } }).powerGet()).toEqual({ power: 'off' });
    await expect(driverFor(bmc, { tls: { fingerprint256: certificates[0]!.fingerprint } }).powerGet()).rejects.toMatchObject({ code: 'BMC_CERT_MISMATCH' });
  });

  it('verifies against a CA file and refuses a certificate it did not sign', async () => {
    const bmc = await bmcWith(0);
    expect(await driverFor(bmc, { tls: { caFile: certificates[0]!.certFile } }).powerGet()).toEqual({ power: 'off' });
    await expect(driverFor(bmc, { tls: { caFile: certificates[1]!.certFile } }).powerGet()).rejects.toMatchObject({ code: 'BMC_UNREACHABLE' });
  });

  it('needs a trust decision for https: no CA, no pin, no state directory is a config error', async () => {
    const bmc = await bmcWith(0);
    expect(() => driverFor(bmc, {})).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('reports insecure mode on every connection instead of silently accepting', async () => {
    const bmc = await bmcWith(0);
    const warnings: string[] = [];
    expect(await driverFor(bmc, { tls: { insecure: true }, onInsecure: (peer) => warnings.push(peer) }).powerGet()).toEqual({ power: 'off' });
    expect(warnings.length).toBeGreaterThan(0);
  });
});
