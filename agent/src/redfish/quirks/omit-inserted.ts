import type { VirtualMediaQuirk } from './types.js';

/** Inserted and WriteProtected default to true (DSP2046 VirtualMedia.InsertMedia), so leaving them out asks for the same thing. */
export const omitInserted: VirtualMediaQuirk = {
  name: 'omit-inserted',
  reason: 'Supermicro X11/X12 answer 400 when Inserted or WriteProtected is present (sushy: omit them when true)',
  apply(attempt) {
    const { Inserted: _inserted, WriteProtected: _writeProtected, ...body } = attempt.body;
    return { ...attempt, body };
  },
};
