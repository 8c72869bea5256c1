import type { WhoAmI } from '@lightsout/shared';
import { useEffect, useState } from 'react';
import type { RelayClient } from '../api/relay-client.js';

/**
 * Who the relay says we are: the role decides whether Administration is
 * offered (the relay still decides every call). Null until it answers, and
 * when it cannot: then nothing extra is offered.
 */
export function useWhoAmI(client: RelayClient): WhoAmI | null {
  const [me, setMe] = useState<WhoAmI | null>(null);
  useEffect(() => {
    client.me().then(setMe, () => setMe(null));
  }, [client]);
  return me;
}
