import { describe, expect, it } from 'vitest';
import { powerState } from '../commands.js';
import { startScriptedBmc } from '../../testing/ipmi-scripted-bmc.js';
import { openIpmiSession } from './connect.js';
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
