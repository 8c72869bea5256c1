import { Duplex } from 'node:stream';
import type { StreamClient } from '@lightsout/shared';
import type { StreamChain } from '../src/stream-chain.js';

/** A console session as a Node Duplex (for RFB test clients that read a stream). */
export function openSessionDuplex(chain: StreamChain, session: Parameters<StreamChain['connect']>[0]): { duplex: Duplex; client: StreamClient } {
  const holder: { client?: StreamClient } = {};
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      holder.client?.write(chunk);
      callback();
    },
    destroy(error, callback) {
      if (holder.client?.state !== 'closed') holder.client?.close();
      callback(error);
    },
  });
  const client = chain.connect(session, {
    onData: (bytes) => duplex.push(Buffer.from(bytes)),
    onClose: (code, reason) => {
      if (code === 1000) duplex.push(null);
      else duplex.destroy(new Error(`session closed ${code} ${reason}`));
    },
  });
  holder.client = client;
  return { duplex, client };
}
