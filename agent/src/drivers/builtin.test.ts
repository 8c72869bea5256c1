import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { IpmiDriver } from '../ipmi/index.js';
import { builtinDriverFactories, ipmiIdleCloseMs } from './builtin.js';

describe('the IPMI command session idle close', () => {
  it('outlasts the poll interval when that fits inside a BMC\'s 60 s session timeout, so each poll reuses the last one\'s session', () => {
    expect(ipmiIdleCloseMs(30_000)).toBe(35_000);
    expect(ipmiIdleCloseMs(45_000)).toBe(50_000);
    expect(ipmiIdleCloseMs(5_000)).toBe(20_000);
  });

  it('stays at 20 s when the interval is too long to bridge (the BMC would end the session first) or unknown', () => {
    expect(ipmiIdleCloseMs(60_000)).toBe(20_000);
    expect(ipmiIdleCloseMs(undefined)).toBe(20_000);
  });
});

describe('the IPMI driver from a server entry', () => {
  it('keeps an entry\'s lanplus (an adopted BMC): its sessions never fall back to an IPMI v1.5 login', async () => {
    const logger = pino({ level: 'silent' });
    const factories = builtinDriverFactories({ stateDir: '/nonexistent', logger });
    const endpoint = { host: '192.0.2.1', port: 623, credentials: { username: 'admin', password: 'pw' }, cipherSuite: 'auto' as const, privilege: 'administrator' as const, quirks: [] };
    const adopted = factories.ipmi!({ ...endpoint, protocol: 'lanplus' }, { serverId: 'a', logger });
    const pinned = factories.ipmi!(endpoint, { serverId: 'b', logger });
    expect(adopted).toBeInstanceOf(IpmiDriver);
    expect((adopted as IpmiDriver).connection.protocol).toBe('lanplus');
    expect((pinned as IpmiDriver).connection.protocol).toBeUndefined();
    await Promise.all([adopted.close(), pinned.close()]);
  });
});
