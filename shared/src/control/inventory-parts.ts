import { LightsoutError } from '../errors.js';
import type { ServerRegistration } from '../schemas/server.js';
import { CONTROL_PROTOCOL_VERSION, type InventoryAckMessage, type InventoryMessage } from './messages.js';

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

/**
 * Splits an inventory acknowledgement into `inventory-ack` frames of at most
 * `maxFrameBytes` each: 10,000 refused servers, each with its reason, are
 * more than one frame. Every part is a complete acknowledgement of the
 * servers it names (accepted, rejected, assigned), so an agent handles each
 * on its own, an older one too. One part when everything fits.
 */
export function inventoryAckParts(ack: InventoryAckMessage, maxFrameBytes: number): InventoryAckMessage[] {
  const envelope = utf8Length(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, type: 'inventory-ack', accepted: [], rejected: [], assigned: [] }));
  const budget = maxFrameBytes - envelope;
  const entries: Array<{ list: 'accepted' | 'rejected' | 'assigned'; item: unknown; size: number }> = [
    ...ack.accepted.map((item) => ({ list: 'accepted' as const, item, size: utf8Length(JSON.stringify(item)) + 1 })),
    ...ack.rejected.map((item) => ({ list: 'rejected' as const, item, size: utf8Length(JSON.stringify(item)) + 1 })),
    ...(ack.assigned ?? []).map((item) => ({ list: 'assigned' as const, item, size: utf8Length(JSON.stringify(item)) + 1 })),
  ];
  const parts: InventoryAckMessage[] = [];
  const fresh = (): InventoryAckMessage => ({ v: CONTROL_PROTOCOL_VERSION, type: 'inventory-ack', accepted: [], rejected: [] });
  let current = fresh();
  let used = 0;
  let empty = true;
  for (const entry of entries) {
    if (used + entry.size > budget && !empty) {
      parts.push(current);
      current = fresh();
      used = 0;
    }
    if (entry.list === 'assigned') (current.assigned ??= []).push(entry.item as NonNullable<InventoryAckMessage['assigned']>[number]);
    else if (entry.list === 'accepted') current.accepted.push(entry.item as string);
    else current.rejected.push(entry.item as InventoryAckMessage['rejected'][number]);
    used += entry.size;
    empty = false;
  }
  parts.push(current);
  return parts;
}
