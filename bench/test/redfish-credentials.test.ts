import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bmc, bmcConfig } from '@lightsout/bmcsim';
import { createRedfishDriver, type RedfishDriver } from '@lightsout/agent/redfish';
import { LightsoutError } from '@lightsout/shared';

/**
 * A wrong Redfish password never locks the BMC account: bmcsim's Redfish
 * service counts the failed password checks (as a real BMC's lockout
 * counter does) while the driver is asked again and again. After the first
 * 401 the credential gate holds logins off (1 min, doubling to 16 min),
 * the driver reports `credentials: rejected` (what the tree, the API and
 * the agent's health show), and an admin's retry lets exactly one login
 * through at once.
 */
let bmc: Bmc;
let redfishUrl: string;
beforeAll(async () => {
  bmc = new Bmc(bmcConfig('rf-01', { timings: { postMs: 10, bootMs: 10, shutdownMs: 10, cycleMs: 10 } }));
  const endpoints = await bmc.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls: undefined });
  redfishUrl = endpoints.redfishUrl;
});
afterAll(async () => {
  await bmc?.stop();
});

async function refusals(driver: RedfishDriver, times: number): Promise<LightsoutError[]> {
  const errors: LightsoutError[] = [];
  for (let attempt = 0; attempt < times; attempt += 1) {
    const error = await driver.powerGet().then(() => undefined, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(LightsoutError);
    errors.push(error as LightsoutError);
  }
  return errors;
}

describe.each(['session', 'basic'] as const)('Redfish with a wrong password (%s auth) against bmcsim', (auth) => {
  it('logs in once, then holds off: one failed login at the BMC for many requests, credentials rejected, retry on request', async () => {
    const driver = createRedfishDriver({ serverId: 'rf-01', url: redfishUrl, credentials: { username: 'admin', password: 'wrong-password' }, auth, retries: 0 });
    try {
      const before = bmc.redfish.failedLogins;
      const started = Date.now();
      const errors = await refusals(driver, 8);
      expect(errors.map((error) => error.code)).toEqual(Array(8).fill('BMC_AUTH_FAILED'));
      expect(bmc.redfish.failedLogins - before).toBe(1);
      expect(errors.slice(1).every((error) => (error.details as { credentialsRejected?: boolean }).credentialsRejected === true)).toBe(true);
      const link = driver.linkStatus();
      expect(link.credentials).toBe('rejected');
      expect(Date.parse(link.retryAt!) - started).toBeGreaterThanOrEqual(59_000);

      // an admin asks (or the configuration changed): one login at once, which fails again and doubles the hold-off
      driver.retryCredentials();
      await refusals(driver, 4);
      expect(bmc.redfish.failedLogins - before).toBe(2);
      expect(Date.parse(driver.linkStatus().retryAt!) - Date.now()).toBeGreaterThan(110_000);
    } finally {
      await driver.close();
    }
  });
});

it('a right password clears nothing it should not: the driver logs in and reports redfish', async () => {
  const driver = createRedfishDriver({ serverId: 'rf-01', url: redfishUrl, credentials: { username: 'admin', password: 'adminpass' }, retries: 0 });
  try {
    expect((await driver.powerGet()).power).toMatch(/on|off/);
    expect(driver.linkStatus()).toEqual({ protocol: 'redfish' });
  } finally {
    await driver.close();
  }
});
