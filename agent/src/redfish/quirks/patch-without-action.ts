import type { VirtualMediaQuirk } from './types.js';

/** No InsertMedia action on the slot: set the properties directly (with If-Match, by the caller). */
export const patchWithoutAction: VirtualMediaQuirk = {
  name: 'patch-without-action',
  reason: 'Lenovo SD530 and older XCC firmware expose VirtualMedia without actions; PATCH Image/Inserted instead (sushy)',
  apply(attempt) {
    return { method: 'patch', body: { Image: attempt.body.Image, Inserted: true, WriteProtected: true } };
  },
};
