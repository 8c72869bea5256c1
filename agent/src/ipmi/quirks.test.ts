import { startIpmiSim, type IpmiSimLab } from '@lightsout/lab';
import { LightsoutError } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIpmiDriver, parseQuirks } from './driver.js';
import { QUIRKS, type QuirkName } from './quirks.js';
import { openIpmiSession } from './session/connect.js';
import { SuiteCache } from './session/suite-cache.js';
import { startScriptedBmc, type ScriptedBmcOptions } from '../testing/ipmi-scripted-bmc.js';

// Each quirk against a peer that needs it: fails without the switch, works with it.
const credentials = { username: 'admin', password: 'adminpass' };
const fast = { handshakeTimeoutMs: 200, handshakeAttempts: 1, requestTimeoutMs: 100, requestRetries: 2 };

async function openAgainst(bmc: Partial<ScriptedBmcOptions>, quirks: QuirkName[]): Promise<unknown> {
  const peer = await startScriptedBmc({ ...credentials, ...bmc });
  try {
    const session = await openIpmiSession({ host: '127.0.0.1', port: peer.port, ...credentials, quirks: parseQuirks(quirks), suiteCache: new SuiteCache(), timing: fast });
    await session.close();
    return 'opened';
  } catch (error) {
    return error;
  } finally {
    await peer.close();
  }
}

describe('quirk table', () => {
  it('clearNameOnlyInHash: a BMC hashing the role without bit 4', async () => {
    expect(await openAgainst({ hashRoleWithoutNameOnly: true }, [])).toMatchObject({ code: 'BMC_AUTH_FAILED' });
    expect(await openAgainst({ hashRoleWithoutNameOnly: true }, ['clearNameOnlyInHash'])).toBe('opened');
  });

  it('usernamePadding: a BMC that wants a 16-byte username field', async () => {
    expect(await openAgainst({ requirePaddedUsername: true }, [])).toMatchObject({ code: 'BMC_AUTH_FAILED' });
    expect(await openAgainst({ requirePaddedUsername: true }, ['usernamePadding'])).toBe('opened');
  });

  it('openSessionPrivilege: a BMC hashing the Open Session privilege', async () => {
    expect(await openAgainst({ hashOpenSessionPrivilege: true }, [])).toMatchObject({ code: 'BMC_AUTH_FAILED' });
    expect(await openAgainst({ hashOpenSessionPrivilege: true }, ['openSessionPrivilege'])).toBe('opened');
  });

  it('activatePayloadAux: a BMC that activates SOL only with serial alerts 0x08 (0xC8 under suite 17\'s protection bits)', async () => {
    const peer = await startScriptedBmc({ ...credentials, requireAux: 0xc8 });
    try {
      // Without it the BMC answers 0x83 to 0xC0; asking again in clear is refused.
      for (const [quirks, expected] of [[[], 'BMC_UNSUPPORTED'], [['activatePayloadAux'], 'attached']] as const) {
        const driver = createIpmiDriver({ host: '127.0.0.1', port: peer.port, credentials, quirks, timing: fast });
        const outcome = await driver.sol().attach('viewer', { mode: 'view' }, { onData: () => undefined }).then(() => 'attached', (error: LightsoutError) => error.code);
        expect(outcome).toBe(expected);
        await driver.close();
      }
    } finally {
      await peer.close();
    }
  });

  it('ignoreSolPort: a BMC (or a forward to one) naming a SOL port other than the session\'s', async () => {
    const peer = await startScriptedBmc({ ...credentials, solPort: () => 6999 });
    try {
      for (const [quirks, expected] of [[[], 'BMC_UNSUPPORTED'], [['ignoresolport'], 'attached']] as const) {
        const driver = createIpmiDriver({ host: '127.0.0.1', port: peer.port, credentials, quirks, timing: fast });
        const outcome = await driver.sol().attach('viewer', { mode: 'view' }, { onData: () => undefined }).then(() => 'attached', (error: LightsoutError) => error.code);
        expect(outcome).toBe(expected);
        await driver.close();
      }
    } finally {
      await peer.close();
    }
  });

  it('accepts FreeIPMI names and ! to disable, and refuses unknown names', () => {
    expect(parseQuirks(['opensesspriv', '!nameOnlyLookup'])).toEqual({ openSessionPrivilege: true, nameOnlyLookup: false });
    expect(() => parseQuirks(['nonsense'])).toThrow(LightsoutError);
    expect(Object.keys(QUIRKS).sort()).toEqual(['activatePayloadAux', 'clearNameOnlyInHash', 'ignoreSolPort', 'nameOnlyLookup', 'openSessionPrivilege', 'usernamePadding']);
  });
});

describe('nameOnlyLookup against ipmi_sim (OpenIPMI lanserv)', () => {
  let lab: IpmiSimLab;
  beforeAll(async () => {
    lab = await startIpmiSim({ powered: false });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('without bit 4 ipmi_sim only matches a user whose privilege equals the request', async () => {
    const open = (quirks: string[]) => openIpmiSession({ host: lab.host, port: lab.port, username: 'operator', password: 'operpass', privilege: 'operator', protocol: 'lanplus', quirks: parseQuirks(quirks), timing: fast, suiteCache: new SuiteCache() }).then(async (session) => {
      await session.close();
      return 'opened';
    }, (error: LightsoutError) => error.code);
    expect(await open([])).toBe('opened');
    const admin = (quirks: string[]) => openIpmiSession({ host: lab.host, port: lab.port, username: 'operator', password: 'operpass', privilege: 'administrator', protocol: 'lanplus', quirks: parseQuirks(quirks), timing: fast, suiteCache: new SuiteCache() }).then(async (session) => {
      await session.close();
      return 'opened';
    }, (error: LightsoutError) => error.code);
    expect(await admin(['!nameOnlyLookup'])).not.toBe('opened');
    expect(await admin([])).toBe('opened');
  });
});
