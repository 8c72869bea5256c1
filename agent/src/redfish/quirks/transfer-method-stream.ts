import type { VirtualMediaQuirk } from './types.js';

export const transferMethodStream: VirtualMediaQuirk = {
  name: 'transfer-method-stream',
  reason: 'OpenBMC legacy mode and some iLO firmware require TransferMethod "Stream" (sushy retries with it)',
  apply(attempt) {
    return { ...attempt, body: { ...attempt.body, TransferMethod: 'Stream' } };
  },
};
