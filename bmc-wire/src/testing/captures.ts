import { readFileSync } from 'node:fs';
import { fromHex } from '../ipmi/bytes.js';

export interface CapturedDatagram {
  direction: 'to-bmc' | 'to-client';
  bytes: Uint8Array;
}

/**
 * The datagrams of real ipmitool 1.8.19 ⇄ ipmi_sim exchanges
 * (fixtures/ipmi/ipmitool-captures.json): lanplus suite 3 and lan MD5.
 */
export function ipmitoolCaptures(): { lanplus: CapturedDatagram[]; lan: CapturedDatagram[] } {
  const document = JSON.parse(readFileSync(new URL('../../fixtures/ipmi/ipmitool-captures.json', import.meta.url), 'utf8')) as Record<'lanplus' | 'lan', { datagrams: Array<{ direction: CapturedDatagram['direction']; hex: string }> }>;
  const datagrams = (capture: 'lanplus' | 'lan') => document[capture].datagrams.map(({ direction, hex }) => ({ direction, bytes: fromHex(hex) }));
  return { lanplus: datagrams('lanplus'), lan: datagrams('lan') };
}
