import { describe, expect, it } from 'vitest';
import { powerState } from '../commands.js';
import { startScriptedBmc } from '../../testing/ipmi-scripted-bmc.js';
import { openIpmiSession } from './connect.js';
import { RmcpPlusSession } from './rmcp-plus-session.js';
import { SuiteCache } from './suite-cache.js';

describe('an active session among hostile datagrams', () => {
  it.each([3, 17])('suite %i: refuses replays, other sessions, bad AuthCodes and garbage, and keeps working', async (suite) => {
    const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', noise: true });
    try {
      const session = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', cipherSuites: [suite], suiteCache: new SuiteCache() });
      for (let round = 0; round < 5; round++) expect(await powerState(session)).toBe('on');
      // Set Session Privilege + 5 × status, each answered with the four hostile copies around the genuine one.
      // The last replay may still be in flight when the last answer resolves.
      await expect.poll(() => session.refused.replayed, { timeout: 2000, interval: 10 }).toBeGreaterThanOrEqual(6);
      expect(session.refused.wrongSession).toBeGreaterThanOrEqual(6);
      expect(session.refused.integrity).toBeGreaterThanOrEqual(6);
      expect(session.refused.malformed).toBeGreaterThanOrEqual(6);
      expect(session.state).toBe('active');
      await session.close();
    } finally {
      await peer.close();
    }
  });
});

describe('a peer that offers only straight-password IPMI v1.5', () => {
  it('is refused before the password leaves: no v1.5 request after the capabilities, whether or not it claims RMCP+', async () => {
    for (const ipmi20 of [false, true]) {
      const requests: Array<{ command: number; authCode: Uint8Array | undefined }> = [];
      const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', offers: { md5: false, straight: true, ipmi20 }, onV15Command: (command, authCode) => requests.push({ command, authCode }) });
      try {
        const failure = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', protocol: ipmi20 ? 'lan' : 'auto', suiteCache: new SuiteCache(), timing: { handshakeAttempts: 1 } }).catch((error: unknown) => error);
        expect(failure).toMatchObject({ code: 'BMC_UNSUPPORTED', message: expect.stringContaining('straight password') });
        expect(requests).toEqual([]);
      } finally {
        await peer.close();
      }
    }
  });
});

describe('an address that spoke RMCP+ and now claims it cannot', () => {
  it('is not fallen back from to v1.5: no MD5 login hands it a hash of the password', async () => {
    const offers = { md5: true, straight: false, ipmi20: true };
    const requests: number[] = [];
    const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', offers, onV15Command: (command) => requests.push(command) });
    const suiteCache = new SuiteCache();
    try {
      const first = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', suiteCache });
      await first.close();
      offers.ipmi20 = false;
      // The cached suite is tried first and goes unanswered; the retry asks the capabilities, which claim no RMCP+.
      const failure = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', suiteCache, timing: { handshakeAttempts: 2, handshakeTimeoutMs: 100 } }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'BMC_PROTOCOL_ERROR', details: { reason: 'DOWNGRADE_REFUSED' } });
      expect(requests).toEqual([]);
    } finally {
      await peer.close();
    }
  });
});

describe('stray datagrams during the RMCP+ handshake', () => {
  it.each([3, 17])('suite %i: ignores and counts them (a late authenticated reply of an earlier session, a flagged or foreign Open Session response) and logs in', async (suite) => {
    const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', handshakeStrays: 'before-each-reply' });
    try {
      const session = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', protocol: 'lanplus', cipherSuites: [suite], suiteCache: new SuiteCache(), timing: { handshakeAttempts: 1 } });
      expect(session.state).toBe('active');
      expect(await powerState(session)).toBe('on');
      // Two authenticated strays before each of Open Session response, RAKP 2 and RAKP 4; the foreign Open Session
      // response is another session's while Open Session is awaited, and the wrong payload type while RAKP 2 and 4 are.
      expect(session.refused).toMatchObject({ integrity: 6, wrongSession: 1, unexpected: 2 });
      await session.close();
    } finally {
      await peer.close();
    }
  });

  it('ends with BMC_TIMEOUT, not BMC_AUTH_FAILED, when only strays ever arrive', async () => {
    const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', handshakeStrays: 'instead-of-replies' });
    try {
      const failure = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', protocol: 'lanplus', cipherSuites: [17], suiteCache: new SuiteCache(), timing: { handshakeAttempts: 2, handshakeTimeoutMs: 500 } }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'BMC_TIMEOUT', details: { step: 'Open Session' } });
    } finally {
      await peer.close();
    }
  });
});

describe('a BMC whose capabilities disagree about IPMI v2.0 (§22.13 byte 2 bit 7 vs byte 4 bit 1)', () => {
  // Each would have been taken for "no RMCP+": ipmitool's lanplus tries RMCP+ on bit 7 alone.
  const unclear = [
    { extendedData: true, connections: 0x00 },
    { extendedData: false, connections: 0x02 },
  ];

  it.each(unclear)('extended data %o: RMCP+ is tried and used, and nothing goes out in v1.5', async (capabilityBits) => {
    const requests: number[] = [];
    const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', capabilityBits, onV15Command: (command) => requests.push(command) });
    try {
      for (const protocol of ['auto', 'lanplus'] as const) {
        const session = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', protocol, suiteCache: new SuiteCache(), timing: { handshakeAttempts: 1 } });
        expect(session).toBeInstanceOf(RmcpPlusSession);
        expect(await powerState(session)).toBe('on');
        await session.close();
      }
      expect(requests).toEqual([]);
    } finally {
      await peer.close();
    }
  });

  it('an explicit "v1.5 connections only" (bit 7 set, byte 4 = 0x01) is still no RMCP+', async () => {
    const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', capabilityBits: { extendedData: true, connections: 0x01 } });
    try {
      const failure = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', protocol: 'lanplus', suiteCache: new SuiteCache(), timing: { handshakeAttempts: 1 } }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'BMC_UNSUPPORTED', details: { reason: 'NO_IPMI20' } });
    } finally {
      await peer.close();
    }
  });

  it('unclear and RMCP+ unanswered: v1.5 on first contact, never from an address that spoke RMCP+ before', async () => {
    const offers = { md5: true, straight: false, ipmi20: true };
    const requests: number[] = [];
    const peer = await startScriptedBmc({ username: 'admin', password: 'adminpass', offers, capabilityBits: { extendedData: true, connections: 0x00 }, onV15Command: (command) => requests.push(command) });
    const fast = { handshakeAttempts: 2, handshakeTimeoutMs: 100 };
    try {
      const suiteCache = new SuiteCache();
      await (await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', suiteCache })).close();
      offers.ipmi20 = false;
      const failure = await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', suiteCache, timing: fast }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'BMC_PROTOCOL_ERROR', details: { reason: 'DOWNGRADE_REFUSED' } });
      expect(requests).toEqual([]);
      // First contact: the scripted BMC answers no v1.5 session request, so the fallback shows as its Get Session Challenge.
      await openIpmiSession({ host: '127.0.0.1', port: peer.port, username: 'admin', password: 'adminpass', suiteCache: new SuiteCache(), timing: fast }).catch(() => undefined);
      expect(requests[0]).toBe(0x39);
    } finally {
      await peer.close();
    }
  });
});
