import { LightsoutError } from '../errors.js';
import type { ServerRegistration } from '../schemas/server.js';
import { CONTROL_PROTOCOL_VERSION, type InventoryMessage } from './messages.js';

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

/**
 * Splits an inventory into `inventory` frames of at most `maxFrameBytes`
 * each (the encoded JSON, in UTF-8): every part but the last carries
 * `more: true`, and the servers keep their order. One part when everything
 * fits, as a relay without `inventory-parts` expects. A single server whose
 * registration alone exceeds the budget cannot be sent at all: CONFIG_INVALID.
 *
 *   {"v":1,"type":"inventory","servers":[ S1 , S2 , … ],"more":true}
 *   └──────────── envelope ─────────────┘ └ server bytes + 1 comma each ┘
 */
export function inventoryParts(servers: readonly ServerRegistration[], maxFrameBytes: number): InventoryMessage[] {
  const envelope = utf8Length(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, type: 'inventory', servers: [], more: true }));
  const budget = maxFrameBytes - envelope;
  const parts: ServerRegistration[][] = [];
  let current: ServerRegistration[] = [];
  let used = 0;
  for (const server of servers) {
    // The comma before every server but the first: counted for all, an overestimate of one byte.
    const size = utf8Length(JSON.stringify(server)) + 1;
    if (size > budget) {
      throw new LightsoutError('CONFIG_INVALID', `server ${server.id} alone is ${size} bytes, above the control frame limit of ${maxFrameBytes}`, { hint: 'shorten its labels' });
    }
    if (used + size > budget && current.length > 0) {
      parts.push(current);
      current = [];
      used = 0;
    }
    current.push(server);
    used += size;
  }
  parts.push(current);
  return parts.map((part, index): InventoryMessage => ({ v: CONTROL_PROTOCOL_VERSION, type: 'inventory', servers: part, ...(index < parts.length - 1 ? { more: true } : {}) }));
}
