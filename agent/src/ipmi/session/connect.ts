import { LightsoutError } from '@lightsout/shared';
import { DEFAULT_SUITE_PREFERENCE, PRIVILEGE, type IpmiCrypto, type PrivilegeName } from '@lightsout/bmc-wire/ipmi';
import { nodeCrypto } from '../node-crypto.js';
import { openUdpTransport, type DatagramTransport } from '../transport.js';
import type { QuirkSettings } from '../quirks.js';
import { DEFAULT_TIMING, type SessionLogger, type SessionTiming } from './core.js';
import { RmcpPlusSession } from './rmcp-plus-session.js';
import { V15Session } from './v15-session.js';
import { defaultSuiteCache, type SuiteCache } from './suite-cache.js';

export interface IpmiSessionOptions {
  host: string;
  port?: number;
  username: string;
  password: string;
  privilege?: PrivilegeName;
  /** Cipher suites in order of preference; default [17, 3]. */
  cipherSuites?: readonly number[];
  /** `auto` tries RMCP+ and falls back to v1.5 when the BMC has no IPMI v2.0. */
  protocol?: 'auto' | 'lanplus' | 'lan';
  quirks?: QuirkSettings;
  /** BMC key Kg (hex or bytes); absent = none set. */
  kg?: Uint8Array;
  timing?: Partial<SessionTiming>;
  crypto?: IpmiCrypto;
  suiteCache?: SuiteCache;
  logger?: SessionLogger;
  /** Tests inject a transport (e.g. through a lossy proxy is done with a port instead). */
  openTransport?: (host: string, port: number) => Promise<DatagramTransport>;
}

export type IpmiSession = RmcpPlusSession | V15Session;

/** Opens an authenticated session at the requested privilege: RMCP+ when possible, else v1.5. */
export async function openIpmiSession(options: IpmiSessionOptions): Promise<IpmiSession> {
  const port = options.port ?? 623;
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const crypto = options.crypto ?? nodeCrypto;
  const privilege = PRIVILEGE[options.privilege ?? 'administrator'];
  const openTransport = options.openTransport ?? openUdpTransport;
  const protocol = options.protocol ?? 'auto';
  if (protocol !== 'lan') {
    const session = new RmcpPlusSession(await openTransport(options.host, port), {
      target: `${options.host}:${port}`,
      port,
      username: options.username,
      password: options.password,
      privilege,
      suitePreference: options.cipherSuites ?? DEFAULT_SUITE_PREFERENCE,
      quirks: options.quirks,
      kg: options.kg,
      crypto,
      timing,
      suiteCache: options.suiteCache ?? defaultSuiteCache,
      logger: options.logger,
    });
    try {
      await session.open();
      return session;
    } catch (error) {
      const noV20 = error instanceof LightsoutError && error.details?.['reason'] === 'NO_IPMI20';
      if (!noV20 || protocol === 'lanplus') throw error;
      // This address spoke RMCP+ before: one that now claims it cannot is not the same BMC, or one told to
      // say so, and a v1.5 MD5 login would hand it a hash of the password to crack offline.
      const suites = options.suiteCache ?? defaultSuiteCache;
      if (suites.get(`${options.host}:${port}`) !== undefined) {
        throw new LightsoutError('BMC_PROTOCOL_ERROR', `${options.host}:${port} spoke IPMI v2.0 (RMCP+) before and now offers only v1.5: not falling back`, {
          hint: 'check what answers at this address; restart the agent once the BMC really lost RMCP+',
          details: { reason: 'DOWNGRADE_REFUSED' },
        });
      }
    }
  }
  const session = new V15Session(await openTransport(options.host, port), { username: options.username, password: options.password, privilege, crypto, timing, logger: options.logger });
  await session.open();
  return session;
}
