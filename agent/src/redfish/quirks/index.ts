import { omitInserted } from './omit-inserted.js';
import { patchWithoutAction } from './patch-without-action.js';
import { transferMethodStream } from './transfer-method-stream.js';
import { transferProtocolType } from './transfer-protocol-type.js';
import type { InsertAttempt, VirtualMediaQuirk, VirtualMediaQuirkName } from './types.js';

export type { InsertAttempt, VirtualMediaQuirk, VirtualMediaQuirkName } from './types.js';
export { transferProtocolOf } from './transfer-protocol-type.js';

/** Every VirtualMedia quirk, by name: one entry per vendor fallback. */
export const VIRTUAL_MEDIA_QUIRKS: Readonly<Record<VirtualMediaQuirkName, VirtualMediaQuirk>> = {
  'omit-inserted': omitInserted,
  'transfer-protocol-type': transferProtocolType,
  'transfer-method-stream': transferMethodStream,
  'patch-without-action': patchWithoutAction,
};

/**
 * Combinations tried, in order, while a BMC refuses InsertMedia with 400/415/422.
 * Bounded; the first combination that works is remembered for the BMC.
 * `patch-without-action` is not on the ladder: it is chosen when the slot has no action.
 */
export const INSERT_LADDER: readonly (readonly VirtualMediaQuirkName[])[] = [
  [],
  ['omit-inserted'],
  ['transfer-protocol-type'],
  ['omit-inserted', 'transfer-protocol-type'],
  ['transfer-protocol-type', 'transfer-method-stream'],
  ['omit-inserted', 'transfer-protocol-type', 'transfer-method-stream'],
];

export function isQuirkName(name: string): name is VirtualMediaQuirkName {
  return Object.hasOwn(VIRTUAL_MEDIA_QUIRKS, name);
}

/** The plain request (DSP2046 VirtualMedia.InsertMedia) with the named quirks applied in table order. */
export function buildInsertAttempt(imageUrl: string, quirks: readonly VirtualMediaQuirkName[]): InsertAttempt {
  let attempt: InsertAttempt = { method: 'action', body: { Image: imageUrl, Inserted: true, WriteProtected: true } };
  for (const name of Object.keys(VIRTUAL_MEDIA_QUIRKS) as VirtualMediaQuirkName[]) {
    if (quirks.includes(name)) attempt = VIRTUAL_MEDIA_QUIRKS[name].apply(attempt, imageUrl);
  }
  return attempt;
}
