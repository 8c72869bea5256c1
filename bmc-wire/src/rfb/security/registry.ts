import { LightsoutError } from '@lightsout/shared';
import { noneSecurity } from './none.js';
import { type SecurityType } from './types.js';
import { vncAuthSecurity } from './vnc-auth.js';

/** Security types the agent performs itself. Add a type: one file exporting a SecurityType, one line here. */
export const SUPPORTED_SECURITY_TYPES: readonly SecurityType[] = [noneSecurity, vncAuthSecurity];

/**
 * Types we know by number (IANA "RFB Security Types" registry and common
 * vendor extensions) but do not perform. Named so a refusal says what the
 * BMC wanted; chosen never — they only matter when nothing above is offered.
 */
export const RECOGNISED_SECURITY_TYPES: ReadonlyMap<number, string> = new Map([
  [5, 'RA2'],
  [6, 'RA2ne'],
  [16, 'Tight'],
  [17, 'Ultra'],
  [18, 'TLS'],
  [19, 'VeNCrypt'],
  [20, 'SASL'],
  [21, 'MD5 hash'],
  [22, 'xvp'],
  [30, 'Apple Remote Desktop (Diffie-Hellman)'],
  [35, 'Apple Remote Desktop'],
  [113, 'UltraVNC MS-Logon II'],
  [129, 'RA2_256'],
  [130, 'RA2ne_256'],
]);

export function securityTypeName(type: number): string {
  return SUPPORTED_SECURITY_TYPES.find((entry) => entry.type === type)?.name ?? RECOGNISED_SECURITY_TYPES.get(type) ?? `unknown type ${type}`;
}

/**
 * Picks the best type we can do from the server's offer, in the server's
 * order when preferences tie. Throws BMC_UNSUPPORTED naming every offered
 * type when there is none (e.g. an Xvnc restricted to VeNCrypt).
 */
export function chooseSecurityType(offered: readonly number[]): SecurityType {
  let best: SecurityType | undefined;
  for (const type of offered) {
    const entry = SUPPORTED_SECURITY_TYPES.find((candidate) => candidate.type === type);
    if (entry && (best === undefined || entry.preference > best.preference)) best = entry;
  }
  if (best) return best;
  const names = offered.map((type) => `${securityTypeName(type)} (${type})`);
  throw new LightsoutError('BMC_UNSUPPORTED', `RFB: the BMC offers only security types the agent cannot perform: ${names.join(', ')}`, {
    hint: `Enable None or VNC password authentication (type 2) on the BMC's VNC server; the agent supports ${SUPPORTED_SECURITY_TYPES.map((entry) => entry.name).join(' and ')}.`,
    details: { offered: [...offered] },
  });
}
