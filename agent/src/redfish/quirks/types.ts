import type { JsonObject } from '../json.js';

/**
 * One vendor fallback for VirtualMedia.InsertMedia (protocol notes §4, after
 * sushy's fallbacks). Quirks rewrite the request; the ladder in index.ts says
 * in which combinations they are tried when a BMC refuses the plain request.
 */
export type VirtualMediaQuirkName = 'omit-inserted' | 'transfer-protocol-type' | 'transfer-method-stream' | 'patch-without-action';

export interface InsertAttempt {
  /** `action` = POST to the InsertMedia target; `patch` = PATCH the slot itself. */
  method: 'action' | 'patch';
  body: JsonObject;
}

export interface VirtualMediaQuirk {
  name: VirtualMediaQuirkName;
  /** Which BMCs need it, and where that is known from. */
  reason: string;
  apply(attempt: InsertAttempt, imageUrl: string): InsertAttempt;
}
